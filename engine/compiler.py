"""Compile a validated ``Ruleset`` into durable_rules JSON rulesets (pure Python, no durable import).

Three-valued logic: per criterion a ``hazard`` rule (the condition) and a ``clear`` rule (its negation
pushed to the leaves); ``applies``/``na`` rules likewise for applicability. A missing answer matches no
test (durable's own semantics, including ``$neq``), so neither rule fires and the outcome stays
undecided: a missing answer can never produce "clear".

Guards from shared/research/durable-rules.md §15-17: every pattern starts with a bucket anchor (keeps
the alpha fan-out under 64/511), a sentinel rule makes every session start an action, conditions are
kept in negation normal form within durable's 32-expression limit per rule (larger ones are split), facts stay under 252 fields (criteria are split into shards), no
cross-fact joins, floats are written with a '.' in the mantissa, no division by an answer.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from engine.model import (
    All,
    Any_,
    Arith,
    AtLeast,
    Compare,
    Condition,
    Not,
    QRef,
    Question,
    QuestionType,
    Ruleset,
)
from engine.conditions import at_least_combos, children, leaf_questions, leaves

MAX_FIELDS_PER_SHARD = 200  # durable: 252 user fields per fact, minus anchors and markers
MAX_LOAD_PER_BUCKET = 40  # alpha nodes below one anchor (durable's alpha walk stack holds 64)
MAX_BUCKETS_PER_SHARD = 8  # anchors all match at once: 8 + 1 sentinel + 40 < 64
MAX_EXPR_COST = 30  # durable: 32 entries in a rule's expression sequence (error 113)
SENTINEL = "__sentinel"
MARKER = "__cl"
KINDS = {"h": "hazard", "c": "clear", "a": "applies", "n": "na"}

Test = dict[str, Any]


class CompileError(Exception):
    """The ruleset cannot be compiled within durable_rules' limits (a ruleset author must simplify)."""


@dataclass(frozen=True)
class RuleInfo:
    criterion: int  # index into Ruleset.criteria
    kind: str  # hazard | clear | applies | na
    part: int
    parts: int
    mode: str  # "any": one part firing suffices; "all": every part must fire


@dataclass
class Shard:
    """One durable_rules ruleset: a subset of criteria and the fields its fact carries."""

    name: str
    rules_json: str
    criteria: list[int]  # indices into Ruleset.criteria
    fields: dict[str, list[str]]  # question id → fact field names
    anchors: list[str]
    rule_map: dict[str, RuleInfo] = field(default_factory=dict)
    derived: dict[str, tuple[str, Any]] = field(default_factory=dict)  # field → (question id, operand)


@dataclass
class Compiled:
    ruleset_ref: str
    sha256: str
    shards: list[Shard]


# ---------------------------------------------------------------- JSON with durable-safe floats


def encode(obj: Any) -> str:
    """JSON text durable's C parser accepts: floats always carry a '.' before any exponent."""
    if isinstance(obj, bool):
        return "true" if obj else "false"
    if obj is None:
        return "null"
    if isinstance(obj, float):
        return safe_float(obj)
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, str):
        return json.dumps(obj, ensure_ascii=False)
    if isinstance(obj, dict):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{encode(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(encode(v) for v in obj) + "]"
    raise TypeError(f"cannot encode {type(obj).__name__}")


def safe_float(x: float) -> str:
    if not math.isfinite(x):
        raise ValueError("NaN/Infinity cannot be sent to durable_rules")
    r = repr(float(x))
    if "e" in r:
        mantissa, exp = r.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        r = f"{mantissa}e{exp}"
    return r


# ---------------------------------------------------------------- fact fields


def field_names(index: int, q: Question) -> list[str]:
    """Fact fields for a question: one, or one boolean per option of a multi-choice question."""
    if q.type == QuestionType.multi_choice:
        return [f"f{index}_{k}" for k in range(len(q.options))]
    return [f"f{index}"]


def fact_value(q: Question, value: Any) -> Any:
    """Typed value for the fact (numbers as floats: no int/str confusion in durable's comparisons)."""
    if q.type in (QuestionType.number, QuestionType.integer):
        return float(value)
    if q.type == QuestionType.date:
        return value.toordinal()
    return value


# ---------------------------------------------------------------- condition → NNF of durable tests


NEG = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "le": "gt", "gt": "le",
       "in": "not_in", "not_in": "in", "contains": "not_contains", "not_contains": "contains"}
DR_OP = {"ne": "$neq", "lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}

# A node of the negation normal form: ("test", json_text, False) | ("and"|"or", [nodes])
Node = tuple


class _Ctx:
    def __init__(self, rs: Ruleset):
        self.rs = rs
        self.index = {q.id: i for i, q in enumerate(rs.questions)}
        self._derived_names: dict[tuple[int, int], str] = {}
        self.derived_fields: dict[str, tuple[str, Any]] = {}  # name → (question id, operand)
        self.current_derived: set[str] = set()

    def fname(self, qid: str) -> str:
        return f"f{self.index[qid]}"

    def literal(self, qid: str, v: Any) -> Any:
        return fact_value(self.rs.question(qid), v)

    def derived(self, key: tuple[int, int], qid: str, operand: Any) -> str:
        """A fact field holding sign(answer − operand), computed exactly by the evaluator."""
        name = self._derived_names.get(key)
        if name is None:
            name = f"x{len(self._derived_names)}"
            self._derived_names[key] = name
            self.derived_fields[name] = (qid, operand)
        self.current_derived.add(name)
        return name

    def test(self, c: Compare, op: str, v: Any, side: int = 0) -> Node:
        if isinstance(v, (QRef, Arith)):
            # question-vs-question and arithmetic: durable compares an exact sign field with 0 (no float
            # arithmetic in durable, no $m references: a missing operand leaves the field out = unknown)
            f, rhs = self.derived((id(c), side), c.q, v), 0
        else:
            f, rhs = self.fname(c.q), self.literal(c.q, v)
        t: Test = {f: rhs} if op == "eq" else {DR_OP[op]: {f: rhs}}
        return ("test", encode(t), False)

    def leaf(self, c: Compare, positive: bool) -> Node:
        op = c.op if positive else NEG.get(c.op, c.op)
        v = c.value
        if c.op == "between":
            lo, hi = v
            if positive:
                return ("and", [self.test(c, "ge", lo, 0), self.test(c, "le", hi, 1)])
            return ("or", [self.test(c, "lt", lo, 0), self.test(c, "gt", hi, 1)])
        if op == "in":
            return _mk("or", [self.test(c, "eq", x) for x in v])
        if op == "not_in":
            return _mk("and", [self.test(c, "ne", x) for x in v])
        if op in ("contains", "not_contains"):
            k = self.rs.question(c.q).options.index(v)
            return ("test", encode({f"{self.fname(c.q)}_{k}": op == "contains"}), False)
        return self.test(c, op, v)

    def nnf(self, c: Condition, positive: bool) -> Node:
        """Push negation to the leaves (Kleene-sound: a negated leaf is the complementary comparison)."""
        if isinstance(c, Compare):
            return self.leaf(c, positive)
        if isinstance(c, Not):
            return self.nnf(c.not_, not positive)
        if isinstance(c, AtLeast):
            return _mk("or", [_mk("and", [self.nnf(x, positive) for x in combo])
                              for combo in at_least_combos(c, positive)])
        kids = [self.nnf(x, positive) for x in children(c)]
        conjunctive = isinstance(c, All) == positive
        return _mk("and" if conjunctive else "or", kids)


def _mk(kind: str, kids: list[Node]) -> Node:
    """Build an and/or node, flattening nested nodes of the same kind and dropping duplicates."""
    flat: list[Node] = []
    for k in kids:
        flat.extend(k[1] if k[0] == kind else [k])
    flat = list(dict.fromkeys(flat)) if all(n[0] == "test" for n in flat) else _dedupe_nodes(flat)
    return flat[0] if len(flat) == 1 else (kind, flat)


def _dedupe_nodes(nodes: list[Node]) -> list[Node]:
    seen, out = set(), []
    for n in nodes:
        key = repr(n)
        if key not in seen:
            seen.add(key)
            out.append(n)
    return out


def _load(n: Node) -> int:
    """Alpha nodes a rule hangs below its anchor (tests plus the forward node of each 'or')."""
    return 1 if n[0] == "test" else (1 if n[0] == "or" else 0) + sum(_load(k) for k in n[1])


def _expr_cost(n: Node) -> int:
    """Entries in durable's per-rule expression sequence (MAX_SEQUENCE_EXPRESSIONS = 32)."""
    if n[0] == "test":
        return 0
    return 2 + sum(_expr_cost(k) for k in n[1])


def _fits(n: Node) -> bool:
    return _expr_cost(("and", [("test", "{}", False), n])) <= MAX_EXPR_COST and _load(n) <= MAX_LOAD_PER_BUCKET


def _to_json(n: Node) -> Any:
    if n[0] == "test":
        return json.loads(n[1])
    return {"$and" if n[0] == "and" else "$or": [_to_json(k) for k in n[1]]}


def split_rule(n: Node) -> tuple[list[Node], str]:
    """Split a rule too large for one durable rule into parts.

    A top-level 'or' splits into rules of which ANY firing means the condition holds; a top-level
    'and' splits into rules that must ALL fire. Returns (parts, "any" | "all").
    """
    if _fits(n):
        return [n], "any"
    if n[0] == "test":
        raise CompileError("条件过于复杂")
    mode = "any" if n[0] == "or" else "all"
    parts: list[Node] = []
    current: list[Node] = []
    for k in n[1]:
        if not _fits(k):
            raise CompileError("条件过于复杂（嵌套层次过深，超出 durable_rules 单条规则的限制）；请拆分为更简单的条件")
        trial = current + [k]
        if current and not _fits(_mk(n[0], trial)):
            parts.append(_mk(n[0], current))
            current = [k]
        else:
            current = trial
    parts.append(_mk(n[0], current))
    return parts, mode


# ---------------------------------------------------------------- shards, buckets, rules


@dataclass
class _Rule:
    name: str
    criterion: int
    kind: str
    node: Node
    part: int
    parts: int
    mode: str


def _criterion_fields(rs: Ruleset, ctx: _Ctx, i: int) -> dict[str, list[str]]:
    c = rs.criteria[i]
    out: dict[str, list[str]] = {}
    for cond in (c.applies_if, c.hazard_if):
        if cond is None:
            continue
        for leaf in leaves(cond):
            for qid in leaf_questions(leaf):
                out[qid] = field_names(ctx.index[qid], rs.question(qid))
    return out


def _criterion_rules(rs: Ruleset, ctx: _Ctx, i: int) -> list[_Rule]:
    c = rs.criteria[i]
    pairs = [("h", c.hazard_if, True), ("c", c.hazard_if, False)]
    if c.applies_if is not None:
        pairs += [("a", c.applies_if, True), ("n", c.applies_if, False)]
    out = []
    for kind, cond, positive in pairs:
        try:
            parts, mode = split_rule(ctx.nnf(cond, positive))
        except CompileError as exc:
            raise CompileError(f"判定项 {c.id}：{exc}") from None
        for j, node in enumerate(parts):
            suffix = "" if len(parts) == 1 else f".{j}"
            out.append(_Rule(f"c{i}{kind}{suffix}", i, KINDS[kind], node, j, len(parts), mode))
    return out


def _buckets(rules: list[_Rule]) -> list[list[_Rule]]:
    buckets: list[list[_Rule]] = [[]]
    load = 0
    for rule in rules:
        size = _load(rule.node)
        if load + size > MAX_LOAD_PER_BUCKET and buckets[-1]:
            buckets.append([])
            load = 0
        buckets[-1].append(rule)
        load += size
    return buckets


def compile_ruleset(rs: Ruleset, sha256: str) -> Compiled:
    """Compile into one or more shards; raises ``CompileError`` naming the criterion at fault.

    A shard (one durable ruleset, one fact, one assert) holds criteria while its fact stays under
    MAX_FIELDS_PER_SHARD fields and its rules fit in MAX_BUCKETS_PER_SHARD anchor buckets. durable's
    alpha walk keeps every matching node on a 64-entry stack: all anchors of a shard match at once, then
    at most one bucket's nodes, so anchors + sentinel + bucket load stays below 64.
    """
    ctx = _Ctx(rs)
    groups: list[tuple[list[int], dict[str, list[str]], list[_Rule]]] = []
    for i in range(len(rs.criteria)):
        ctx.current_derived = set()
        rules = _criterion_rules(rs, ctx, i)
        fields = _criterion_fields(rs, ctx, i)
        fields.update({name: [name] for name in sorted(ctx.current_derived)})
        if sum(len(v) for v in fields.values()) > MAX_FIELDS_PER_SHARD:
            raise CompileError(f"判定项 {rs.criteria[i].id} 涉及的问题过多（超过 {MAX_FIELDS_PER_SHARD} 个字段）")
        if groups:
            crit, have, have_rules = groups[-1]
            merged = {**have, **fields}
            if (sum(len(v) for v in merged.values()) <= MAX_FIELDS_PER_SHARD
                    and len(_buckets(have_rules + rules)) <= MAX_BUCKETS_PER_SHARD):
                crit.append(i)
                have.update(fields)
                have_rules.extend(rules)
                continue
        groups.append(([i], dict(fields), list(rules)))
    base = f"{rs.id}@{rs.version}#{sha256[:12]}"
    shards = [_shard(f"{base}/s{k}", crit, fields, rules) for k, (crit, fields, rules) in enumerate(groups)]
    for shard in shards:
        # derived sign fields are listed apart from the question fields
        for name in [n for n in shard.fields if n in ctx.derived_fields]:
            del shard.fields[name]
            shard.derived[name] = ctx.derived_fields[name]
    return Compiled(rs.ref, sha256, shards)


def _shard(name: str, crit: list[int], fields: dict[str, list[str]], rule_list: list[_Rule]) -> Shard:
    buckets = _buckets(rule_list)
    rules: dict[str, Any] = {SENTINEL: {"all": [{"m": {"$ex": {MARKER: 1}}}]}}
    rule_map: dict[str, RuleInfo] = {}
    anchors = [f"__b{k}" for k in range(len(buckets))]
    for k, bucket in enumerate(buckets):
        anchor = ("test", encode({anchors[k]: 1}), False)
        for r in bucket:
            rules[r.name] = {"all": [{"m": _to_json(_mk("and", [anchor, r.node]))}]}
            rule_map[r.name] = RuleInfo(r.criterion, r.kind, r.part, r.parts, r.mode)
    if len(anchors) + sum(len(v) for v in fields.values()) + 3 > 252:
        raise CompileError(f"{name}: 事实字段超过 durable_rules 的 252 个上限")
    return Shard(name, encode(rules), crit, fields, anchors, rule_map)


def fired_kinds(shard_hits: list[tuple[Shard, list[str]]], n_criteria: int) -> list[set[str]]:
    """Which rule kinds hold per criterion, given the rule names each shard fired.

    A kind split into "all" parts holds only when every part fired; "any" parts when one fired.
    """
    seen: dict[tuple[int, str], set[int]] = {}
    info: dict[tuple[int, str], RuleInfo] = {}
    for shard, names in shard_hits:
        for name in names:
            r = shard.rule_map.get(name)
            if r is None:
                continue
            seen.setdefault((r.criterion, r.kind), set()).add(r.part)
            info[(r.criterion, r.kind)] = r
    out: list[set[str]] = [set() for _ in range(n_criteria)]
    for key, parts in seen.items():
        r = info[key]
        if r.mode == "any" or len(parts) == r.parts:
            out[key[0]].add(key[1])
    return out
