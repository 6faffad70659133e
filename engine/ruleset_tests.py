"""Run the tests embedded in a ruleset and measure per-criterion coverage (hazard case + clear case)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from engine.answers import Answer, check_answer
from engine.evaluator import Engine
from engine.model import Outcome, Ruleset


@dataclass
class Failure:
    test: str
    criterion: str
    expected: str
    got: str
    index: int = -1  # position of the test in the ruleset's ``tests``


@dataclass
class CriterionCoverage:
    id: str
    clause: str
    tests: int = 0
    outcomes: set[str] = field(default_factory=set)
    failures: int = 0

    @property
    def covered(self) -> bool:
        return {"hazard", "clear"} <= self.outcomes


@dataclass
class TestReport:
    ruleset: str
    tests: int
    checks: int
    failures: list[Failure]
    coverage: list[CriterionCoverage]
    durations: list[float] = field(default_factory=list)  # seconds per test, in order

    @property
    def uncovered(self) -> list[CriterionCoverage]:
        return [c for c in self.coverage if not c.covered]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.uncovered


def normalise(rs: Ruleset, answers: dict) -> dict[str, Answer]:
    """Test answers → engine answers (the loader has already checked their types)."""
    out: dict[str, Answer] = {}
    for qid, value in answers.items():
        v, _ = check_answer(rs.question(qid), value)
        if v is not None:
            out[qid] = v
    return out


def run_tests(rs: Ruleset, engine: Engine) -> TestReport:
    cov = {c.id: CriterionCoverage(c.id, c.clause) for c in rs.criteria}
    index = {c.id: i for i, c in enumerate(rs.criteria)}
    failures: list[Failure] = []
    checks = 0
    durations: list[float] = []
    for i, t in enumerate(rs.tests):
        start = time.perf_counter()
        outcomes = engine.outcomes(rs, normalise(rs, t.answers))
        durations.append(time.perf_counter() - start)
        for cid, expected in t.expect.items():
            got = outcomes[index[cid]]
            checks += 1
            cov[cid].tests += 1
            if got == expected:
                cov[cid].outcomes.add(expected.value)
            else:
                cov[cid].failures += 1
                failures.append(Failure(t.name, cid, expected.value, got.value, i))
    return TestReport(rs.ref, len(rs.tests), checks, failures, list(cov.values()), durations)


__all__ = ["run_tests", "TestReport", "Outcome"]
