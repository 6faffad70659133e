"""An independent reference evaluator for rulesets (plain Python, written from docs/ruleset-format.md).

Deliberately shares no code with ``engine.conditions`` or ``engine.evaluator``: only the pydantic
classes of ``engine.model`` are used to walk the condition trees. Truth values are ``True``,
``False`` and ``UNKNOWN`` (``None``): a comparison whose answer (or any answer of its operand) is
missing is unknown, never false.

Numbers (answers, literals, arithmetic) are exact decimals as written, not binary floats: see
``_as_number``. docs/ruleset-format.md does not say which; the engine computes exactly since commit
11093cb ("Exact comparisons ... rational arithmetic"), and only exact arithmetic gives the reading a
person would (110.00000000000001 is more than 110 % of 100). Dates compare as dates.

``between`` is the Kleene AND of ``ge: low`` and ``le: high`` (docs: "one side false decides it").
The outcome rules are those of ``Engine.decide``; ``Engine.outcomes`` additionally turns a judgement
hazard without its ``describe`` text into ``incomplete``, which is not modelled here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from fractions import Fraction
from functools import lru_cache
from typing import Any

from engine.model import (
    All,
    Any_,
    Arith,
    AtLeast,
    Compare,
    Criterion,
    CriterionKind,
    Not,
    Outcome,
    QRef,
    QuestionType,
    Ruleset,
)

UNKNOWN = None

_NUMERIC = (QuestionType.number, QuestionType.integer)


class _Missing(Exception):
    """Raised while resolving an operand whose answer is absent (the comparison becomes unknown)."""


# ---------------------------------------------------------------- Kleene connectives


def k_and(values: list[bool | None]) -> bool | None:
    if any(v is False for v in values):
        return False
    if all(v is True for v in values):
        return True
    return UNKNOWN


def k_or(values: list[bool | None]) -> bool | None:
    if any(v is True for v in values):
        return True
    if all(v is False for v in values):
        return False
    return UNKNOWN


def k_not(value: bool | None) -> bool | None:
    return UNKNOWN if value is None else (not value)


def k_at_least(n: int, values: list[bool | None]) -> bool | None:
    """True when at least n are true whatever the unknowns turn out to be; false when even all
    unknowns being true could not reach n; otherwise unknown."""
    true = sum(1 for v in values if v is True)
    unknown = sum(1 for v in values if v is None)
    if true >= n:
        return True
    if true + unknown < n:
        return False
    return UNKNOWN


# ---------------------------------------------------------------- values


def _as_date(x: Any) -> dt.date:
    if isinstance(x, dt.datetime):
        return x.date()
    if isinstance(x, dt.date):
        return x
    if isinstance(x, str):
        return dt.date.fromisoformat(x)
    raise TypeError(f"not a date: {x!r}")


def _as_number(x: Any) -> Fraction:
    """A number as the exact decimal that was written: ``str`` of a float is the shortest decimal that
    reads back as that float, i.e. what the inspector (or the ruleset author) typed. Arithmetic on
    these is exact, so ``110.00000000000001 > 100 × 1.1`` holds (it is more than 110), whereas binary
    float arithmetic (100 * 1.1 == 110.00000000000001) would call it "not more"."""
    if isinstance(x, bool) or not isinstance(x, (int, float, Fraction)):
        raise TypeError(f"not a number: {x!r}")
    if isinstance(x, float):
        return Fraction(str(x))
    return Fraction(x)


class Oracle:
    """Reference outcomes of every criterion of one ruleset."""

    def __init__(self, rs: Ruleset):
        self.rs = rs
        self.qtype = {q.id: q.type for q in rs.questions}

    # -- answers and operands

    def _answer(self, qid: str, answers: Mapping[str, Any]) -> Any:
        if qid not in answers or answers[qid] is None:
            raise _Missing(qid)
        return answers[qid]

    def _normal(self, qtype: QuestionType, x: Any) -> Any:
        """A value in the domain its comparisons use: numbers numerically, dates as dates."""
        if qtype in _NUMERIC:
            return _as_number(x)
        if qtype == QuestionType.date:
            return _as_date(x)
        return x

    def _operand(self, qtype: QuestionType, v: Any, answers: Mapping[str, Any]) -> Any:
        if isinstance(v, QRef):
            other = self.qtype[v.q]
            return self._normal(other, self._answer(v.q, answers))
        if isinstance(v, Arith):
            # every argument is resolved first: one missing answer anywhere makes it unknown
            args = [_as_number(self._operand(QuestionType.number, a, answers)) for a in v.args]
            op = v.op
            if op == "add":
                total = Fraction(0)
                for a in args:
                    total = total + a
                return total
            if op == "sub":
                return args[0] - args[1]
            if op == "mul":
                prod = Fraction(1)
                for a in args:
                    prod = prod * a
                return prod
            if op == "div":
                return args[0] / args[1]
            raise AssertionError(op)
        return self._normal(qtype, v)

    # -- conditions

    def compare(self, c: Compare, answers: Mapping[str, Any]) -> bool | None:
        qtype = self.qtype[c.q]
        op, v = c.op, c.value
        try:
            a = self._normal(qtype, self._answer(c.q, answers))
            if op == "eq":
                return a == self._operand(qtype, v, answers)
            if op == "ne":
                return a != self._operand(qtype, v, answers)
            if op == "lt":
                return a < self._operand(qtype, v, answers)
            if op == "le":
                return a <= self._operand(qtype, v, answers)
            if op == "gt":
                return a > self._operand(qtype, v, answers)
            if op == "ge":
                return a >= self._operand(qtype, v, answers)
            if op == "between":
                # docs: inclusive, "the same as `all` of `ge: low` and `le: high` (one side false
                # decides it)" -- so each side is its own comparison and they combine by Kleene AND
                sides = []
                for bound, holds in ((v[0], lambda b: b <= a), (v[1], lambda b: a <= b)):
                    try:
                        sides.append(holds(self._operand(qtype, bound, answers)))
                    except _Missing:
                        sides.append(UNKNOWN)
                return k_and(sides)
            if op in ("in", "not_in"):
                members = [self._normal(qtype, x) for x in v]
                found = any(a == m for m in members)
                return found if op == "in" else not found
            if op in ("contains", "not_contains"):
                found = v in tuple(a)
                return found if op == "contains" else not found
        except _Missing:
            return UNKNOWN
        raise AssertionError(f"unknown operator {op}")

    def truth(self, c: Any, answers: Mapping[str, Any]) -> bool | None:
        if isinstance(c, Compare):
            return self.compare(c, answers)
        if isinstance(c, All):
            return k_and([self.truth(x, answers) for x in c.all])
        if isinstance(c, Any_):
            return k_or([self.truth(x, answers) for x in c.any])
        if isinstance(c, Not):
            return k_not(self.truth(c.not_, answers))
        if isinstance(c, AtLeast):
            return k_at_least(c.at_least, [self.truth(x, answers) for x in c.of])
        raise TypeError(f"not a condition: {type(c).__name__}")

    # -- outcomes

    def outcome(self, c: Criterion, answers: Mapping[str, Any]) -> Outcome:
        if c.applies_if is not None:
            applies = self.truth(c.applies_if, answers)
            if applies is False:
                return Outcome.not_applicable
            if applies is None:
                return Outcome.incomplete
        hazard = self.truth(c.hazard_if, answers)
        if hazard is True:
            return Outcome.hazard
        if hazard is False:
            return Outcome.clear
        return Outcome.judgement if c.kind == CriterionKind.judgement else Outcome.incomplete

    def outcomes(self, answers: Mapping[str, Any]) -> list[Outcome]:
        return [self.outcome(c, answers) for c in self.rs.criteria]


def oracle_outcomes(rs: Ruleset, answers: Mapping[str, Any]) -> list[Outcome]:
    return Oracle(rs).outcomes(answers)


def oracle_final_outcomes(rs: Ruleset, answers: Mapping[str, Any]) -> list[Outcome]:
    """As ``Engine.outcomes``: a judged hazard whose ``describe`` text is missing or blank is incomplete."""
    out = []
    for c, o in zip(rs.criteria, oracle_outcomes(rs, answers)):
        text = answers.get(c.describe) if c.describe else None
        if o == Outcome.hazard and c.describe and not (isinstance(text, str) and text.strip()):
            o = Outcome.incomplete
        out.append(o)
    return out


# ---------------------------------------------------------------- helpers for tests


def condition_questions(c: Any) -> list[str]:
    """Every question a condition reads (comparison subjects and operand references)."""
    out: dict[str, None] = {}

    def operand(v: Any) -> None:
        if isinstance(v, QRef):
            out.setdefault(v.q, None)
        elif isinstance(v, Arith):
            for a in v.args:
                operand(a)
        elif isinstance(v, list):
            for a in v:
                operand(a)

    def walk(x: Any) -> None:
        if x is None:
            return
        if isinstance(x, Compare):
            out.setdefault(x.q, None)
            operand(x.value)
        elif isinstance(x, All):
            for y in x.all:
                walk(y)
        elif isinstance(x, Any_):
            for y in x.any:
                walk(y)
        elif isinstance(x, Not):
            walk(x.not_)
        elif isinstance(x, AtLeast):
            for y in x.of:
                walk(y)

    walk(c)
    return list(out)


def comparisons(c: Any) -> list[Compare]:
    """Every comparison leaf of a condition."""
    if c is None:
        return []
    if isinstance(c, Compare):
        return [c]
    kids = c.all if isinstance(c, All) else c.any if isinstance(c, Any_) else [c.not_] if isinstance(c, Not) \
        else c.of
    return [leaf for k in kids for leaf in comparisons(k)]


def normalise_answers(rs: Ruleset, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Checklist-style answers (as written in a ruleset's embedded tests) → engine answer values."""
    out: dict[str, Any] = {}
    qmap = {q.id: q for q in rs.questions}
    for qid, value in raw.items():
        if value is None:
            continue
        t = qmap[qid].type
        if t == QuestionType.multi_choice:
            out[qid] = tuple(value)
        elif t == QuestionType.date:
            out[qid] = _as_date(value)
        else:
            out[qid] = value
    return out


@lru_cache(maxsize=1)
def catalog_rulesets() -> dict[str, Ruleset]:
    """Every ruleset of the project's catalog by ``id@version``, loaded once per process and shared by
    the test modules (loading and validating the catalog takes seconds)."""
    from engine.catalog import Catalog

    return {item.ruleset.ref: item.ruleset for item in Catalog.from_dir().items}
