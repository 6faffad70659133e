"""Walk condition trees: the questions they name, Kleene evaluation, missing answers, and traces.

This is the Python side of every decision the durable_rules backend makes: the evaluator uses it to
explain each outcome and to cross-check the backend (a disagreement is an error, never a result).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from itertools import combinations
from typing import Any

from engine.answers import Answer, display
from engine.model import All, Any_, Arith, AtLeast, Compare, Condition, Not, QRef, Ruleset

Truth = bool | None  # None = unknown (a needed answer is missing)

OP_ZH = {
    "eq": "等于", "ne": "不等于", "lt": "小于", "le": "不大于", "gt": "大于", "ge": "不小于",
    "between": "介于", "in": "属于", "not_in": "不属于", "contains": "包含", "not_contains": "不包含",
}


def children(c: Condition) -> list[Condition]:
    if isinstance(c, All):
        return list(c.all)
    if isinstance(c, Any_):
        return list(c.any)
    if isinstance(c, Not):
        return [c.not_]
    if isinstance(c, AtLeast):
        return list(c.of)
    return []


def leaves(c: Condition) -> Iterator[Compare]:
    if isinstance(c, Compare):
        yield c
    for child in children(c):
        yield from leaves(child)


def operand_questions(v: Any) -> Iterator[str]:
    if isinstance(v, QRef):
        yield v.q
    elif isinstance(v, Arith):
        for a in v.args:
            yield from operand_questions(a)
    elif isinstance(v, list):
        for a in v:
            yield from operand_questions(a)


def leaf_questions(leaf: Compare) -> list[str]:
    return [leaf.q, *operand_questions(leaf.value)]


def questions_of(c: Condition | None) -> list[str]:
    """Every question a condition names, in order of first appearance."""
    if c is None:
        return []
    seen: dict[str, None] = {}
    for leaf in leaves(c):
        for q in leaf_questions(leaf):
            seen.setdefault(q, None)
    return list(seen)


# ---------------------------------------------------------------- evaluation


def exact(x: Any) -> Any:
    """Exact value for comparison: numbers as Fractions of the decimal as entered, dates as day numbers.

    ``1.1 × 10`` must equal ``11`` exactly: float arithmetic would make a measured 11 "not ≥ 1.1 × 10"
    and turn a hazard into a wrong "clear". ``repr`` of a float is the shortest decimal that reads back
    as that float, i.e. what the inspector typed.
    """
    if isinstance(x, (bool, str, Fraction)):
        return x
    if isinstance(x, dt.date):
        return Fraction(x.toordinal())
    if isinstance(x, int):
        return Fraction(x)
    if isinstance(x, float):
        return Fraction(Decimal(repr(x)))
    return x


def operand_value(v: Any, answers: Mapping[str, Answer]) -> Any:
    """Value of an operand (arithmetic exact, as a Fraction), or None when an answer it needs is missing."""
    if isinstance(v, QRef):
        return answers.get(v.q)
    if isinstance(v, Arith):
        vals = [operand_value(a, answers) for a in v.args]
        if any(x is None for x in vals):
            return None
        nums = [exact(x) for x in vals]
        if v.op == "add":
            return sum(nums[1:], nums[0])
        if v.op == "sub":
            return nums[0] - nums[1]
        if v.op == "mul":
            out = nums[0]
            for x in nums[1:]:
                out *= x
            return out
        return nums[0] / nums[1]
    return v



def difference_sign(answer: Any, operand: Any) -> int:
    """sign(answer − operand), computed exactly."""
    d = exact(answer) - exact(operand)
    return (d > 0) - (d < 0)


def eval_leaf(leaf: Compare, answers: Mapping[str, Answer]) -> Truth:
    a = answers.get(leaf.q)
    if a is None:
        return None
    op, v = leaf.op, leaf.value
    if op in ("in", "not_in"):
        inside = a in v
        return inside if op == "in" else not inside
    if op in ("contains", "not_contains"):
        has = v in a
        return has if op == "contains" else not has
    if op == "between":
        # Kleene AND of "low <= answer" and "answer <= high": one side false decides it even when the
        # other bound (a question) is unanswered.
        lo, hi = (operand_value(x, answers) for x in v)
        sides = [None if b is None else cmp for b, cmp in
                 ((lo, lo is not None and exact(lo) <= exact(a)), (hi, hi is not None and exact(a) <= exact(hi)))]
        if False in sides:
            return False
        return None if None in sides else True
    r = operand_value(v, answers)
    if r is None:
        return None
    x, y = exact(a), exact(r)
    if op == "eq":
        return x == y
    if op == "ne":
        return x != y
    if op == "lt":
        return x < y
    if op == "le":
        return x <= y
    if op == "gt":
        return x > y
    if op == "ge":
        return x >= y
    raise AssertionError(op)


def evaluate(c: Condition, answers: Mapping[str, Answer]) -> Truth:
    """Kleene three-valued evaluation."""
    if isinstance(c, Compare):
        return eval_leaf(c, answers)
    if isinstance(c, Not):
        v = evaluate(c.not_, answers)
        return None if v is None else not v
    vals = [evaluate(x, answers) for x in children(c)]
    if isinstance(c, All):
        if any(v is False for v in vals):
            return False
        return True if all(v is True for v in vals) else None
    if isinstance(c, Any_):
        if any(v is True for v in vals):
            return True
        return False if all(v is False for v in vals) else None
    if isinstance(c, AtLeast):
        true = sum(v is True for v in vals)
        false = sum(v is False for v in vals)
        if true >= c.at_least:
            return True
        if false > len(vals) - c.at_least:
            return False
        return None
    raise AssertionError(type(c))


def missing(c: Condition | None, answers: Mapping[str, Answer]) -> list[str]:
    """Unanswered questions that keep an unknown condition undecided (empty if it is decided)."""
    if c is None or evaluate(c, answers) is not None:
        return []
    out: dict[str, None] = {}
    if isinstance(c, Compare):
        for q in leaf_questions(c):
            if answers.get(q) is None:
                out.setdefault(q, None)
    else:
        for child in children(c):
            for q in missing(child, answers):
                out.setdefault(q, None)
    return list(out)


# ---------------------------------------------------------------- traces (explanations)


@dataclass(frozen=True)
class LeafTrace:
    question: str
    question_text: str
    observed: str
    op: str
    required: str
    held: Truth


def required_text(leaf: Compare, rs: Ruleset) -> str:
    v = leaf.value
    unit = rs.question(leaf.q).unit or ""
    if leaf.op in ("in", "not_in"):
        return "、".join(_lit(x) for x in v)
    if leaf.op == "between":
        return f"{_operand_text(v[0], rs)}～{_operand_text(v[1], rs)}{(' ' + unit) if unit else ''}"
    text = _operand_text(v, rs)
    if unit and not isinstance(v, (QRef, Arith)):
        text += f" {unit}"
    return text


def _lit(x: Any) -> str:
    if isinstance(x, bool):
        return "是" if x else "否"
    if isinstance(x, Fraction):
        return str(x.numerator) if x.denominator == 1 else f"{float(x):.6g}"
    if isinstance(x, float):
        return f"{x:g}"
    return str(x)


def _operand_text(v: Any, rs: Ruleset) -> str:
    if isinstance(v, QRef):
        return f"〔{rs.question(v.q).text}〕"
    if isinstance(v, Arith):
        sym = {"add": " + ", "sub": " − ", "mul": " × ", "div": " ÷ "}[v.op]
        return "(" + sym.join(_operand_text(a, rs) for a in v.args) + ")"
    return _lit(v)


def trace(c: Condition | None, rs: Ruleset, answers: Mapping[str, Answer]) -> list[LeafTrace]:
    """One entry per comparison: question, observed value (with unit), operator, required value, held."""
    if c is None:
        return []
    return [t for leaf in leaves(c) for t in _trace_one(leaf, rs, answers)]


def _trace_one(leaf: Compare, rs: Ruleset, answers: Mapping[str, Answer]) -> list[LeafTrace]:
    q = rs.question(leaf.q)
    r = operand_value(leaf.value, answers) if isinstance(leaf.value, (QRef, Arith)) else None
    required = required_text(leaf, rs)
    if r is not None:
        required += f"（= {_lit(r)}{(' ' + q.unit) if q.unit else ''}）"
    return [LeafTrace(leaf.q, q.text, display(q, answers.get(leaf.q)), OP_ZH[leaf.op], required,
                      eval_leaf(leaf, answers))]


def justification(c: Condition, answers: Mapping[str, Answer], want: bool) -> list[Compare]:
    """The comparisons that make ``c`` evaluate to ``want`` (the branches that decided it, not every leaf)."""
    if isinstance(c, Compare):
        return [c]
    if isinstance(c, Not):
        return justification(c.not_, answers, not want)
    out: list[Compare] = []
    kids = children(c)
    if isinstance(c, All) and not want or isinstance(c, Any_) and want or isinstance(c, AtLeast):
        for k in kids:
            if evaluate(k, answers) is want:
                out.extend(justification(k, answers, want))
        return out
    for k in kids:
        out.extend(justification(k, answers, want))
    return out


def trace_leaves(leaf_list: list[Compare], rs: Ruleset, answers: Mapping[str, Answer]) -> list[LeafTrace]:
    """Traces of the given comparisons, each once, in order."""
    out: list[LeafTrace] = []
    seen: set[int] = set()
    for leaf in leaf_list:
        if id(leaf) in seen:
            continue
        seen.add(id(leaf))
        out.extend(_trace_one(leaf, rs, answers))
    return out


def at_least_combos(c: AtLeast, positive: bool) -> list[tuple[Condition, ...]]:
    """The subsets whose joint truth decides ``at_least`` (true: N hold; false: k-N+1 fail)."""
    k = len(c.of)
    size = c.at_least if positive else k - c.at_least + 1
    return list(combinations(c.of, size))
