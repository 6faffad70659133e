"""Coverage of a ruleset version: items of the standard, criteria tested both ways, comparisons exercised.

- items: the standard's items (``coverage.items_total``) against encoded criteria and ``not_encoded``;
- criteria: each needs a passing ``hazard`` test and a passing ``clear`` test (``run_tests``);
- comparisons (the leaves of ``applies_if`` / ``hazard_if``): a leaf is exercised when the tests that
  check its criterion make it true in one test and false in another. A leaf of ``hazard_if`` only
  counts in tests where the criterion applies (elsewhere it cannot change the outcome);
- questions that no criterion uses.

Only criterion coverage decides the result; unexercised comparisons are warnings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.conditions import OP_ZH, eval_leaf, evaluate, questions_of
from engine.evaluator import Engine
from engine.model import All, Any_, Arith, AtLeast, Compare, Condition, Not, QRef, Ruleset
from engine.ruleset_tests import TestReport, normalise, run_tests


@dataclass
class LeafCoverage:
    criterion: str
    clause: str
    where: str  # e.g. "hazard_if.any[1]"
    question: str
    text: str  # e.g. "alarm 不等于 正常"
    seen_true: bool = False
    seen_false: bool = False

    @property
    def exercised(self) -> bool:
        return self.seen_true and self.seen_false


@dataclass
class RulesetCoverage:
    ref: str
    title: str
    items_total: int | None  # None: the standard's own count is unknown
    encoded: int
    not_encoded: list[dict[str, Any]]
    tests: TestReport
    leaves: list[LeafCoverage] = field(default_factory=list)
    unused_questions: list[str] = field(default_factory=list)

    @property
    def unaccounted(self) -> int:
        """Items of the standard neither encoded nor listed as not encoded (negative: over-claimed; 0 if unknown)."""
        if self.items_total is None:
            return 0
        return self.items_total - self.encoded - self.not_encoded_count

    @property
    def not_encoded_count(self) -> int:
        return sum(int(n.get("count", 1)) for n in self.not_encoded)

    @property
    def criteria_covered(self) -> int:
        return len(self.tests.coverage) - len(self.tests.uncovered)

    @property
    def never_true(self) -> list[LeafCoverage]:
        return [x for x in self.leaves if not x.seen_true]

    @property
    def never_false(self) -> list[LeafCoverage]:
        return [x for x in self.leaves if not x.seen_false]

    @property
    def ok(self) -> bool:
        """Full criterion coverage and no failing expectation (unexercised leaves are only warnings)."""
        return self.tests.ok

    def as_json(self) -> dict[str, Any]:
        leaf = lambda x: {"criterion": x.criterion, "where": x.where, "question": x.question,  # noqa: E731
                          "condition": x.text}
        return {
            "ruleset": self.ref,
            "title": self.title,
            "ok": self.ok,
            "items": {"total": self.items_total, "encoded": self.encoded,
                      "not_encoded": self.not_encoded, "unaccounted": self.unaccounted},
            "criteria": {
                "total": len(self.tests.coverage),
                "covered": self.criteria_covered,
                "uncovered": [{"id": c.id, "clause": c.clause,
                               "lacking": sorted({"hazard", "clear"} - c.outcomes)} for c in self.tests.uncovered],
            },
            "tests": {"total": self.tests.tests, "checks": self.tests.checks,
                      "failures": [f.__dict__ for f in self.tests.failures]},
            "leaves": {"total": len(self.leaves), "exercised": sum(x.exercised for x in self.leaves),
                       "never_true": [leaf(x) for x in self.never_true],
                       "never_false": [leaf(x) for x in self.never_false]},
            "unused_questions": self.unused_questions,
        }


def _walk(c: Condition, where: str) -> Iterator[tuple[str, Compare]]:
    if isinstance(c, Compare):
        yield where, c
    elif isinstance(c, All):
        for i, x in enumerate(c.all):
            yield from _walk(x, f"{where}.all[{i}]")
    elif isinstance(c, Any_):
        for i, x in enumerate(c.any):
            yield from _walk(x, f"{where}.any[{i}]")
    elif isinstance(c, Not):
        yield from _walk(c.not_, f"{where}.not")
    elif isinstance(c, AtLeast):
        for i, x in enumerate(c.of):
            yield from _walk(x, f"{where}.of[{i}]")


def _operand(v: Any) -> str:
    if isinstance(v, QRef):
        return v.q
    if isinstance(v, Arith):
        sym = {"add": " + ", "sub": " − ", "mul": " × ", "div": " ÷ "}[v.op]
        return "(" + sym.join(_operand(a) for a in v.args) + ")"
    if isinstance(v, list):
        return "、".join(_operand(a) for a in v)
    return "是" if v is True else "否" if v is False else str(v)


def leaf_text(leaf: Compare, rs: Ruleset) -> str:
    """A comparison in one line, with question ids: ``pressure 小于 30 kPa``, ``a 大于 (b × 1.1)``."""
    unit = rs.question(leaf.q).unit
    v = leaf.value
    text = _operand(v)
    if leaf.op == "between":
        text = f"{_operand(v[0])}～{_operand(v[1])}"
    if unit and not isinstance(v, (QRef, Arith)) and leaf.op not in ("in", "not_in"):
        text += f" {unit}"
    return f"{leaf.q} {OP_ZH[leaf.op]} {text}"


def leaf_coverage(rs: Ruleset) -> list[LeafCoverage]:
    """True / false seen for every comparison, over the tests that check its criterion."""
    answer_sets = [(t, normalise(rs, t.answers)) for t in rs.tests]
    out: list[LeafCoverage] = []
    for c in rs.criteria:
        checking = [answers for t, answers in answer_sets if c.id in t.expect]
        applying = [a for a in checking if c.applies_if is None or evaluate(c.applies_if, a) is True]
        for cond, key, tests in ((c.applies_if, "applies_if", checking), (c.hazard_if, "hazard_if", applying)):
            if cond is None:
                continue
            for where, leaf in _walk(cond, key):
                item = LeafCoverage(c.id, c.clause, where, leaf.q, leaf_text(leaf, rs))
                for answers in tests:
                    v = eval_leaf(leaf, answers)
                    item.seen_true |= v is True
                    item.seen_false |= v is False
                out.append(item)
    return out


def unused_questions(rs: Ruleset) -> list[str]:
    used: set[str] = set()
    for c in rs.criteria:
        used.update(questions_of(c.applies_if))
        used.update(questions_of(c.hazard_if))
        if c.describe:
            used.add(c.describe)
    return [q.id for q in rs.questions if q.id not in used]


def coverage(rs: Ruleset, engine: Engine, report: TestReport | None = None) -> RulesetCoverage:
    """Coverage of one ruleset version (runs its tests unless a ``run_tests`` report is given)."""
    report = report or run_tests(rs, engine)
    return RulesetCoverage(
        ref=rs.ref, title=rs.title, items_total=rs.coverage.items_total, encoded=len(rs.criteria),
        not_encoded=[{"item": n.item, "reason": n.reason, "count": n.count} for n in rs.coverage.not_encoded],
        tests=report, leaves=leaf_coverage(rs), unused_questions=unused_questions(rs))


def text_report(cov: RulesetCoverage) -> list[str]:
    """Chinese lines for the terminal."""
    mark = "✓" if cov.ok else "✗"
    lines = [f"{mark} {cov.ref} {cov.title}"]
    total = "（总数未知）" if cov.items_total is None else f" {cov.items_total} 项"
    lines.append(f"  标准条目{total}：已编码 {cov.encoded} 项，未编码 {cov.not_encoded_count} 项"
                 + (f"，另有 {cov.unaccounted} 项既未编码也未说明" if cov.unaccounted > 0 else "")
                 + (f"（编码与未编码合计比标准多 {-cov.unaccounted} 项）" if cov.unaccounted < 0 else ""))
    for n in cov.not_encoded:
        lines.append(f"    未编码：{n['item']}（{n['reason']}）")
    lines.append(f"  判定项覆盖（通过的隐患用例 + 未发现用例）：{cov.criteria_covered}/{len(cov.tests.coverage)}")
    for c in cov.tests.uncovered:
        lacking = "、".join(sorted({"hazard", "clear"} - c.outcomes))
        lines.append(f"    缺少覆盖：判定项 {c.id}（{c.clause}）没有通过的 {lacking} 用例")
    for f in cov.tests.failures:
        lines.append(f"    失败：测试“{f.test}” 判定项 {f.criterion}：预期 {f.expected}，实际 {f.got}")
    exercised = sum(x.exercised for x in cov.leaves)
    lines.append(f"  比较条件覆盖（在测试中既为真又为假）：{exercised}/{len(cov.leaves)}；"
                 f"从未为真 {len(cov.never_true)} 个，从未为假 {len(cov.never_false)} 个")
    for x in cov.leaves:
        if x.exercised:
            continue
        what = ("从未被测试求值" if not x.seen_true and not x.seen_false
                else "从未为真" if not x.seen_true else "从未为假")
        lines.append(f"    警告：判定项 {x.criterion} {x.where}（{x.text}）{what}")
    lines.append(f"  未被任何判定项使用的问题：{'、'.join(cov.unused_questions) or '无'}")
    return lines
