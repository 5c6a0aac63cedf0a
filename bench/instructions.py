#!/usr/bin/env python3
"""Instructions per request, bare proxy against gateway, counted by callgrind.

Wall-clock figures on a shared 2-core VM move by tens of percent between runs; callgrind
counts the instructions a process executes, which for the same binary and inputs repeat to
within about 1%, whatever else the machine is doing. A change worth 2% of a request's CPU is
lost in `run.py`'s noise and plain here. User space only: the kernel's share (the socket
calls, about the same for both targets) is not counted, so the ratio here is larger than the
ratio of CPU time.

Each target runs under `valgrind --tool=callgrind` with instrumentation off while it starts
and warms up; then it is switched on for exactly --requests requests (4 kept-alive
connections from a client here that stops when the last answer is in), switched off two
seconds later (the last log batch), and the counts are dumped. The mock runs natively.

The gateway's log writer writes batches of exactly 250 records ([logs] batch_size, with a
batch window longer than the run): under valgrind the gateway serves ~50 requests a second,
and with the default 50 ms window a batch would hold one or two records, where under real
load (thousands a second) it holds hundreds, so the per-batch cost (commit, WAL frames)
would be counted against every record; and a window would make the batch sizes, hence the
count, depend on the machine's speed. With --requests a multiple of 250, the counted run
writes exactly that many records, whatever the warm-up left in the queue.

    apt-get install -y valgrind
    bench/instructions.py                 # ~2 minutes after the build
"""

import argparse
import http.client
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as b  # noqa: E402  (the load benchmark's helpers: start, build, paths)

def post(url, body, auth, requests, conns=4):
    """Sends exactly `requests` POSTs over `conns` kept-alive connections and returns when the
    last answer is in (so the counted window holds only them); returns {requests, errors}."""
    u = urllib.parse.urlsplit(url)
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {auth}"} if auth else {})}
    tickets = itertools.count()
    done = {"requests": 0, "errors": 0}
    lock = threading.Lock()

    def client():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        try:
            while next(tickets) < requests:
                conn.request("POST", u.path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                with lock:
                    done["requests"] += 1
                    done["errors"] += resp.status != 200
        except OSError:
            with lock:
                done["errors"] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done


def measure(name, cmd, env, path, auth, requests, outdir):
    """Runs `cmd` under callgrind; returns instructions per request over `requests` requests."""
    out = outdir / f"callgrind.{name}"
    for old in outdir.glob(f"callgrind.{name}*"):
        old.unlink()
    vg = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"] + cmd
    p, url, _ = b.start(vg, env=env, core=1, ready=r"listening on (http://\S+)", timeout=300)
    target = url + path
    # Warm-up, not counted: two full log batches, so that the writer has prepared its
    # statements (until stop 24 the warm-up was 200 requests, no batch, and the first counted
    # batch prepared them: ~3.7M instructions, ~1.9k a request of 2,000, paid once per process).
    post(target, b.CHAT_OPENAI, auth, 500)
    time.sleep(1)
    subprocess.run(["callgrind_control", "-i", "on", str(p.pid)], check=True, capture_output=True)
    r = post(target, b.CHAT_OPENAI, auth, requests)
    time.sleep(2)  # the last full batch of log records is being written (idle: ~0.1% counted)
    subprocess.run(["callgrind_control", "-i", "off", str(p.pid)], check=True, capture_output=True)
    subprocess.run(["callgrind_control", "-d", str(p.pid)], check=True, capture_output=True)
    p.terminate()
    p.wait(timeout=60)
    total = 0
    for f in outdir.glob(f"callgrind.{name}*"):
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):
                total += int(line.split()[1])
    if r["requests"] != requests or r["errors"]:
        raise SystemExit(f"{name}: the counted run failed: {r}")
    return {"requests": r["requests"], "instructions": total, "per_request": round(total / r["requests"])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000, help="a multiple of 250 (the log batch size)")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--gateway", default=str(b.REL / "neureus"), help="the neureus binary to measure (A/B of two builds)")
    ap.add_argument("--out", default=str(b.ROOT / "bench" / "out"))
    ap.add_argument("--rust-log", default="warn",
                    help="the gateway's RUST_LOG; `info` is the default of a deployment that sets none")
    a = ap.parse_args()
    if a.requests <= 0 or a.requests % 250:
        raise SystemExit("--requests must be a positive multiple of 250 (the log batch size)")
    for tool in ("valgrind", "callgrind_control"):
        if not subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).stdout:
            raise SystemExit(f"{tool} is required: apt-get install -y valgrind")
    if not a.no_build:
        b.build()
    outdir = Path(a.out)
    outdir.mkdir(parents=True, exist_ok=True)
    results = {}
    try:
        _, mock_url, _ = b.start([str(b.REL / "fastmock")], core=0)
        results["bare_proxy"] = measure("bare", [str(b.REL / "bareproxy"), "--upstream", mock_url], None,
                                        "/v1/chat/completions", None, a.requests, outdir)
        print(f"bare proxy  {results['bare_proxy']['per_request']:>9,} instructions per request", flush=True)
        data = Path(tempfile.mkdtemp(prefix="bench-cg-"))
        conf = data / "neureus.toml"
        conf.write_text("[logs]\nbatch_size = 250\nflush_interval_ms = 3600000\n")
        env = {"NEUREUS_DATA_DIR": str(data), "NEUREUS_OPENAI_BASE_URL": f"{mock_url}/v1",
               "NEUREUS_OPENAI_API_KEY": "sk-bench", "RUST_LOG": a.rust_log}
        created = subprocess.run([a.gateway, "tenants", "create", "bench", "--json"], capture_output=True,
                                 text=True, env={**os.environ, **env}, check=True).stdout
        key = json.loads(created)["apiKey"]
        results["gateway"] = measure("gateway", [a.gateway, "--config", str(conf), "serve", "--listen", "127.0.0.1:0"],
                                     env, "/ai/chat", key, a.requests, outdir)
        print(f"gateway     {results['gateway']['per_request']:>9,} instructions per request", flush=True)
    finally:
        b.stop_all()
    results["ratio"] = round(results["gateway"]["per_request"] / results["bare_proxy"]["per_request"], 2)
    print(f"gateway / bare proxy: {results['ratio']}x (user-space instructions; files in {outdir})")
    (outdir / "instructions.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
