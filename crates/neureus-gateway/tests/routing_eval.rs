//! The routing evaluation (eval/routing): per-category accuracy and a confusion matrix for
//! the tuning part and, separately, the held-out part. Fails below 90% overall.

#![expect(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "test helpers outside #[test] functions may fail loudly"
)]

use std::collections::BTreeMap;

use neureus_gateway::routing::{classify, Category};
use neureus_types::ChatRequest;
use serde_json::Value;

fn load(name: &str) -> Vec<(String, Category, ChatRequest)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../eval/routing")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            let mut r = v["request"].clone();
            r["model"] = Value::from("auto");
            let req: ChatRequest = serde_json::from_value(r).unwrap();
            let cat = Category::parse(v["category"].as_str().unwrap()).unwrap();
            (v["id"].as_str().unwrap().to_owned(), cat, req)
        })
        .collect()
}

/// Prints the report; returns (correct, total).
fn report(name: &str, cases: &[(String, Category, ChatRequest)]) -> (usize, usize) {
    let mut matrix: BTreeMap<(Category, Category), usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    for (id, want, req) in cases {
        let got = classify(req);
        *matrix.entry((*want, got.category)).or_default() += 1;
        if got.category != *want {
            wrong.push(format!(
                "  {id}: want {} got {} ({})",
                want.as_str(),
                got.category.as_str(),
                got.reason
            ));
        }
    }
    let correct: usize = Category::ALL
        .iter()
        .map(|c| matrix.get(&(*c, *c)).copied().unwrap_or(0))
        .sum();
    println!(
        "\n== {name}: {correct}/{} = {:.1}%",
        cases.len(),
        100.0 * correct as f64 / cases.len() as f64
    );
    print!("{:>14}", "want \\ got");
    for c in Category::ALL {
        print!("{:>9}", &c.as_str()[..c.as_str().len().min(8)]);
    }
    println!("{:>9}", "acc");
    for want in Category::ALL {
        let row: Vec<usize> = Category::ALL
            .iter()
            .map(|got| matrix.get(&(want, *got)).copied().unwrap_or(0))
            .collect();
        let n: usize = row.iter().sum();
        print!("{:>14}", want.as_str());
        for v in &row {
            print!("{v:>9}");
        }
        let ok = matrix.get(&(want, want)).copied().unwrap_or(0);
        println!(
            "{:>8.1}%",
            if n == 0 {
                0.0
            } else {
                100.0 * ok as f64 / n as f64
            }
        );
    }
    for w in &wrong {
        println!("{w}");
    }
    (correct, cases.len())
}

#[test]
fn routing_accuracy_at_least_90_percent() {
    let tune = load("tune.jsonl");
    let holdout = load("holdout.jsonl");
    assert!(tune.len() + holdout.len() >= 350);
    let (a, b) = report("tune (used for tuning)", &tune);
    let (c, d) = report("holdout (never used for tuning)", &holdout);
    let overall = 100.0 * (a + c) as f64 / (b + d) as f64;
    println!("\n== overall: {}/{} = {overall:.1}%", a + c, b + d);
    assert!(
        overall >= 90.0,
        "overall accuracy {overall:.1}% is below 90%"
    );
}
