#!/usr/bin/env python3
"""Paired A/B of gateway builds on this machine: the builds (and the bare proxy) take turns,
so a change is judged against the machine's state at the same moment.

    bench/ab.py rps  A B [...]   # req/s and CPU µs a request at --conns (default 64)
    bench/ab.py ttfb A B [...]   # stream time to first byte, 100 streams by 10 clients a round
    bench/ab.py rss  A B [...]   # peak RSS with 1,000 streams, a fresh process a round

A and B are `neureus` binaries (copy target/release/neureus aside before rebuilding). The
mock, the bare proxy and the load tools are this checkout's release builds (`cargo build
--release -p neureus-bench`). Every gateway runs at the default log level (`info`). CPU a
request is read from /proc/PID/task/*/schedstat around each round (all the process's threads).
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as b  # noqa: E402  (the load benchmark's helpers)


def cpu_ns(pid):
    return sum(int((t / "schedstat").read_text().split()[0]) for t in Path(f"/proc/{pid}/task").iterdir())


def gateway(binary, upstream):
    """`run.setup_gateway` for `binary`; returns (proc, chat URL, key)."""
    p, url, key, _ = b.setup_gateway(upstream, binary)
    return p, f"{url}/ai/chat", key


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("rps", "ttfb", "rss"))
    ap.add_argument("builds", nargs="+")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--seconds", type=int, default=5)
    a = ap.parse_args()
    names = [f"{i}:{Path(x).name}" for i, x in enumerate(a.builds)]
    try:
        _, mock_url, _ = b.start([str(b.REL / "fastmock"), "--chunks", str(b.STREAM_CHUNKS), "--gap-ms", str(b.STREAM_GAP_MS)], core=0)
        if a.mode == "rss":
            for r in range(a.rounds):
                for name, binary in zip(names, a.builds):
                    p, url, key = gateway(binary, mock_url)
                    b.wrk(url, b.CHAT_OPENAI, key, 16, 2)
                    s = b.streamload(url, b.STREAM_GATEWAY, key, 1000, ramp_ms=b.RAMP_MS)
                    print(f"round {r} {name}: peak RSS {b.peak_rss_mb(p.pid):.1f} MB, stalled {s['stalled']}", flush=True)
                    p.terminate()
                    p.wait(timeout=30)
            return
        bare, bare_url, _ = b.start([str(b.REL / "bareproxy"), "--upstream", mock_url], core=1)
        arms = {"bare": (bare, f"{bare_url}/v1/chat/completions", None)}
        for name, binary in zip(names, a.builds):
            arms[name] = gateway(binary, mock_url)
        for p, url, key in arms.values():
            b.wrk(url, b.CHAT_OPENAI, key, 16, 2)
        seen = {n: [] for n in arms}
        for r in range(a.rounds):
            order = list(arms) if r % 2 == 0 else list(arms)[::-1]
            parts = []
            for n in order:
                p, url, key = arms[n]
                if a.mode == "rps":
                    c0 = cpu_ns(p.pid)
                    w = b.wrk(url, b.CHAT_OPENAI, key, a.conns, a.seconds)
                    cpu_us = (cpu_ns(p.pid) - c0) / (w["rps"] * a.seconds) / 1000
                    seen[n].append((w["rps"], cpu_us))
                    parts.append(f"{n} {w['rps']:.0f} req/s {cpu_us:.1f} µs/req")
                else:
                    body = b.STREAM_OPENAI if n == "bare" else b.STREAM_GATEWAY
                    s = b.streamload(url, body, key, 100, concurrency=10, keepalive=True)
                    seen[n].append((s["ttfb_ms"]["p50"],))
                    parts.append(f"{n} TTFB p50 {s['ttfb_ms']['p50']:.3f} ms")
            print(f"round {r}: " + " | ".join(parts), flush=True)
        base = seen["bare"]
        for n in names:
            if a.mode == "rps":
                print(f"{n}: mean {statistics.mean(x[0] for x in seen[n]):.0f} req/s, {statistics.mean(x[1] for x in seen[n]):.2f} µs/req; "
                      f"ratio to the bare proxy per round {[round(x[0] / y[0], 3) for x, y in zip(seen[n], base)]}")
            else:
                d = [x[0] - y[0] for x, y in zip(seen[n], base)]
                print(f"{n}: TTFB p50 minus the bare proxy's, per round {[round(x, 3) for x in d]}, median {statistics.median(d):+.3f} ms")
    finally:
        b.stop_all()


if __name__ == "__main__":
    main()
