#!/usr/bin/env python3
"""Writes tune.jsonl and holdout.jsonl. Deterministic; run from this directory."""
import json

IMG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
TOOLS = [{"name": "search_web", "description": "Search the web", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]
TOOLS2 = [{"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
          {"name": "send_email", "parameters": {"type": "object", "properties": {"to": {"type": "string"}, "body": {"type": "string"}}}}]

PARA = ("This Agreement is entered into by and between the Parties for the purpose of establishing the terms "
        "under which the Supplier shall provide services to the Customer. The Supplier shall use commercially "
        "reasonable efforts to deliver the services described in Schedule A, and the Customer shall pay the fees "
        "set out in Schedule B within thirty days of receipt of a valid invoice. Either Party may terminate this "
        "Agreement on ninety days written notice. ")
REPORT = ("Quarterly revenue grew in every region, led by strong demand in the enterprise segment. Operating costs "
          "rose more slowly than revenue, and the company reduced its headcount in support functions while hiring "
          "engineers. Management expects the second half to be affected by currency movements and by the launch "
          "schedule of two new products. ")
STORY = ("Il était une fois un petit village au bord de la mer où vivait une vieille femme qui racontait des "
         "histoires aux enfants chaque soir, au coin du feu, pendant que le vent soufflait sur les toits. ")
LOG = ("2026-11-02T10:14:03Z INFO worker-7 processed batch id=88213 rows=5000 duration_ms=812\n"
       "2026-11-02T10:14:04Z WARN worker-3 slow query table=orders duration_ms=2210\n")


def user(text):
    return [{"role": "user", "content": text}]


def conv(*turns):
    roles = {"s": "system", "u": "user", "a": "assistant"}
    return [{"role": roles[r], "content": t} for r, t in turns]


def image(text):
    return [{"role": "user", "content": [{"type": "text", "text": text}, {"type": "image", "url": IMG}]}]


def long_doc(base, n, ask, lang="en"):
    return user((base * n) + "\n\n" + ask)


def case(cat, lang, messages, tools=None):
    req = {"messages": messages}
    if tools:
        req["tools"] = tools
    return {"category": cat, "lang": lang, "request": req}


# ---------------------------------------------------------------------------------------
# HOLDOUT: written first, before any classifier code; never used to tune rules or weights.
# ---------------------------------------------------------------------------------------
HOLDOUT = [
    # code
    case("code", "en", user("My Flask app returns 500 when I post JSON. Here's the route:\n```python\n@app.post('/items')\ndef add():\n    data = request.json\n    db.add(Item(**data))\n```")),
    case("code", "en", user("how do i undo the last git commit but keep the changes")),
    case("code", "en", user("Write a Go function that reverses a linked list in place.")),
    case("code", "en", user("Why does `SELECT COUNT(*) FROM orders GROUP BY customer_id HAVING total > 100` fail with column total does not exist?")),
    case("code", "en", user("thread 'main' panicked at 'index out of bounds: the len is 3 but the index is 5', src/main.rs:14:5 — what does this mean?")),
    case("code", "en", user("Convert this bash loop to PowerShell: for f in *.log; do gzip \"$f\"; done")),
    case("code", "es", user("¿Cómo puedo leer un archivo CSV en pandas y filtrar las filas donde la columna 'edad' es mayor que 30?")),
    case("code", "de", user("Schreib mir eine TypeScript-Funktion, die prüft, ob ein String ein gültiges Datum im ISO-Format ist.")),
    case("code", "fr", user("Pourquoi mon useEffect s'exécute-t-il deux fois en mode développement avec React 18 ?")),
    case("code", "zh", user("用 Java 写一个线程安全的单例模式，并解释为什么要用 volatile。")),
    case("code", "ja", user("Pythonでリストの重複を順番を保ったまま削除する方法を教えてください。")),
    case("code", "ru", user("Как в Kubernetes ограничить память для пода? Покажи пример yaml.")),
    case("code", "en", conv(("u", "Here's my sorting function:\n```js\nfunction sort(a){return a.sort()}\n```"), ("a", "It sorts lexicographically; numbers like 10 come before 9."), ("u", "ok so how do I fix it for numbers?"))),
    case("code", "en", conv(("s", "You are a senior backend engineer reviewing pull requests."), ("u", "Is it a problem to open a new database connection on every HTTP request?"))),
    case("code", "pt", user("Meu script em Node dá 'Cannot read properties of undefined (reading map)'. O que significa?")),
    case("code", "en", user("regex to match an email address but not ones ending in .test")),
    # reasoning
    case("reasoning", "en", user("A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball. How much does the ball cost? Explain.")),
    case("reasoning", "en", user("Prove that the sum of the first n odd numbers is n^2.")),
    case("reasoning", "en", user("Three friends split a bill. Ana pays twice what Ben pays, and Ben pays $6 more than Cleo. The bill is $78. How much does each pay?")),
    case("reasoning", "en", user("What is the probability of getting at least one six in four rolls of a fair die?")),
    case("reasoning", "en", user("Solve for x: 3x^2 - 12x + 9 = 0")),
    case("reasoning", "en", user("Five people are in a line. Alice is ahead of Bob, Carol is directly behind Dan, and Eve is last. Bob is second. Who is first?")),
    case("reasoning", "es", user("Si un tren sale a las 8:00 a 90 km/h y otro sale a las 9:00 a 120 km/h por la misma vía, ¿a qué hora lo alcanza?")),
    case("reasoning", "de", user("Beweise, dass es unendlich viele Primzahlen gibt.")),
    case("reasoning", "fr", user("Combien de façons y a-t-il de ranger 6 livres différents sur une étagère si deux livres doivent rester côte à côte ?")),
    case("reasoning", "zh", user("一个水池有两个进水管，甲管单独注满需要6小时，乙管需要4小时，两管同时开需要几小时？")),
    case("reasoning", "ru", user("Найди производную функции f(x) = x^3 · sin(x) и объясни шаги.")),
    case("reasoning", "ja", user("3人で5日かかる仕事を、5人で行うと何日かかりますか？途中の計算も示してください。")),
    case("reasoning", "en", conv(("u", "I flip a fair coin three times. What's the chance of exactly two heads?"), ("a", "3/8."), ("u", "and what about at least two heads out of five flips?"))),
    case("reasoning", "en", conv(("s", "You are a patient math tutor."), ("u", "Can you show me how to integrate x·e^x dx?"))),
    case("reasoning", "en", user("If it takes 5 machines 5 minutes to make 5 widgets, how long would it take 100 machines to make 100 widgets?")),
    # simple
    case("simple", "en", user("hey there!")),
    case("simple", "en", user("What's the capital of Australia?")),
    case("simple", "en", user("thanks a lot, that helped")),
    case("simple", "en", user("How many days are in a leap year?")),
    case("simple", "es", user("¡Hola! ¿Qué tal?")),
    case("simple", "fr", user("Merci beaucoup !")),
    case("simple", "de", user("Wie heißt die Hauptstadt von Kanada?")),
    case("simple", "zh", user("你好！")),
    case("simple", "ja", user("おはようございます")),
    case("simple", "ru", user("Спасибо!")),
    case("simple", "it", user("Come si dice 'apple' in italiano?")),
    case("simple", "en", user("Who wrote Pride and Prejudice?")),
    case("simple", "en", conv(("u", "Write me a short poem about rain."), ("a", "Soft rain on the roof..."), ("u", "lovely, thank you!"))),
    case("simple", "en", user("Convert 20 degrees Celsius to Fahrenheit")),
    case("simple", "pt", user("Bom dia!")),
    # general
    case("general", "en", user("Write a polite email to my landlord asking to fix the heating, which has been broken for a week.")),
    case("general", "en", user("What are the main causes of the French Revolution? Give a balanced overview.")),
    case("general", "en", user("I'm nervous about a job interview tomorrow for a product manager role. Any advice on how to prepare tonight?")),
    case("general", "en", user("Write a short story about a lighthouse keeper who finds a message in a bottle.")),
    case("general", "en", user("Explain how vaccines train the immune system, for a 12-year-old.")),
    case("general", "en", user("Plan a 4-day trip to Lisbon for two people who love food and museums.")),
    case("general", "es", user("Escribe un discurso breve para la boda de mi hermana, con un tono cálido y algo de humor.")),
    case("general", "de", user("Was sind die Vor- und Nachteile von Wärmepumpen im Vergleich zu Gasheizungen?")),
    case("general", "fr", user("Rédige une lettre de motivation pour un poste de chargé de communication dans une ONG.")),
    case("general", "zh", user("请帮我写一段介绍我们咖啡店的文案，突出环境安静、适合工作。")),
    case("general", "ru", user("Расскажи, чем отличается импрессионизм от экспрессионизма в живописи.")),
    case("general", "ja", user("日本の四季それぞれのおすすめの旅行先を紹介してください。")),
    case("general", "en", conv(("u", "I want to start running."), ("a", "Great! Start with run-walk intervals."), ("u", "How should I build up to a 10k over three months without getting injured?"))),
    case("general", "en", user("Summarize this: The city council voted on Tuesday to expand the bike lane network by 40 kilometers over the next two years, citing rising cycling numbers and safety concerns. Opponents argued the plan would reduce parking.")),
    case("general", "en", user("Give me ten name ideas for a sustainable clothing brand.")),
    case("general", "it", user("Scrivi una recensione entusiasta di un ristorante di pesce a Napoli.")),
    # long_document
    case("long_document", "en", long_doc(PARA, 90, "Summarize the obligations of each party and list every deadline mentioned.")),
    case("long_document", "en", long_doc(REPORT, 100, "What are the three biggest risks management mentions?")),
    case("long_document", "fr", long_doc(STORY, 140, "Résume cette histoire en cinq phrases.")),
    case("long_document", "en", long_doc(LOG, 160, "Which worker had the most slow queries, and when did they start?")),
    case("long_document", "en", conv(("s", "You answer questions about the attached document."), ("u", PARA * 85 + "\nDoes the customer have a right to terminate early?"))),
    case("long_document", "de", long_doc(REPORT, 95, "Fasse den Bericht auf Deutsch in zehn Stichpunkten zusammen.")),
    # vision
    case("vision", "en", image("What is in this picture?")),
    case("vision", "en", image("Transcribe the handwritten note in this photo.")),
    case("vision", "en", image("Is there anything wrong with this circuit diagram?")),
    case("vision", "es", image("¿Qué plato es este y cómo se prepara?")),
    case("vision", "de", image("Welche Pflanze ist das?")),
    case("vision", "en", image("Here's a screenshot of my Python error, can you fix the code?")),
    case("vision", "en", image("Solve the math problem shown in the image.")),
    case("vision", "zh", image("这张图表显示了什么趋势？")),
    # tools
    case("tools", "en", user("What's the weather in Oslo right now?"), TOOLS2),
    case("tools", "en", user("Find the latest news about the Mars mission."), TOOLS),
    case("tools", "en", user("Send an email to anna@example.com telling her the meeting moved to 3pm."), TOOLS2),
    case("tools", "en", user("hi"), TOOLS),
    case("tools", "fr", user("Quel temps fait-il à Lyon ?"), TOOLS2),
    case("tools", "en", user("Write a Python function that sorts a list, then search the web for faster algorithms."), TOOLS),
    case("tools", "en", conv(("u", "Look up the population of Chile."), ("a", "Let me check."), ("u", "and compare it with Peru")), TOOLS),
    case("tools", "ja", user("東京の今日の天気を調べて"), TOOLS2),
    # hard boundaries
    case("code", "en", user("What's the difference between a process and a thread?")),
    case("reasoning", "en", user("Is 1001 a prime number? Show your reasoning.")),
    case("simple", "en", user("What does 'ubiquitous' mean?")),
    case("general", "en", user("Write a limerick about a programmer who hates Mondays.")),
    case("code", "en", user("Explain the time complexity of binary search and why it is O(log n).")),
    case("general", "en", user("Translate to Spanish: 'We are delighted to invite you to our annual gala, which will take place on the 14th of December at the city museum. Dress code is formal.'")),
    case("simple", "en", user("Translate 'thank you' into Japanese.")),
    case("reasoning", "en", user("My salary is $4,200 a month. After 22% tax and $1,100 rent, if I save 30% of what remains, how much do I save per year?")),
]

# ---------------------------------------------------------------------------------------
# TUNE: used while writing and tuning the classifier.
# ---------------------------------------------------------------------------------------
TUNE = []
T = TUNE.append

code_en = [
    "Write a Python function to check if a string is a palindrome.",
    "How do I center a div horizontally and vertically with CSS flexbox?",
    "Fix this:\n```rust\nfn main() {\n    let v = vec![1, 2, 3];\n    let first = &v[0];\n    v.push(4);\n    println!(\"{}\", first);\n}\n```",
    "Traceback (most recent call last):\n  File \"app.py\", line 12, in <module>\n    main()\n  File \"app.py\", line 8, in main\n    x = int(value)\nValueError: invalid literal for int() with base 10: 'abc'",
    "What's the difference between `let` and `const` in JavaScript?",
    "Write a SQL query that returns the top 5 customers by total order amount in 2025.",
    "How can I find all files larger than 100MB in Linux using the terminal?",
    "Explain what this regex does: ^(?=.*[A-Z])(?=.*\\d).{8,}$",
    "Can you review my Dockerfile? FROM node:20\nCOPY . .\nRUN npm install\nCMD [\"node\", \"server.js\"]",
    "Implement a LRU cache in C++ with O(1) get and put.",
    "Exception in thread \"main\" java.lang.NullPointerException\n\tat com.shop.Cart.total(Cart.java:42)\n\tat com.shop.Main.main(Main.java:10)",
    "How do I make an HTTP request with async/await in Rust using reqwest?",
    "error[E0382]: borrow of moved value: `s` — why does Rust complain here?",
    "Write unit tests for a function add(a, b) using pytest.",
    "Convert this JSON to a TypeScript interface: {\"id\": 1, \"name\": \"x\", \"tags\": [\"a\"]}",
    "What does `git rebase -i HEAD~3` do?",
    "npm ERR! code ERESOLVE unable to resolve dependency tree — how do I fix this?",
    "Optimize this query: SELECT * FROM users WHERE lower(email) = 'a@b.com';",
    "How do I reverse a string in Go?",
    "Refactor this function to be more readable:\ndef f(x):\n  if x>0:\n    if x<10:\n      return 'small'\n    else:\n      return 'big'\n  else:\n    return 'neg'",
    "What is the best way to handle errors in async JavaScript code?",
    "Write a bash script that backs up /var/www to a tar.gz file with today's date in the name.",
    "Why is my pandas merge producing duplicate rows?",
    "Create a REST endpoint in Express that returns a list of users from MongoDB.",
    "How do I declare a generic function in Kotlin?",
    "segmentation fault (core dumped) when running my C program that uses malloc — how to debug it?",
    "Explain the difference between an abstract class and an interface in Java.",
    "kubectl get pods shows CrashLoopBackOff. What should I check?",
    "Write a function in C# that computes the Fibonacci sequence using memoization.",
    "What's a closure in Python? Show an example.",
    "my react component re-renders infinitely when I call setState inside useEffect",
    "Parse a date string like '2026-01-31' into a datetime object in Python",
    "How to set up a virtual environment with venv and install requirements.txt?",
    "Difference between `==` and `===` in JS?",
    "Write a Terraform snippet to create an S3 bucket with versioning enabled.",
    "what does the `?` operator do in rust",
    "Please write a class in PHP for a simple bank account with deposit and withdraw methods.",
    "I get 'CORS policy: No Access-Control-Allow-Origin header' in my browser console. How do I fix it on the server?",
    "How do I memoize an expensive computation in a React component?",
    "Design a database schema for a library system with books, members and loans.",
]
for t in code_en:
    T(case("code", "en", user(t)))
code_ml = [
    ("es", "Escribe una función en JavaScript que elimine los elementos duplicados de un array."),
    ("es", "¿Por qué mi consulta SQL con LEFT JOIN devuelve valores NULL?"),
    ("es", "Tengo este error en Python: KeyError: 'nombre'. ¿Qué significa?"),
    ("fr", "Comment créer une classe en Python avec un constructeur et une méthode ?"),
    ("fr", "Écris un script bash qui compte les lignes de tous les fichiers .txt d'un dossier."),
    ("fr", "Mon programme Java lève une ArrayIndexOutOfBoundsException, comment la corriger ?"),
    ("de", "Wie kann ich in Rust einen String in einen Integer umwandeln?"),
    ("de", "Schreibe eine SQL-Abfrage, die alle Kunden ohne Bestellung findet."),
    ("de", "Warum bekomme ich in Git den Fehler 'detached HEAD'?"),
    ("zh", "如何用 Python 读取一个 JSON 文件并打印所有的键？"),
    ("zh", "这段代码为什么会报错？\n```python\nprint(len(5))\n```"),
    ("zh", "请用 Go 实现一个简单的 HTTP 服务器。"),
    ("ja", "JavaScriptで配列をシャッフルする関数を書いてください。"),
    ("ja", "このエラーの原因は何ですか？ TypeError: undefined is not a function"),
    ("ja", "SQLで重複した行を削除する方法を教えて。"),
    ("ru", "Напиши функцию на Python, которая проверяет, является ли число простым."),
    ("ru", "Почему в Docker контейнер сразу завершается после запуска?"),
    ("ru", "Как отменить последний коммит в git?"),
    ("pt", "Como faço um loop em uma lista em Java usando streams?"),
    ("pt", "Escreva uma função em TypeScript que valide um CPF."),
    ("it", "Come posso ordinare un dizionario per valore in Python?"),
    ("it", "Perché il mio codice C++ dà 'undefined reference to main'?"),
    ("ko", "파이썬으로 파일을 한 줄씩 읽는 방법을 알려주세요."),
    ("nl", "Hoe maak ik een for-loop in Bash die over alle bestanden in een map gaat?"),
]
for lang, t in code_ml:
    T(case("code", lang, user(t)))
T(case("code", "en", conv(("u", "```python\ndef load(path):\n    return open(path).read()\n```"), ("a", "This works but never closes the file."), ("u", "Can you add proper error handling and use a context manager?"))))
T(case("code", "en", conv(("s", "You are an expert Rust developer."), ("u", "How do I read a file line by line?"))))
T(case("code", "en", conv(("s", "You are a helpful coding assistant."), ("u", "make it async"))))
T(case("code", "en", conv(("u", "Write a function to merge two sorted arrays in JavaScript."), ("a", "function merge(a, b) { ... }"), ("u", "now write tests for it with jest"))))
T(case("code", "en", conv(("u", "My docker build fails"), ("a", "What is the error?"), ("u", "COPY failed: file not found in build context or excluded by .dockerignore: stat app/requirements.txt"))))
T(case("code", "de", conv(("u", "Ich habe eine Java-Klasse mit 2000 Zeilen."), ("a", "Das klingt nach einem Refactoring-Kandidaten."), ("u", "Wie teile ich sie sinnvoll in kleinere Klassen auf?"))))
T(case("code", "en", conv(("s", "You are a SQL expert for PostgreSQL 16."), ("u", "I need the running total of sales per day."))))
T(case("code", "en", user("$ cargo build\nerror: linker `cc` not found\n\nwhat am I missing?")))

reason_en = [
    "If 3 apples and 2 oranges cost $3.20 and 2 apples and 3 oranges cost $3.30, what does one apple cost?",
    "Prove that the square root of 2 is irrational.",
    "What is the integral of x^2 * ln(x) dx?",
    "A car travels 150 km in 2 hours and then 90 km in 1.5 hours. What is its average speed for the whole trip?",
    "There are 12 socks in a drawer: 6 black and 6 white. How many must I take out in the dark to be sure of a matching pair?",
    "Calculate the compound interest on $5,000 at 4% per year, compounded quarterly, for 6 years.",
    "What is the expected value of the sum of two fair dice?",
    "Solve the system: 2x + 3y = 12 and x - y = 1.",
    "A farmer has chickens and cows, 30 heads and 74 legs in total. How many of each?",
    "How many ways can you choose a committee of 3 from 10 people?",
    "Knights always tell the truth and knaves always lie. A says 'B is a knave'. B says 'A and I are the same type'. What are A and B?",
    "Find the derivative of f(x) = e^(2x) * cos(x).",
    "What's the sum of all integers from 1 to 1000 that are divisible by 3 or 5?",
    "A rectangle's length is 3 times its width and its perimeter is 64 cm. Find its area.",
    "Is the series sum of 1/n^2 convergent? Prove it.",
    "You have two ropes that each take exactly one hour to burn, unevenly. How do you measure 45 minutes?",
    "A store discounts an item by 20%, then raises the new price by 20%. Is the final price higher or lower than the original, and by how much?",
    "Find all real solutions of x^4 - 5x^2 + 4 = 0.",
    "If the probability of rain on any day is 0.3, what is the probability it rains on exactly 2 of the next 5 days?",
    "Three boxes are labelled apples, oranges and mixed, all labels wrong. You may pick one fruit from one box. How do you relabel them?",
    "A pool is filled by one pipe in 3 hours and emptied by another in 5 hours. With both open, how long to fill it?",
    "Show that for any integer n, n^3 - n is divisible by 6.",
    "What is the remainder when 2^100 is divided by 7?",
    "A ladder 10 m long leans against a wall with its foot 6 m from the wall. How high does it reach?",
    "Monty Hall: should you switch doors? Explain the probability step by step.",
    "Compute the determinant of the matrix [[2, 1, 3], [0, 4, 5], [1, 0, 6]].",
    "If I double my speed, I arrive 30 minutes early on a 60 km trip. What was my original speed?",
    "What is the probability that two randomly chosen people share a birthday in a group of 23?",
    "A sequence starts 2, 6, 12, 20, 30. What is the 10th term and the general formula?",
    "Evaluate the limit of (sin x)/x as x approaches 0 and justify it.",
    "I have 8 balls, one heavier. With a balance scale, what is the minimum number of weighings to find it?",
    "Population grows 3% per year from 50,000. After how many years will it exceed 100,000?",
]
for t in reason_en:
    T(case("reasoning", "en", user(t)))
reason_ml = [
    ("es", "Demuestra que la suma de los ángulos de un triángulo es 180 grados."),
    ("es", "Si 5 obreros construyen un muro en 12 días, ¿cuántos días tardarán 8 obreros?"),
    ("es", "Resuelve la ecuación 2x^2 + 5x - 3 = 0 paso a paso."),
    ("fr", "Calcule la probabilité d'obtenir deux as en tirant deux cartes d'un jeu de 52 cartes."),
    ("fr", "Démontre que la racine carrée de 3 est irrationnelle."),
    ("fr", "Un cycliste roule à 20 km/h à l'aller et 30 km/h au retour. Quelle est sa vitesse moyenne ?"),
    ("de", "Wie viele Möglichkeiten gibt es, 8 Personen an einen runden Tisch zu setzen?"),
    ("de", "Berechne das Integral von 0 bis 1 von x·e^x dx."),
    ("de", "Ein Preis steigt um 10 % und fällt dann um 10 %. Wie hoch ist die Gesamtänderung?"),
    ("zh", "证明：任意两个奇数之和是偶数。"),
    ("zh", "鸡兔同笼，共有35个头，94只脚，鸡和兔各有多少只？"),
    ("zh", "求函数 f(x)=x^2-4x+3 的最小值。"),
    ("ja", "1から100までの整数のうち、3でも5でも割り切れない数はいくつありますか？"),
    ("ja", "サイコロを2回振って、出た目の和が7になる確率を求めよ。"),
    ("ru", "Докажи, что произведение двух последовательных чисел всегда чётно."),
    ("ru", "Сколько существует трёхзначных чисел, у которых все цифры разные?"),
    ("ru", "Поезд прошёл 360 км за 4 часа. С какой скоростью он должен ехать, чтобы пройти это расстояние на час быстрее?"),
    ("pt", "Quantos anagramas tem a palavra BANANA?"),
    ("it", "Risolvi il sistema: x + y = 10, x - y = 4."),
    ("ko", "2의 10제곱을 7로 나눈 나머지를 구하세요."),
]
for lang, t in reason_ml:
    T(case("reasoning", lang, user(t)))
T(case("reasoning", "en", conv(("u", "A jar has 4 red and 6 blue marbles. I draw 2 without replacement. Probability both red?"), ("a", "2/15."), ("u", "And the probability they are different colours?"))))
T(case("reasoning", "en", conv(("s", "You are a math olympiad coach."), ("u", "Give me the solution to: find all n such that n^2 + n + 41 is not prime."))))
T(case("reasoning", "en", conv(("u", "Let's do some logic puzzles."), ("a", "Sure! Here's one..."), ("u", "Next: four people must cross a bridge at night with one torch; they take 1, 2, 5 and 10 minutes. What's the fastest time?"))))
T(case("reasoning", "fr", conv(("s", "Tu es un professeur de mathématiques."), ("u", "Comment résoudre une équation du second degré avec le discriminant ?"))))
T(case("reasoning", "en", user("step by step: if a shirt costs $25 after a 37.5% discount, what was the original price?")))

simple_items = [
    ("en", "hi"), ("en", "Hello!"), ("en", "good morning :)"), ("en", "thanks"), ("en", "Thank you so much!"),
    ("en", "ok cool"), ("en", "What is the capital of Japan?"), ("en", "Who painted the Mona Lisa?"),
    ("en", "How many continents are there?"), ("en", "What year did World War II end?"),
    ("en", "What's the boiling point of water in Fahrenheit?"), ("en", "Define 'ephemeral'."),
    ("en", "What is the plural of 'cactus'?"), ("en", "Is a tomato a fruit?"), ("en", "How many ounces in a pound?"),
    ("en", "What's the tallest mountain in the world?"), ("en", "bye!"), ("en", "How are you today?"),
    ("en", "Translate 'cat' to French."), ("en", "What's the chemical symbol for gold?"),
    ("en", "Spell 'necessary' for me"), ("en", "What time zone is London in?"), ("en", "who is the author of 1984"),
    ("en", "What language is spoken in Brazil?"), ("en", "How many legs does a spider have?"),
    ("en", "What's 15 + 27?"), ("en", "great, thanks!"), ("en", "Good night"),
    ("es", "Hola"), ("es", "¿Cuál es la capital de Perú?"), ("es", "Gracias por tu ayuda"), ("es", "Buenas noches"),
    ("fr", "Bonjour !"), ("fr", "Quelle est la capitale de l'Italie ?"), ("fr", "Salut, ça va ?"),
    ("de", "Hallo!"), ("de", "Danke schön"), ("de", "Wer hat Faust geschrieben?"),
    ("zh", "谢谢"), ("zh", "中国的首都是哪里？"), ("zh", "早上好"),
    ("ja", "こんにちは"), ("ja", "ありがとう！"), ("ja", "日本で一番高い山は何ですか？"),
    ("ru", "Привет!"), ("ru", "Какая столица Франции?"), ("ru", "Доброе утро"),
    ("pt", "Olá, tudo bem?"), ("pt", "Obrigado!"), ("it", "Ciao!"), ("it", "Grazie mille"),
    ("ko", "안녕하세요"), ("nl", "Dank je wel!"), ("tr", "Merhaba"), ("ar", "مرحبا"), ("hi", "नमस्ते"),
]
for lang, t in simple_items:
    T(case("simple", lang, user(t)))
T(case("simple", "en", conv(("u", "Explain photosynthesis."), ("a", "Plants convert light into chemical energy..."), ("u", "thanks!"))))
T(case("simple", "en", conv(("s", "You are a friendly assistant."), ("u", "hello"))))
T(case("simple", "en", conv(("u", "Write a function to add two numbers in Python"), ("a", "def add(a, b): return a + b"), ("u", "perfect, thanks"))))
T(case("simple", "de", conv(("u", "Erkläre mir die Relativitätstheorie."), ("a", "..."), ("u", "Danke!"))))
T(case("simple", "en", user("What does CPU stand for?")))

general_en = [
    "Write a cover letter for a junior marketing position at a tech startup.",
    "What are some tips for improving sleep quality?",
    "Explain the causes and effects of inflation in simple terms.",
    "Write a poem about the ocean at night.",
    "Help me plan a birthday party for my 8-year-old daughter.",
    "What's the difference between a virus and a bacterium?",
    "Give me a weekly meal plan for a vegetarian trying to eat more protein.",
    "Summarize the plot of Hamlet in a paragraph.",
    "Write a LinkedIn post announcing that I've started a new job as a nurse.",
    "How does the electoral college work in the United States?",
    "I had an argument with my best friend. How can I apologize sincerely?",
    "Describe the water cycle.",
    "Write a product description for handmade ceramic mugs.",
    "What should I consider when buying a used car?",
    "Create a workout routine for beginners at home with no equipment.",
    "Explain the theory of evolution by natural selection.",
    "Write a bedtime story about a dragon who is afraid of the dark.",
    "What are the pros and cons of remote work?",
    "Draft a complaint letter to an airline about lost luggage.",
    "How did the Roman Empire fall?",
    "Give me ideas for a team-building activity for 20 people.",
    "Rewrite this sentence to sound more professional: 'hey, we kinda messed up the order, sorry'.",
    "What are good strategies for learning a new language as an adult?",
    "Write a speech for a retirement party for a colleague who worked 30 years at the company.",
    "Explain what climate change is and why it matters.",
    "Compare Stoicism and Epicureanism.",
    "Write a haiku about coffee.",
    "How can I be more productive when working from home?",
    "Describe the main features of Gothic architecture.",
    "Write an Instagram caption for a photo of a sunset at the beach.",
    "What is the role of the mitochondria in a cell? Explain in detail.",
    "Suggest five books for someone who loved The Name of the Wind.",
    "How should I negotiate a higher salary?",
    "Write a thank-you note to my child's teacher at the end of the school year.",
    "Explain the difference between weather and climate.",
]
for t in general_en:
    T(case("general", "en", user(t)))
general_ml = [
    ("es", "Escribe un correo para pedir un día libre a mi jefe."),
    ("es", "¿Cuáles son los beneficios de la meditación?"),
    ("es", "Explica la historia de la Guerra Civil española de forma resumida."),
    ("fr", "Écris un poème sur l'automne à Paris."),
    ("fr", "Quels sont les avantages du télétravail pour les entreprises ?"),
    ("fr", "Donne-moi des idées de cadeaux pour l'anniversaire de ma mère."),
    ("de", "Schreibe eine kurze Geschichte über einen Hund, der verloren geht."),
    ("de", "Erkläre mir den Unterschied zwischen Demokratie und Republik."),
    ("de", "Wie kann ich mich besser auf Prüfungen vorbereiten?"),
    ("zh", "写一首关于春天的诗。"),
    ("zh", "介绍一下中国的四大发明。"),
    ("zh", "如何提高自己的时间管理能力？"),
    ("ja", "自己紹介の文章を書いてください。新しい職場で使います。"),
    ("ja", "日本の伝統的なお正月の過ごし方を説明してください。"),
    ("ru", "Напиши поздравление с днём рождения для коллеги."),
    ("ru", "Объясни, почему небо голубое, простыми словами для ребёнка."),
    ("pt", "Escreva uma mensagem de agradecimento para um cliente."),
    ("pt", "Quais são as principais atrações turísticas do Rio de Janeiro?"),
    ("it", "Scrivi una breve storia d'amore ambientata a Venezia."),
    ("ko", "서울에서 가볼 만한 곳을 추천해 주세요."),
]
for lang, t in general_ml:
    T(case("general", lang, user(t)))
T(case("general", "en", conv(("u", "I'm planning a trip to Japan."), ("a", "Wonderful! When are you going?"), ("u", "In April, for two weeks. What itinerary would you suggest?"))))
T(case("general", "en", conv(("s", "You are a career coach."), ("u", "I feel stuck in my job as an accountant. What options do I have?"))))
T(case("general", "en", conv(("u", "Write a poem about cats."), ("a", "Soft paws upon the windowsill..."), ("u", "Now make it rhyme and add a verse about dogs."))))
T(case("general", "es", conv(("s", "Eres un asistente de escritura."), ("u", "Ayúdame a mejorar este párrafo: El proyecto fue muy bueno y todos trabajaron mucho y al final salió bien."))))
T(case("general", "en", user("Summarize: Researchers found that people who walked at least 7,000 steps a day had a lower risk of early death than those who walked fewer. The benefit levelled off above 10,000 steps.")))

for base, n, ask, lang in [
    (PARA, 80, "List every obligation of the Supplier.", "en"),
    (PARA, 120, "Is there any clause about liability? Quote it.", "en"),
    (REPORT, 90, "Summarize this report in five bullet points.", "en"),
    (REPORT, 150, "What happened to operating costs?", "en"),
    (STORY, 120, "Quels sont les personnages principaux ?", "fr"),
    (STORY, 200, "Summarize this story in English.", "fr"),
    (LOG, 130, "Find every warning and group them by worker.", "en"),
    (LOG, 200, "What is the average batch duration?", "en"),
    (PARA + REPORT, 60, "Resume el documento en español.", "es"),
    (REPORT, 110, "把这份报告总结成三段。", "zh"),
    (PARA, 100, "この契約の要点を日本語でまとめてください。", "ja"),
    (REPORT, 85, "Сделай краткое резюме этого отчёта.", "ru"),
]:
    T(case("long_document", lang, long_doc(base, n, ask)))
T(case("long_document", "en", conv(("s", "You are a legal assistant."), ("u", PARA * 95), ("a", "I have read the agreement."), ("u", "What are the payment terms?"))))
T(case("long_document", "en", user("Here is the transcript of our meeting:\n" + ("Speaker 1: We need to finalize the budget by Friday. Speaker 2: I'll send the numbers tomorrow. " * 260) + "\nWhat action items were agreed?")))

for lang, t in [("en", "What breed is this dog?"), ("en", "Describe this image in detail."), ("en", "What does the sign say?"),
                ("en", "Can you read the numbers on this receipt and total them?"), ("en", "Is this mole something I should worry about?"),
                ("en", "What's wrong with my code in this screenshot?"), ("en", "Turn this whiteboard sketch into a list of tasks."),
                ("es", "¿Qué ves en esta imagen?"), ("fr", "Que représente ce tableau ?"), ("de", "Was steht auf diesem Schild?"),
                ("zh", "这张照片是在哪里拍的？"), ("ja", "この写真の料理は何ですか？"), ("ru", "Что изображено на картинке?"),
                ("en", "hi"), ("en", "Compare these two charts and tell me which quarter grew fastest."),
                ("en", "Solve the equation written on this page step by step.")]:
    T(case("vision", lang, image(t)))
T(case("vision", "en", conv(("u", "I'll send you a photo of my plant."), ("a", "Sure, go ahead."))+image("Here it is. Why are the leaves yellow?")))
T(case("vision", "en", image("Use the chart to answer: which product sold best?") , None))

for lang, t, tools in [
    ("en", "What's the weather in Paris?", TOOLS2), ("en", "Search for the best pizza in Naples.", TOOLS),
    ("en", "Email my boss that I'm sick today.", TOOLS2), ("en", "Look up the current price of Bitcoin.", TOOLS),
    ("en", "hello", TOOLS), ("en", "Prove that sqrt(2) is irrational.", TOOLS),
    ("en", "Write a Python script to parse a CSV.", TOOLS), ("en", "Who won the last World Cup? Check online.", TOOLS),
    ("es", "¿Qué tiempo hace en Madrid?", TOOLS2), ("fr", "Envoie un e-mail à Paul pour confirmer le rendez-vous.", TOOLS2),
    ("de", "Suche nach Nachrichten über Elektroautos.", TOOLS), ("zh", "帮我查一下北京的天气。", TOOLS2),
    ("ja", "最新のニュースを検索して", TOOLS), ("ru", "Какая погода в Москве?", TOOLS2),
    ("en", "Plan my day: check the weather in Boston and email the team if it rains.", TOOLS2),
    ("en", "thanks", TOOLS2),
]:
    T(case("tools", lang, user(t), tools))
T(case("tools", "en", conv(("s", "You are an assistant with web access."), ("u", "What's new in AI this week?")), TOOLS))
T(case("tools", "en", conv(("u", "What's the weather in Rome?"), ("a", "It's 18C and sunny."), ("u", "And in Milan?")), TOOLS2))

# Boundary cases (tune).
for cat, lang, t in [
    ("code", "en", "What is the difference between TCP and UDP sockets when writing a server?"),
    ("code", "en", "Explain Big-O notation with code examples."),
    ("code", "en", "What's the time complexity of this loop? for i in range(n): for j in range(i): pass"),
    ("reasoning", "en", "How many trailing zeros does 100! have? Explain."),
    ("reasoning", "en", "Is 561 prime? Show the steps."),
    ("simple", "en", "What is 7 times 8?"),
    ("simple", "en", "What does HTTP stand for?"),
    ("simple", "en", "Translate 'good luck' into German."),
    ("general", "en", "Translate this paragraph into French: 'Our company is committed to reducing its carbon footprint. Over the next five years we will switch to renewable energy and cut business travel by half.'"),
    ("general", "en", "Write a funny poem about debugging code at 3am."),
    ("general", "en", "Explain how a bill becomes law in the UK."),
    ("reasoning", "en", "I earn $52,000 a year and get a 4% raise each year. What will I earn after 5 years, and what is the total earned over those 5 years?"),
    ("code", "en", "In Excel, how do I write a formula that looks up a value in another sheet?"),
    ("simple", "en", "Who is the current Secretary-General of the UN?"),
    ("general", "en", "Should I learn piano or guitar first? I'm 35 and have never played."),
    ("code", "en", "What's the best way to structure a monorepo with several Python packages?"),
]:
    T(case(cat, lang, user(t)))


def write(path, cases, prefix):
    with open(path, "w", encoding="utf-8") as f:
        for i, c in enumerate(cases):
            c = {"id": f"{prefix}-{i:03d}", **c}
            f.write(json.dumps(c, ensure_ascii=False) + "\n")


write("holdout.jsonl", HOLDOUT, "h")
write("tune.jsonl", TUNE, "t")
if __name__ == "__main__":
    from collections import Counter
    print("holdout", len(HOLDOUT), dict(Counter(c["category"] for c in HOLDOUT)))
    print("tune", len(TUNE), dict(Counter(c["category"] for c in TUNE)))
