"""Run Jol's benchmarks: the engine alone, then the conversation API on SQLite; print a summary.

    .venv/bin/python bench/run.py            # the full run (~1 min)
    .venv/bin/python bench/run.py --quick    # a short smoke run (~20 s)

It reports; it is not a test: the exit code is 0 whether or not the bars are met (non-zero only
when the benchmark itself fails). Figures also go to bench/results/last.json (not committed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import api_bench
import engine_bench
from walks import CONTENT_DIR

RESULTS = Path(__file__).resolve().parent / "results"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run, for a smoke test")
    parser.add_argument(
        "--workers",
        type=int,
        default=api_bench.WORKERS,
        help=f"uvicorn worker processes per API server (default {api_bench.WORKERS}, the CPUs)",
    )
    parser.add_argument(
        "--content",
        type=Path,
        default=CONTENT_DIR,
        help=f"content directory (default {CONTENT_DIR})",
    )
    args = parser.parse_args()
    if args.quick:
        steps, warmup_steps, duration, warmup = 3_000, 500, 3.0, 1.0
    else:
        steps, warmup_steps, duration, warmup = 20_000, 2_000, 10.0, 3.0

    load1, load5, _ = os.getloadavg()
    print(
        f"Jol benchmarks{' (quick)' if args.quick else ''}: Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {load1:.2f} / {load5:.2f} (1 / 5 min)\n"
    )
    started = time.monotonic()
    print("== 1. dialogue engine, in-process ==")
    engine = engine_bench.run(steps, warmup_steps, args.content)
    print("\n== 2. conversation API on SQLite, over HTTP on 127.0.0.1 ==")
    api = api_bench.run(duration, warmup, content_dir=args.content, workers=args.workers)
    jol, bare = api["jol_rate"], api["bare_rate"]
    jol_max, bare_max = api["jol_saturation"], api["bare_saturation"]

    rows: list[tuple[str, str, str, str]] = [
        (
            "engine step() p50 / p99",
            f"{engine['p50_us']:.0f} / {engine['p99_us']:.0f} µs",
            "p99 < 1 ms",
            verdict(engine["pass"]),
        ),
        (
            "  without free-text turns p50 / p99",
            f"{engine['dialogue_p50_us']:.0f} / {engine['dialogue_p99_us']:.0f} µs",
            "p99 < 1 ms",
            verdict(engine["dialogue_pass"]),
        ),
        ("engine steps/s (1 core)", f"{engine['steps_per_s']:,.0f}", "", ""),
        (
            "baseline p50 / p99 (harness)",
            f"{engine['baseline_p50_us']:.1f} / {engine['baseline_p99_us']:.1f} µs",
            "",
            "",
        ),
        (
            f"API jol at {api['rate']:g}/s: answered/s",
            f"{jol['events_per_s']:,.0f}",
            ">= 500",
            verdict(api["pass_rate"]),
        ),
        (
            "API jol at that rate p50 / p99",
            f"{jol['p50_ms']:.1f} / {jol['p99_ms']:.1f} ms",
            "p99 < 50 ms",
            verdict(api["pass_p99"]),
        ),
        ("API jol errors", f"{jol['errors']} of {jol['ok'] + jol['errors']}", "", ""),
        (
            "API jol CPU per event",
            f"{jol['server_cpu_ms_per_event']:.2f} ms",
            "",
            "",
        ),
        ("API bare at that rate p99", f"{bare['p99_ms']:.1f} ms", "", ""),
        ("API saturation jol events/s", f"{jol_max['events_per_s']:,.0f}", "", ""),
        ("API saturation bare events/s", f"{bare_max['events_per_s']:,.0f}", "ceiling", ""),
        ("API jol / bare (saturation)", f"{api['ratio']:.2f}", "", ""),
        (
            "CPU jol rate run: srv/cli/other",
            f"{jol['server_cpu_pct']:.0f}/{jol['client_cpu_pct']:.0f}/{jol['other_cpu_pct']:.0f} %",
            "",
            "",
        ),
    ]
    print(f"\n== Summary{' (quick run: indicative only)' if args.quick else ''} ==")
    print(f"  {'figure':30}{'measured':>22}  {'bar':14}{'result'}")
    for name, value, bar, result in rows:
        print(f"  {name:30}{value:>22}  {bar:14}{result}")
    print(
        f"  {api['workers']} uvicorn worker process(es) per server; saturation with "
        f"{api['users']} users; took {time.monotonic() - started:.0f} s"
    )

    RESULTS.mkdir(exist_ok=True)
    record: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": args.quick,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg": [load1, load5],
        "engine": engine,
        "api": api,
    }
    (RESULTS / ("quick.json" if args.quick else "last.json")).write_text(
        json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
