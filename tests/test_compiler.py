"""Compiler guards for durable_rules' traps and limits (shared/research/durable-rules.md §8-§17)."""

from __future__ import annotations

import json

import pytest

from engine.backend_durable import DurableBackend
from engine.compiler import MAX_BUCKETS_PER_SHARD, MAX_EXPR_COST, MAX_LOAD_PER_BUCKET, compile_ruleset, encode, safe_float
from engine.evaluator import Engine
from engine.model import Outcome, Ruleset

SPEC = {
    "format": 1, "id": "cmp", "version": "1", "title": "t", "document": "d", "issuer": "i",
    "effective_from": "2024-01-01", "scope": "s", "source": "tests", "coverage": {"items_total": 1},
    "sections": [{"id": "main", "title": "主要"}],
    "questions": [
        {"id": "output", "section": "main", "text": "月产量", "type": "number", "unit": "t"},
        {"id": "capacity", "section": "main", "text": "核定月产能", "type": "number", "unit": "t"},
    ],
    "criteria": [{"id": "1", "clause": "第一项", "section": "main", "text": "超能力生产的", "guidance": "停产整顿。",
                  "hazard_if": {"q": "output", "gt": {"mul": [{"q": "capacity"}, 1.1]}}}],
    "tests": [{"name": "x", "answers": {}, "expect": {"1": "hazard"}}],
}


def _rs(**changes) -> Ruleset:
    spec = json.loads(json.dumps(SPEC))
    spec.update(changes)
    return Ruleset.model_validate(spec)


def test_missing_reference_operand_is_unknown_not_a_match() -> None:
    """durable matches any comparison against a missing $m field; the compiler must guard it."""
    rs, engine = _rs(), Engine()
    assert engine.outcomes(rs, {"output": 0.0}) == [Outcome.incomplete]
    assert engine.outcomes(rs, {"output": 111.0, "capacity": 100.0}) == [Outcome.hazard]
    assert engine.outcomes(rs, {"output": 110.0, "capacity": 100.0}) == [Outcome.clear]
    assert engine.outcomes(rs, {"capacity": 100.0}) == [Outcome.incomplete]


def test_unguarded_reference_really_matches_in_durable() -> None:
    """Documents the durable_rules behaviour the guard exists for (if this ever fails, durable changed)."""
    backend = DurableBackend()
    rules = {"__sentinel": {"all": [{"m": {"$ex": {"__cl": 1}}}]},
             "gt": {"all": [{"m": {"$and": [{"__b0": 1}, {"$gt": {"a": {"$m": "b"}}}]}}]},
             "lte": {"all": [{"m": {"$and": [{"__b0": 1}, {"$lte": {"a": {"$m": "b"}}}]}}]}}
    backend.register("probe-missing-ref", encode(rules))
    fired = backend.fire("probe-missing-ref", '"__cl":1,"__b0":1,"a":0.0')
    assert {"gt", "lte"} <= set(fired)
    backend.close()


@pytest.mark.parametrize("x", [1e-05, 1e16, 1.5e-07, 2.0e20, 123.0])
def test_safe_float_always_has_a_mantissa_point(x: float) -> None:
    text = safe_float(x)
    assert float(text) == x
    mantissa = text.split("e")[0]
    assert "." in mantissa


def test_tiny_and_huge_thresholds_reach_durable() -> None:
    rs = _rs(criteria=[{**SPEC["criteria"][0], "hazard_if": {"q": "output", "lt": 1e-05}}])
    engine = Engine()
    assert engine.outcomes(rs, {"output": 1e-06}) == [Outcome.hazard]
    assert engine.outcomes(rs, {"output": 1e16}) == [Outcome.clear]


def test_anchors_keep_fanout_and_expression_limits() -> None:
    many = [{"id": f"q{i}", "section": "main", "text": f"装置{i}", "type": "device"} for i in range(120)]
    criteria = [{"id": str(i), "clause": f"第{i}项", "section": "main", "text": f"t{i}", "guidance": "g",
                 "hazard_if": {"any": [{"q": f"q{j}", "ne": "正常"} for j in range(i % 100, i % 100 + 20)]}}
                for i in range(60)]
    rs = _rs(questions=many, criteria=criteria)
    comp = compile_ruleset(rs, "0" * 64)
    for shard in comp.shards:
        rules = json.loads(shard.rules_json)
        assert len(shard.fields) + len(shard.anchors) + 3 <= 252
        assert len(shard.anchors) <= MAX_BUCKETS_PER_SHARD
        for name, rule in rules.items():
            if name != "__sentinel":
                first = rule["all"][0]["m"]["$and"][0]
                assert list(first) [0].startswith("__b")  # every pattern starts with its bucket anchor
    # every criterion a hazard at once: all must fire (no 64-match overflow, no event consumption)
    engine = Engine()
    all_missing = {f"q{i}": "未设置" for i in range(120)}
    assert engine.outcomes(rs, all_missing) == [Outcome.hazard] * 60
    assert engine.outcomes(rs, {f"q{i}": "正常" for i in range(120)}) == [Outcome.clear] * 60
    assert MAX_BUCKETS_PER_SHARD + 1 + MAX_LOAD_PER_BUCKET < 64 and MAX_EXPR_COST < 32
    assert len(comp.shards) > 1


def test_large_or_is_split_into_several_rules() -> None:
    qs = [{"id": f"q{i}", "section": "main", "text": f"q{i}", "type": "boolean"} for i in range(40)]
    cond = {"any": [{"all": [{"q": f"q{2 * i}", "eq": True}, {"q": f"q{2 * i + 1}", "eq": True}]} for i in range(20)]}
    rs = _rs(questions=qs, criteria=[{**SPEC["criteria"][0], "hazard_if": cond}])
    comp = compile_ruleset(rs, "1" * 64)
    hazard_rules = [n for n in comp.shards[0].rule_map if n.startswith("c0h")]
    clear_rules = [n for n in comp.shards[0].rule_map if n.startswith("c0c")]
    assert len(hazard_rules) > 1 and len(clear_rules) > 1  # an 'or' split (any part) and an 'and' split (all parts)
    engine = Engine()
    answers = {f"q{i}": False for i in range(40)}
    assert engine.outcomes(rs, answers) == [Outcome.clear]
    answers["q38"] = answers["q39"] = True
    assert engine.outcomes(rs, answers) == [Outcome.hazard]
    del answers["q38"], answers["q0"]  # q39 alone no longer decides; q0 missing keeps one conjunct open
    answers["q39"] = False
    assert engine.outcomes(rs, answers) == [Outcome.clear]  # q1 false decides pair 0; q39 false decides pair 19
    del answers["q1"]
    assert engine.outcomes(rs, answers) == [Outcome.incomplete]


@pytest.mark.parametrize("output,capacity,expected", [
    (11.0, 10.0, Outcome.hazard),      # 1.1 × 10 is 11.000000000000002 in floats: exactness matters
    (10.99, 10.0, Outcome.clear),
    (33.0, 30.0, Outcome.hazard),
    (1.1, 1.0, Outcome.hazard),
    (0.33, 0.3, Outcome.hazard),
])
def test_arithmetic_thresholds_are_exact(output, capacity, expected) -> None:
    rs = _rs(criteria=[{**SPEC["criteria"][0], "hazard_if": {"q": "output", "ge": {"mul": [{"q": "capacity"}, 1.1]}}}])
    assert Engine().outcomes(rs, {"output": output, "capacity": capacity}) == [expected]


def test_sum_of_decimals_is_exact() -> None:
    rs = _rs(criteria=[{**SPEC["criteria"][0], "hazard_if": {"q": "output", "le": {"add": [{"q": "capacity"}, 0.2]}}}])
    assert Engine().outcomes(rs, {"output": 0.3, "capacity": 0.1}) == [Outcome.hazard]  # 0.1 + 0.2 > 0.3 in floats
