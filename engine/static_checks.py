"""Static checks of a ruleset's logic: conditions that can never hold or always hold, and duplicate criteria.

Truth is decided by evaluating a condition (``engine.conditions.evaluate``) over the answer space of the
questions it uses, when every one of them is answered. The space is made finite without losing cases:

- boolean: true / false; choice and device: one representative option per class of options that every
  comparison treats alike (all options when the question is compared with another question);
  multi-choice: every subset of the options the condition names;
- number, integer, date: each threshold it is compared with (literals, min/max, and for comparisons
  with other questions or arithmetic the values those take) plus one value between and beyond them,
  so every ordering against each threshold occurs.

Up to ``LIMIT`` combinations are enumerated (a proof over that space; subtrees already decided by
three-valued logic on a partial answer set are skipped whole). Above it, ``SAMPLES`` random combinations
are tried first ("抽样检查"); when they find no witness, the same pruned search settles it exactly if it
finishes within a budget; otherwise the finding is a warning that says it was only sampled.
"""

from __future__ import annotations

import datetime as dt
import graphlib
import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from itertools import islice, product
from pathlib import Path
from typing import Any

from engine.conditions import eval_leaf, evaluate, exact, leaves, operand_value, questions_of
from engine.model import Arith, Compare, Condition, Criterion, QRef, QuestionType, Ruleset
from engine.problems import Problem
from engine.yaml_source import format_path, read_yaml

LIMIT = 50_000
SAMPLES = 5_000
SEARCH_BUDGET = 200_000
MAX_DERIVED = 400  # combinations of right-hand candidates used to derive thresholds of one comparison

Values = list[Any]


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" | "warning"
    path: tuple[Any, ...]  # data path in the ruleset file, e.g. ("criteria", 3, "hazard_if")
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


# ---------------------------------------------------------------- the answer space


ORDERED = (QuestionType.number, QuestionType.integer, QuestionType.date)


def _operands(leaf: Compare) -> list[Any]:
    """Right-hand operands of a comparison that involve other questions."""
    values = leaf.value if leaf.op == "between" else [leaf.value]
    return [v for v in values if isinstance(v, (QRef, Arith))]


def _operand_qs(v: Any) -> list[str]:
    if isinstance(v, QRef):
        return [v.q]
    if isinstance(v, Arith):
        return [q for a in v.args for q in _operand_qs(a)]
    return []


def _literals(leaf: Compare) -> list[Any]:
    if leaf.op in ("in", "not_in"):
        return list(leaf.value)
    if leaf.op == "between":
        return [v for v in leaf.value if not isinstance(v, (QRef, Arith))]
    return [] if isinstance(leaf.value, (QRef, Arith)) else [leaf.value]


def _linear(operand: Arith, q: str) -> tuple[Fraction, Fraction] | None:
    """(a, b) with operand = a·q + b when ``q`` is its only question, else None."""
    if set(_operand_qs(operand)) != {q}:
        return None
    f0, f1, f2 = (operand_value(operand, {q: Fraction(x)}) for x in (0, 1, 2))
    a, b = f1 - f0, f0
    if a == 0 or f2 != 2 * a + b:
        return None
    return a, b


class Space:
    """Finite representative answers for the questions of some conditions.

    ``approximate`` is set when the representatives may miss a case (comparisons with arithmetic of
    other questions, or number and integer questions compared with each other): then "never" and
    "always" are not proofs, while a witness found is always a real answer set.
    """

    def __init__(self, rs: Ruleset, conditions: list[Condition]):
        self.rs = rs
        self.questions: list[str] = list(dict.fromkeys(q for c in conditions for q in questions_of(c)))
        self.approximate = False
        self.domains: dict[str, Values] = {}
        own: dict[str, list[Compare]] = {q: [] for q in self.questions}
        cross: set[str] = set()
        plain: list[tuple[str, str]] = []  # question-vs-question comparisons of ordered questions
        arith: list[tuple[str, Arith]] = []  # question vs arithmetic of questions
        for c in conditions:
            for leaf in leaves(c):
                own[leaf.q].append(leaf)
                for operand in _operands(leaf):
                    cross.update([leaf.q, *_operand_qs(operand)])
                    if isinstance(operand, QRef):
                        if self._type(leaf.q) in ORDERED:
                            plain.append((leaf.q, operand.q))
                    else:
                        arith.append((leaf.q, operand))
        base = {q: self._thresholds(q, own[q]) for q in self.questions if self._type(q) in ORDERED}
        # thresholds of the left side pulled back through linear arithmetic: x < 1.1·y with x < 12
        # needs y near 12 / 1.1
        for x, operand in arith:
            for y in set(_operand_qs(operand)):
                lin = _linear(operand, y)
                if lin and y in base:
                    a, b = lin
                    base[y] += [(t - b) / a for t in base[x] if not isinstance(t, dt.date)]
        for qid in self.questions:
            if qid not in base:
                self.domains[qid] = self._discrete(qid, own[qid], qid in cross)
        # Questions compared with each other share their thresholds, with as many values between two
        # thresholds as there are questions in the group, so every ordering of them occurs.
        for group in _groups(list(base), plain):
            pool = [t for q in group for t in base[q]]
            if len({self._type(q) for q in group}) > 1:
                self.approximate = True
            for q in group:
                self.domains[q] = self._spread(q, pool, len(group))
        if arith:
            self.approximate = True
            deps = {q: set() for q in self.questions}
            for x, operand in arith:
                deps[x].update(_operand_qs(operand))
            try:
                order, rounds = list(graphlib.TopologicalSorter(deps).static_order()), 1
            except graphlib.CycleError:
                order, rounds = list(self.questions), 3
            for _ in range(rounds):
                for x in order:
                    extra = [v for left, operand in arith if left == x for v in self._operand_values(operand)]
                    if extra:
                        self.domains[x] = self._spread(x, base[x] + list(self.domains[x]) + extra, 1)

    def _type(self, qid: str) -> QuestionType:
        return self.rs.question(qid).type

    # -------- domains

    def _discrete(self, qid: str, own: list[Compare], cross: bool) -> Values:
        q = self.rs.question(qid)
        if q.type == QuestionType.boolean:
            return [True, False]
        if q.type == QuestionType.multi_choice:
            named = [o for o in q.options if any(o in _literals(leaf) for leaf in own)]
            return [tuple(o for o, keep in zip(named, bits) if keep) for bits in product((True, False), repeat=len(named))]
        options = list(q.options)
        if cross:
            return options
        classes: dict[tuple, str] = {}
        for opt in options:
            signature = tuple(eval_leaf(leaf, {qid: opt}) for leaf in own)
            classes.setdefault(signature, opt)
        return list(classes.values())

    def _thresholds(self, qid: str, own: list[Compare]) -> list[Any]:
        q = self.rs.question(qid)
        out = [_as_value(q.type, v) for leaf in own for v in _literals(leaf)]
        out += [_as_value(q.type, b) for b in (q.min, q.max) if b is not None]
        return [v for v in out if v is not None]

    def _spread(self, qid: str, thresholds: list[Any], k: int) -> Values:
        """Each threshold, and k values below, between and above them (integers for integer and date)."""
        q = self.rs.question(qid)
        if q.type == QuestionType.date:
            ts = sorted({_ordinal(t) for t in thresholds})
            values = [dt.date.fromordinal(n) for n in _integer_spread(ts, k) if 1 <= n <= dt.date.max.toordinal()]
            return values or [dt.date(2020, 1, 1)]
        ts = sorted({t if isinstance(t, Fraction) else exact(t) for t in thresholds if not isinstance(t, dt.date)})
        if q.type == QuestionType.integer:
            values: list[Any] = _integer_spread(ts, k)
        elif not ts:
            values = [Fraction(j) for j in range(1, k + 1)]
        else:
            values = [ts[0] - j for j in range(k, 0, -1)]
            for a, b in zip(ts, ts[1:]):
                values += [a] + [a + (b - a) * j / (k + 1) for j in range(1, k + 1)]
            values += [ts[-1]] + [ts[-1] + j for j in range(1, k + 1)]
        lo = None if q.min is None else exact(q.min)
        hi = None if q.max is None else exact(q.max)
        kept = [v for v in values if (lo is None or v >= lo) and (hi is None or v <= hi)]
        return kept or values[:1]

    def _operand_values(self, operand: Any) -> list[Any]:
        """Values an operand takes over the current candidates of its questions."""
        qs = list(dict.fromkeys(_operand_qs(operand)))
        combos: Iterator[tuple] = product(*(self.domains[q] for q in qs))
        if math.prod(len(self.domains[q]) for q in qs) > MAX_DERIVED:
            combos = islice(combos, MAX_DERIVED)
        out = []
        for combo in combos:
            v = operand_value(operand, dict(zip(qs, combo)))
            if v is not None:
                out.append(v if isinstance(v, dt.date) else exact(v))
        return out

    # -------- iteration

    @property
    def size(self) -> int:
        return math.prod(len(self.domains[q]) for q in self.questions)

    def all(self) -> Iterator[dict[str, Any]]:
        for combo in product(*(self.domains[q] for q in self.questions)):
            yield dict(zip(self.questions, combo))

    def sample(self, n: int, seed: str) -> Iterator[dict[str, Any]]:
        rng = random.Random(seed)
        for _ in range(n):
            yield {q: rng.choice(self.domains[q]) for q in self.questions}


def _ordinal(t: Any) -> int:
    return t.toordinal() if isinstance(t, dt.date) else int(t)


def _integer_spread(ts: list[Any], k: int) -> list[int]:
    """Integral thresholds and the k integers nearest each gap (below, between, above)."""
    if not ts:
        return list(range(1, k + 1))
    values: set[int] = {int(t) for t in ts if t == math.floor(t)}
    first = math.ceil(ts[0]) - 1  # largest integer below the first threshold
    values.update(range(first - k + 1, first + 1))
    for a, b in zip(ts, ts[1:]):
        n = math.floor(a) + 1
        values.update(x for x in range(n, n + k) if x < b)
    last = math.floor(ts[-1]) + 1
    values.update(range(last, last + k))
    return sorted(values)


def _groups(questions: list[str], edges: list[tuple[str, str]]) -> list[list[str]]:
    """Connected groups of questions (a single question is its own group)."""
    parent = {q: q for q in questions}

    def find(q: str) -> str:
        while parent[q] != q:
            parent[q] = parent[parent[q]]
            q = parent[q]
        return q

    for a, b in edges:
        if a in parent and b in parent:
            parent[find(a)] = find(b)
    out: dict[str, list[str]] = {}
    for q in questions:
        out.setdefault(find(q), []).append(q)
    return list(out.values())


def _as_value(t: QuestionType, v: Any) -> Any:
    if t == QuestionType.date:
        if isinstance(v, dt.date):
            return v
        try:
            return dt.date.fromisoformat(str(v))
        except ValueError:
            return None
    if isinstance(v, bool) or not isinstance(v, (int, float, Fraction)):
        return None
    return exact(v)


# ---------------------------------------------------------------- deciding "can it hold?"


@dataclass(frozen=True)
class Verdict:
    """Whether a predicate over answers was found true / false, and how (proof or sample)."""

    can_true: bool
    can_false: bool
    method: str  # Chinese description: 穷举 N 种组合 / 抽样检查 N 组 / 剪枝搜索
    proven: bool


def decide(space: Space, pred: Callable[[Mapping[str, Any]], bool | None], seed: str,
           want: tuple[bool, ...] = (True, False)) -> Verdict:
    """Can ``pred`` be true, and can it be false, over fully answered combinations of ``space``?

    Up to ``LIMIT`` combinations: every one is visited (subtrees that three-valued logic already decides
    on a partial answer set are skipped as a whole). Above: ``SAMPLES`` random combinations, then the same
    search within ``SEARCH_BUDGET`` steps.
    """
    found = {True: False, False: False}
    size = space.size
    exhaustive = size <= LIMIT
    proven = not space.approximate
    if not exhaustive:
        for answers in space.sample(SAMPLES, seed):
            v = pred(answers)
            if v is not None:
                found[v] = True
            if all(found[w] for w in want):
                break
    searched = False
    for w in want:
        if not found[w]:
            searched = True
            result = _search(space, pred, w, None if exhaustive else SEARCH_BUDGET)
            if result is None:
                proven = False
            else:
                found[w] = result
    note = "；含问题间算术比较，按代表值判断，结论为近似" if space.approximate else ""
    if exhaustive:
        method = f"穷举 {size} 种回答组合{note}"
    elif not searched:
        method = f"抽样检查，共约 {size} 种组合"
    elif proven:
        method = f"抽样检查 {SAMPLES} 组后剪枝搜索确认，共约 {size} 种组合{note}"
    else:
        method = f"抽样检查 {SAMPLES} 组，未能穷举，共约 {size} 种组合{note}"
    return Verdict(found[True], found[False], method, proven)


def _search(space: Space, pred: Callable[[Mapping[str, Any]], bool | None], want: bool,
            budget: int | None) -> bool | None:
    """Depth-first search for answers making ``pred`` equal ``want``. A partial answer set that the
    three-valued logic already decides is not extended (Kleene logic is monotone: every completion
    has that value). None when the budget runs out."""
    order = sorted(space.questions, key=lambda q: len(space.domains[q]))
    left = [budget if budget is not None else -1]

    def walk(i: int, answers: dict[str, Any]) -> bool | None:
        if left[0] == 0:
            return None
        left[0] -= 1
        v = pred(answers)
        if v is want:
            return True
        if v is (not want) or i == len(order):
            return False
        q = order[i]
        undecided = False
        for value in space.domains[q]:
            answers[q] = value
            r = walk(i + 1, answers)
            del answers[q]
            if r:
                return True
            undecided |= r is None
        return None if undecided else False

    return walk(0, {})


# ---------------------------------------------------------------- the checks


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return True if a is True and b is True else None


def _not(a: bool | None) -> bool | None:
    return None if a is None else not a


def _dump(c: Condition | None) -> Any:
    return None if c is None else c.model_dump(mode="json", by_alias=True, exclude_none=True)


def _name(c: Criterion) -> str:
    return f"判定项 {c.id}（{c.clause}）"


def check_criterion(rs: Ruleset, i: int, c: Criterion) -> list[Finding]:
    out: list[Finding] = []
    base = ("criteria", i)

    def report(proven: bool, path: tuple, message: str, method: str, severity: str = "error") -> None:
        out.append(Finding(severity if proven else "warning", base + path, f"{message}（{method}）"))

    applies_ok = True
    if c.applies_if is not None:
        space = Space(rs, [c.applies_if])
        v = decide(space, lambda a: evaluate(c.applies_if, a), f"{rs.ref}:{c.id}:applies", want=(True,))
        if not v.can_true:
            applies_ok = False
            report(v.proven, ("applies_if",), f"{_name(c)}的适用条件永远不成立：该项永远不适用", v.method)
    space = Space(rs, [c.hazard_if])
    v = decide(space, lambda a: evaluate(c.hazard_if, a), f"{rs.ref}:{c.id}:hazard")
    if not v.can_true:
        report(v.proven, ("hazard_if",), f"{_name(c)}的判定条件永远不成立：永远不会判定为隐患", v.method)
        return out
    if not v.can_false:
        report(v.proven, ("hazard_if",), f"{_name(c)}的判定条件在所用问题都回答时恒成立："
                                         "无论现场情况如何都判定为隐患", v.method)
        return out
    if c.applies_if is None or not applies_ok:
        return out
    both = Space(rs, [c.applies_if, c.hazard_if])
    applies_if, hazard_if = c.applies_if, c.hazard_if
    v = decide(both, lambda a: _and(evaluate(applies_if, a), evaluate(hazard_if, a)),
               f"{rs.ref}:{c.id}:hazard-when-applicable", want=(True,))
    if not v.can_true:
        report(v.proven, ("hazard_if",), f"{_name(c)}在适用条件成立时判定条件永远不成立：永远不会判定为隐患", v.method)
        return out
    v = decide(both, lambda a: _and(evaluate(applies_if, a), _not(evaluate(hazard_if, a))),
               f"{rs.ref}:{c.id}:clear-when-applicable", want=(True,))
    if not v.can_true:
        report(v.proven, ("hazard_if",), f"{_name(c)}在适用条件成立时判定条件恒成立：只要适用就判定为隐患"
                                         "（请确认这是标准的本意）", v.method, severity="warning")
    return out


def duplicates(rs: Ruleset) -> list[Finding]:
    """Two criteria decided by identical conditions, or the same wording with the same applicability.

    The standards repeat an item's wording for different sectors (工贸 第四条 冶金 / 第五条 有色 …);
    same wording with different applicability is therefore not a duplicate.
    """
    out: list[Finding] = []
    logic: dict[str, int] = {}
    worded: dict[str, int] = {}
    for i, c in enumerate(rs.criteria):
        applies = repr(_dump(c.applies_if))
        key = repr((applies, _dump(c.hazard_if)))
        words = repr((applies, "".join(c.text.split()).rstrip("。；;，,的")))
        if key in logic:
            first = rs.criteria[logic[key]]
            out.append(Finding("error", ("criteria", i, "hazard_if"),
                               f"{_name(c)}与{_name(first)}的适用条件和判定条件完全相同（重复判定项）"))
        elif words in worded:
            first = rs.criteria[worded[words]]
            out.append(Finding("error", ("criteria", i, "text"),
                               f"{_name(c)}与{_name(first)}的条文原文和适用条件都相同（重复判定项）"))
        logic.setdefault(key, i)
        worded.setdefault(words, i)
    return out


def check(rs: Ruleset) -> list[Finding]:
    """Every static finding of one (structurally valid) ruleset, in criterion order."""
    out: list[Finding] = []
    for i, c in enumerate(rs.criteria):
        try:
            out.extend(check_criterion(rs, i, c))
        except (TypeError, ValueError, ArithmeticError) as exc:  # e.g. a literal of the wrong kind
            out.append(Finding("error", ("criteria", i), f"{_name(c)}的条件无法求值：{type(exc).__name__}: {exc}"))
    out.extend(duplicates(rs))
    return sorted(out, key=lambda f: (f.path[1] if len(f.path) > 1 else -1, f.severity))


def file_problems(rs: Ruleset, path: Path) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) of ``check`` located by file and line."""
    findings = check(rs)
    doc = read_yaml(path)[0] if findings else None  # line numbers only when there is something to show
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for f in findings:
        line = doc.line_of(f.path) if doc is not None else None
        (errors if f.is_error else warnings).append(Problem(str(path), line, format_path(f.path), f.message))
    return errors, warnings
