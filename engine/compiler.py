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
MAX_LEAVES_PER_BUCKET = 40  # durable: 64 simultaneous alpha matches under one node, 511 children
MAX_EXPR_COST = 30  # durable: 32 entries in a rule's expression sequence (error 113)
SENTINEL = "__sentinel"
MARKER = "__cl"
KINDS = {"h": "hazard", "c": "clear", "a": "applies", "n": "na"}

Test = dict[str, Any]


class CompileError(Exception):
    """The ruleset cannot be compiled within durable_rules' limits (a ruleset author must simplify)."""


@dataclass
class Shard:
    """One durable_rules ruleset: a subset of criteria and the fields its fact carries."""

    name: str
    rules_json: str
    criteria: list[int]  # indices into Ruleset.criteria
    fields: dict[str, list[str]]  # question id → fact field names
    anchors: list[str]
    rule_map: dict[str, tuple[int, str]] = field(default_factory=dict)  # rule name → (criterion index, kind)


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
    """Typed value for the fact (numbers as floats: no integer division or int/str confusion)."""
    if q.type in (QuestionType.number, QuestionType.integer):
        return float(value)
    if q.type == QuestionType.date:
        return value.toordinal()
    return value


# ---------------------------------------------------------------- condition → NNF of durable tests


NEG = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "le": "gt", "gt": "le",
       "in": "not_in", "not_in": "in", "contains": "not_contains", "not_contains": "contains"}
DR_OP = {"ne": "$neq", "lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}

# A node of the negation normal form: ("test", json_text, uses_field_ref) | ("and"|"or", [nodes])
Node = tuple


class _Ctx:
    def __init__(self, rs: Ruleset):
        self.rs = rs
        self.index = {q.id: i for i, q in enumerate(rs.questions)}

    def fname(self, qid: str) -> str:
        return f"f{self.index[qid]}"

    def literal(self, qid: str, v: Any) -> Any:
        q = self.rs.question(qid)
        if q.type in (QuestionType.number, QuestionType.integer):
            return float(v)
        if q.type == QuestionType.date:
            return v.toordinal()
        return v

    def operand(self, qid: str, v: Any) -> Any:
        if isinstance(v, QRef):
            return {"$m": self.fname(v.q)}
        if isinstance(v, Arith):
            args = [self.operand(qid, a) if isinstance(a, (QRef, Arith)) else float(a) for a in v.args]
            out = args[0]
            for a in args[1:]:
                out = {f"${v.op}": {"$l": out, "$r": a}}
            return out
        return self.literal(qid, v)

    def test(self, qid: str, op: str, v: Any) -> Node:
        f = self.fname(qid)
        rhs = self.operand(qid, v)
        t: Test = {f: rhs} if op == "eq" else {DR_OP[op]: {f: rhs}}
        return ("test", encode(t), isinstance(v, (QRef, Arith)))

    def leaf(self, c: Compare, positive: bool) -> Node:
        op = c.op if positive else NEG.get(c.op, c.op)
        v = c.value
        if c.op == "between":
            lo, hi = v
            if positive:
                return ("and", [self.test(c.q, "ge", lo), self.test(c.q, "le", hi)])
            return ("or", [self.test(c.q, "lt", lo), self.test(c.q, "gt", hi)])
        if op == "in":
            return _mk("or", [self.test(c.q, "eq", x) for x in v])
        if op == "not_in":
            return _mk("and", [self.test(c.q, "ne", x) for x in v])
        if op in ("contains", "not_contains"):
            k = self.rs.question(c.q).options.index(v)
            return ("test", encode({f"{self.fname(c.q)}_{k}": op == "contains"}), False)
        return self.test(c.q, op, v)

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


def _leaf_count(n: Node) -> int:
    return 1 if n[0] == "test" else sum(_leaf_count(k) for k in n[1])


def _expr_cost(n: Node) -> int:
    """Entries in durable's per-rule expression sequence (MAX_SEQUENCE_EXPRESSIONS = 32)."""
    if n[0] == "test":
        return 1 if n[2] else 0
    return 2 + sum(_expr_cost(k) for k in n[1])


def _to_json(n: Node) -> Any:
    if n[0] == "test":
        return json.loads(n[1])
    return {"$and" if n[0] == "and" else "$or": [_to_json(k) for k in n[1]]}


def _split(n: Node) -> list[Node]:
    """Split a rule whose expression is too large: the branches of a top-level 'or' become rules."""
    if _expr_cost(("and", [("test", "{}", False), n])) <= MAX_EXPR_COST:
        return [n]
    if n[0] != "or":
        raise CompileError("条件过于复杂（durable_rules 单条规则最多 31 个表达式）")
    parts: list[Node] = []
    current: list[Node] = []
    for k in n[1]:
        trial = current + [k]
        if current and _expr_cost(("and", [("test", "{}", False), ("or", trial)])) > MAX_EXPR_COST:
            parts.append(_mk("or", current))
            current = [k]
        else:
            current = trial
    parts.append(_mk("or", current))
    out: list[Node] = []
    for p in parts:
        out.extend(_split(p) if p[0] != "or" or len(p[1]) > 1 else [p])
    return out


# ---------------------------------------------------------------- shards, buckets, rules


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


def compile_ruleset(rs: Ruleset, sha256: str) -> Compiled:
    """Compile into one or more shards; raises ``CompileError`` naming the criterion at fault."""
    ctx = _Ctx(rs)
    groups: list[tuple[list[int], dict[str, list[str]]]] = []
    for i in range(len(rs.criteria)):
        fields = _criterion_fields(rs, ctx, i)
        if sum(len(v) for v in fields.values()) > MAX_FIELDS_PER_SHARD:
            raise CompileError(f"判定项 {rs.criteria[i].id} 涉及的问题过多（超过 {MAX_FIELDS_PER_SHARD} 个字段）")
        if groups:
            merged = {**groups[-1][1], **fields}
            if sum(len(v) for v in merged.values()) <= MAX_FIELDS_PER_SHARD:
                groups[-1][0].append(i)
                groups[-1][1].update(fields)
                continue
        groups.append(([i], dict(fields)))
    base = f"{rs.id}@{rs.version}#{sha256[:12]}"
    shards = [_shard(rs, ctx, f"{base}/s{k}", crit, fields) for k, (crit, fields) in enumerate(groups)]
    return Compiled(rs.ref, sha256, shards)


def _shard(rs: Ruleset, ctx: _Ctx, name: str, crit: list[int], fields: dict[str, list[str]]) -> Shard:
    rule_nodes: list[tuple[str, int, str, Node]] = []
    for i in crit:
        c = rs.criteria[i]
        pairs = [("h", c.hazard_if, True), ("c", c.hazard_if, False)]
        if c.applies_if is not None:
            pairs += [("a", c.applies_if, True), ("n", c.applies_if, False)]
        for kind, cond, positive in pairs:
            try:
                pieces = _split(ctx.nnf(cond, positive))
            except CompileError as exc:
                raise CompileError(f"判定项 {c.id}：{exc}") from None
            for j, node in enumerate(pieces):
                if _leaf_count(node) > MAX_LEAVES_PER_BUCKET:
                    raise CompileError(f"判定项 {c.id} 的条件含 {_leaf_count(node)} 个比较，超过上限 {MAX_LEAVES_PER_BUCKET}")
                suffix = "" if len(pieces) == 1 else f".{j}"
                rule_nodes.append((f"c{i}{kind}{suffix}", i, KINDS[kind], node))
    # bucket anchors: each bucket's rules hang at most MAX_LEAVES_PER_BUCKET tests below its anchor
    buckets: list[list[tuple[str, int, str, Node]]] = [[]]
    load = 0
    for rule in rule_nodes:
        size = _leaf_count(rule[3])
        if load + size > MAX_LEAVES_PER_BUCKET and buckets[-1]:
            buckets.append([])
            load = 0
        buckets[-1].append(rule)
        load += size
    rules: dict[str, Any] = {SENTINEL: {"all": [{"m": {"$ex": {MARKER: 1}}}]}}
    rule_map: dict[str, tuple[int, str]] = {}
    anchors = [f"__b{k}" for k in range(len(buckets))]
    for k, bucket in enumerate(buckets):
        anchor = ("test", encode({anchors[k]: 1}), False)
        for rname, i, kind, node in bucket:
            rules[rname] = {"all": [{"m": _to_json(_mk("and", [anchor, node]))}]}
            rule_map[rname] = (i, kind)
    if len(anchors) + sum(len(v) for v in fields.values()) + 3 > 252:
        raise CompileError(f"{name}: 事实字段超过 durable_rules 的 252 个上限")
    return Shard(name, encode(rules), crit, fields, anchors, rule_map)
