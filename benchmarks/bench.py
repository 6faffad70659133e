"""Speed and memory of the engine on the bundled rulesets (a script to run, not a timed test).

Usage: python benchmarks/bench.py [--n 20000] [--memory-n 100000]

For every ruleset: random complete and partial answer sets are evaluated; it reports per-evaluation
latency (median, p95) for durable_rules alone (``Engine.decide``) and with the Python cross-check
(``Engine.outcomes``), the full Determination path for one checklist, and the resident memory before and
after ``--memory-n`` evaluations (it must stay flat: no state left behind).
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import time
from pathlib import Path

from engine.catalog import Catalog
from engine.evaluator import Engine
from engine.model import QuestionType, Ruleset

ROOT = Path(__file__).resolve().parent.parent


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def random_answers(rs: Ruleset, rnd: random.Random, missing: float) -> dict:
    out: dict = {}
    for q in rs.questions:
        if rnd.random() < missing:
            continue
        if q.type == QuestionType.boolean:
            out[q.id] = rnd.random() < 0.5
        elif q.type in (QuestionType.choice, QuestionType.device):
            out[q.id] = rnd.choice(q.options)
        elif q.type == QuestionType.multi_choice:
            out[q.id] = tuple(o for o in q.options if rnd.random() < 0.4)
        elif q.type == QuestionType.number:
            out[q.id] = round(rnd.uniform(0, 60), 1)
        elif q.type == QuestionType.integer:
            out[q.id] = rnd.randint(0, 20)
    return out


def timed(fn, sets: list[dict]) -> list[float]:
    lat = []
    for a in sets:
        t0 = time.perf_counter()
        fn(a)
        lat.append((time.perf_counter() - t0) * 1e6)
    return lat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="evaluations per ruleset and mode")
    ap.add_argument("--memory-n", type=int, default=100000, help="evaluations for the memory check")
    args = ap.parse_args()
    catalog = Catalog.from_dir(ROOT / "rulesets")
    engine = Engine()
    rnd = random.Random(7)
    print(f"{'ruleset':22} {'criteria':>8} {'mode':24} {'median µs':>10} {'p95 µs':>9} {'per s':>8}")
    for item in catalog.items:
        rs = item.ruleset
        sets = [random_answers(rs, rnd, missing=rnd.choice((0.0, 0.1, 0.5))) for _ in range(min(args.n, 2000))]
        sets = (sets * (args.n // len(sets) + 1))[: args.n]
        engine.outcomes(rs, sets[0])  # compile + register outside the timing
        for mode, fn in (("durable only (decide)", lambda a: engine.decide(rs, a)),
                         ("durable + cross-check", lambda a: engine.outcomes(rs, a))):
            t0 = time.perf_counter()
            lat = sorted(timed(fn, sets))
            total = time.perf_counter() - t0
            print(f"{rs.ref:22} {len(rs.criteria):8} {mode:24} {statistics.median(lat):10.1f} "
                  f"{lat[int(len(lat) * 0.95)]:9.1f} {len(lat) / total:8.0f}")
    # full checklist → Determination → HTML, on the bundled example
    from engine.report import render
    from engine.service import check_file

    example = ROOT / "examples" / "industry-trade-2023-inspection.json"
    if example.is_file():
        check_file(example, catalog)
        t0 = time.perf_counter()
        for _ in range(200):
            dets = check_file(example, catalog)
        t1 = time.perf_counter()
        for _ in range(200):
            render(dets, "html")
        t2 = time.perf_counter()
        print(f"\nexample checklist → Determination: {(t1 - t0) / 200 * 1e3:.2f} ms; → HTML report: {(t2 - t1) / 200 * 1e3:.2f} ms")
    # memory: many evaluations must leave nothing behind
    rs = next(x.ruleset for x in catalog.items if x.ruleset.id == "industry-trade")
    sets = [random_answers(rs, rnd, 0.2) for _ in range(1000)]
    for a in sets[:2000]:
        engine.outcomes(rs, a)
    before = rss_mib()
    checkpoints = []
    for i in range(args.memory_n):
        engine.outcomes(rs, sets[i % len(sets)])
        if (i + 1) % (args.memory_n // 5) == 0:
            checkpoints.append(f"{i + 1}: {rss_mib():.1f}")
    after = rss_mib()
    print(f"\nmemory over {args.memory_n} evaluations of {rs.ref}: RSS {before:.1f} → {after:.1f} MiB "
          f"(Δ {after - before:+.1f} MiB); checkpoints {', '.join(checkpoints)}")


if __name__ == "__main__":
    main()
