"""The dialogue engine alone: `step()` on the real content, compiled in-process (no I/O).

Scripted users (see walks.py) are replayed round-robin, 50 at a time, each from a fresh State;
only the `step()` call is timed, with `time.perf_counter_ns`. The baseline times a trivial
function of the same signature (a dict lookup returning a constant reply list) on the same inputs
in the same loop, so the reader sees what the harness itself costs. GC stays on, as in the server.

    .venv/bin/python bench/engine_bench.py [--steps 20000] [--warmup 2000]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from walks import CONTENT_DIR, STEP_OPTIONS, Turn, load_content, make_pool, mix, service_answerer

from app.content.model import Content
from app.dialogue.engine import Answerer, step
from app.dialogue.types import Button, Event, Reply, State, StepResult

BAR_P99_MS = 1.0
USERS = 50
POOL = 300

_CANNED = {
    kind: [Reply(f"{kind} reply", [[Button("Menu", data="g.menu")]])]
    for kind in ("start", "text", "button", "contact", "language", "command")
}


def trivial_step(
    content: Content,
    state: State,
    event: Event,
    *,
    answer: Any = None,
    default_lang: str = "ky",
    **_options: Any,
) -> StepResult:
    """The baseline: same shape as `step`, does a dict lookup and returns a constant reply."""
    return StepResult(replies=_CANNED.get(event.type, _CANNED["text"]), state=state)


def pct(sorted_values: list[int], q: float) -> int:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return 0
    rank = min(len(sorted_values), max(1, math.ceil(q * len(sorted_values))))
    return sorted_values[rank - 1]


@dataclass
class Timing:
    name: str
    latencies: list[int] = field(default_factory=list)  # ns, one per timed step
    kinds: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    diverged: int = 0  # steps whose resulting node differs from the recorded walk

    @property
    def steps_per_s(self) -> float:
        return len(self.latencies) / self.wall_s if self.wall_s else 0.0

    def summary(self, latencies: list[int] | None = None) -> dict[str, float]:
        values = sorted(self.latencies if latencies is None else latencies)
        return {
            "n": len(values),
            "p50_us": pct(values, 0.50) / 1000,
            "p99_us": pct(values, 0.99) / 1000,
            "max_us": (values[-1] if values else 0) / 1000,
        }


def replay(
    name: str,
    fn: Callable[..., StepResult],
    content: Content,
    answerer: Answerer,
    pool: list[list[Turn]],
    steps: int,
    warmup: int,
    check: bool,
) -> Timing:
    """Replay the pool's sessions round-robin over USERS users; time `fn` on each turn."""
    timing = Timing(name)
    slots: list[list[Any]] = [[None, 0, State()] for _ in range(USERS)]  # session, position, state
    next_session = 0
    clock = time.perf_counter_ns
    started = 0
    for i in range(warmup + steps):
        if i == warmup:
            started = clock()
        slot = slots[i % USERS]
        if slot[0] is None or slot[1] == len(slot[0]):
            slot[0], slot[1], slot[2] = pool[next_session % len(pool)], 0, State()
            next_session += 1
        turn: Turn = slot[0][slot[1]]
        t0 = clock()
        result = fn(content, slot[2], turn.event, answer=answerer, **STEP_OPTIONS)
        t1 = clock()
        slot[1] += 1
        slot[2] = result.state
        if i >= warmup:
            timing.latencies.append(t1 - t0)
            timing.kinds.append(turn.kind)
            if check and result.state.node != turn.node:
                timing.diverged += 1
    timing.wall_s = (clock() - started) / 1e9
    return timing


def run(
    steps: int = 20_000, warmup: int = 2_000, content_dir: Path = CONTENT_DIR
) -> dict[str, Any]:
    t = time.perf_counter()
    content = load_content(content_dir)
    answerer = service_answerer(content)
    compile_s = time.perf_counter() - t
    pool = make_pool(content, answerer, POOL)
    turns = sum(len(s) for s in pool)
    print(
        f"engine: {content_dir} compiled in {compile_s:.2f} s ({', '.join(content.languages)}); "
        f"{POOL} scripted sessions, {turns} turns, avg {turns / POOL:.0f} per user"
    )
    print(f"engine: turn mix: {mix(pool)}")
    print(
        f"engine: free text answered by {type(answerer).__name__}"
        f"{', with ' + ', '.join(STEP_OPTIONS) + ' check' if STEP_OPTIONS else ''}, "
        "as the service does"
    )
    print(f"engine: {USERS} users round-robin, {warmup} warm-up + {steps} timed steps each run")

    engine = replay("engine step()", step, content, answerer, pool, steps, warmup, check=True)
    base = replay(
        "baseline (dict lookup)", trivial_step, content, answerer, pool, steps, warmup, check=False
    )

    print(f"\n  {'':26}{'steps/s':>11}{'p50 µs':>10}{'p99 µs':>10}{'max µs':>10}")
    for timing in (engine, base):
        s = timing.summary()
        print(
            f"  {timing.name:26}{timing.steps_per_s:>11,.0f}{s['p50_us']:>10.1f}"
            f"{s['p99_us']:>10.1f}{s['max_us']:>10.1f}"
        )
    print("  (steps/s = timed steps / wall time of the loop, harness included)")

    print(
        f"\n  engine by kind of turn:\n  {'kind':12}{'n':>7}{'p50 µs':>10}{'p99 µs':>10}"
        f"{'max µs':>10}"
    )
    by_kind: dict[str, list[int]] = {}
    for kind, ns in zip(engine.kinds, engine.latencies, strict=True):
        by_kind.setdefault(kind, []).append(ns)
    for kind, values in sorted(by_kind.items(), key=lambda kv: -len(kv[1])):
        s = engine.summary(values)
        print(f"  {kind:12}{s['n']:>7}{s['p50_us']:>10.1f}{s['p99_us']:>10.1f}{s['max_us']:>10.1f}")
    if engine.diverged:
        print(f"  WARNING: {engine.diverged} steps did not reach the recorded node")

    e = engine.summary()
    ok = e["p99_us"] / 1000 < BAR_P99_MS
    print(
        f"\n  bar: engine step p99 < {BAR_P99_MS:g} ms: {e['p99_us'] / 1000:.3f} ms -> "
        f"{'PASS' if ok else 'MISS'}"
    )
    # Free-text turns include question answering, which has a bar of its own (p99 < 20 ms,
    # bench/qa_bench.py): show the dialogue's own steps apart.
    dialogue = engine.summary(
        [ns for kind, ns in zip(engine.kinds, engine.latencies, strict=True) if kind != "question"]
    )
    dialogue_ok = dialogue["p99_us"] / 1000 < BAR_P99_MS
    print(
        f"  without free-text turns (question answering): p99 "
        f"{dialogue['p99_us'] / 1000:.3f} ms -> {'PASS' if dialogue_ok else 'MISS'}"
    )
    return {
        "steps": steps,
        "warmup": warmup,
        "steps_per_s": engine.steps_per_s,
        **{k: v for k, v in e.items() if k != "n"},
        "baseline_steps_per_s": base.steps_per_s,
        **{f"baseline_{k}": v for k, v in base.summary().items() if k != "n"},
        "by_kind": {k: engine.summary(v) for k, v in by_kind.items()},
        "diverged": engine.diverged,
        "bar_p99_ms": BAR_P99_MS,
        "pass": ok,
        "dialogue_p50_us": dialogue["p50_us"],
        "dialogue_p99_us": dialogue["p99_us"],
        "dialogue_pass": dialogue_ok,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--content", type=Path, default=CONTENT_DIR, help="content directory")
    args = parser.parse_args()
    run(args.steps, args.warmup, args.content)


if __name__ == "__main__":
    main()
