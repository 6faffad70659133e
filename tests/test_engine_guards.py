"""Targeted regression tests for the durable_rules engine: missing answers, many rules on one fact,
no state between evaluations, and float formatting."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter

import pytest

from engine.compiler import encode, safe_float
from engine.evaluator import Engine
from engine.model import Outcome, QuestionType, Ruleset
from tests.oracle import (
    Oracle,
    catalog_rulesets,
    comparisons,
    condition_questions,
    normalise_answers,
    oracle_outcomes,
)

ENGINE = Engine()  # one per process: durable registers each ruleset name once
RULESETS = catalog_rulesets()
REFS = sorted(RULESETS)
UNDECIDED = (Outcome.incomplete, Outcome.judgement)


def _ruleset(rid: str, questions: list[dict], criteria: list[dict], tests: list[dict]) -> Ruleset:
    return Ruleset.model_validate({
        "format": 1, "id": rid, "version": "1", "title": "测试", "document": "测试", "issuer": "测试",
        "effective_from": "2024-01-01", "scope": "测试", "source": "tests",
        "coverage": {"items_total": len(criteria)},
        "sections": [{"id": "main", "title": "主要"}],
        "questions": questions, "criteria": criteria, "tests": tests,
    })


def _criterion(cid: str, hazard_if: dict, applies_if: dict | None = None) -> dict:
    c = {"id": cid, "clause": f"第{cid}项", "section": "main", "text": "测试", "guidance": "整改",
         "hazard_if": hazard_if}
    if applies_if is not None:
        c["applies_if"] = applies_if
    return c


def _candidates(q) -> list:
    """Values worth trying for a question: every option, both booleans, and for numbers/dates every
    literal it is compared with and the values just either side."""
    t = q.type
    if t == QuestionType.boolean:
        return [True, False]
    if t in (QuestionType.choice, QuestionType.device):
        return list(q.options)
    if t == QuestionType.multi_choice:
        return [tuple(q.options)] + [tuple(x for x in q.options if x != o) for o in q.options]
    return []


def _literals(rs: Ruleset) -> dict[str, set]:
    out: dict[str, set] = {}
    for c in rs.criteria:
        for leaf in comparisons(c.applies_if) + comparisons(c.hazard_if):
            t = rs.question(leaf.q).type
            vals = leaf.value if isinstance(leaf.value, list) else [leaf.value]
            for v in vals:
                if t in (QuestionType.number, QuestionType.integer) and isinstance(v, (int, float)) \
                        and not isinstance(v, bool):
                    step = 1 if t == QuestionType.integer else 0.5
                    out.setdefault(leaf.q, set()).update({v - step, v, v + step})
                elif t == QuestionType.date and isinstance(v, dt.date):
                    out.setdefault(leaf.q, set()).update({v - dt.timedelta(days=1), v, v + dt.timedelta(days=1)})
    return out


def all_hazard_answers(rs: Ruleset) -> dict:
    """One answer set making as many criteria hazards at once as the oracle can find: start with each
    boolean at the value the conditions most often ask for (existence/profile questions are asked
    ``eq: true``), every device 未设置 and every option ticked, then one sweep of coordinate ascent
    (each question set to the candidate value that raises the oracle's hazard count the most)."""
    votes: dict[str, Counter] = {}
    for c in rs.criteria:
        for leaf in comparisons(c.applies_if) + comparisons(c.hazard_if):
            if rs.question(leaf.q).type == QuestionType.boolean and leaf.op == "eq":
                votes.setdefault(leaf.q, Counter())[leaf.value] += 1
    answers: dict = {}
    for q in rs.questions:
        if q.type == QuestionType.boolean:
            answers[q.id] = votes[q.id].most_common(1)[0][0] if q.id in votes else True
        elif q.type == QuestionType.device:
            answers[q.id] = "未设置"
        elif q.type == QuestionType.multi_choice:
            answers[q.id] = tuple(q.options)
    oracle = Oracle(rs)
    readers: dict[str, list[int]] = {}
    for i, c in enumerate(rs.criteria):
        for qid in set(condition_questions(c.applies_if) + condition_questions(c.hazard_if)):
            readers.setdefault(qid, []).append(i)
    literals = _literals(rs)

    def score(ans: dict, idx: list[int]) -> int:
        return sum(oracle.outcome(rs.criteria[i], ans) == Outcome.hazard for i in idx)

    for q in rs.questions:
        idx = readers.get(q.id)
        if not idx:
            continue
        best = score(answers, idx)
        for v in _candidates(q) + sorted(literals.get(q.id, ())):
            trial = {**answers, q.id: v}
            s = score(trial, idx)
            if s > best:
                answers, best = trial, s
    return answers


# ---------------------------------------------------------------- (a) a missing answer never yields clear


@pytest.mark.parametrize("ref", REFS)
def test_empty_answers_decide_nothing(ref: str):
    rs = RULESETS[ref]
    got = ENGINE.decide(rs, {})
    for c, o in zip(rs.criteria, got):
        needs = condition_questions(c.applies_if) + condition_questions(c.hazard_if)
        if needs:
            assert o in UNDECIDED, f"{ref} {c.id}: no answers at all, yet {o.value}"
            assert o != Outcome.not_applicable


def _one_test_per_criterion(rs: Ruleset) -> list[tuple[int, dict]]:
    """For each criterion, the answers of one embedded test naming it (preferring one expecting hazard)."""
    out = []
    for i, c in enumerate(rs.criteria):
        named = [t for t in rs.tests if c.id in t.expect]
        named.sort(key=lambda t: t.expect[c.id] != Outcome.hazard)
        if named:
            out.append((i, normalise_answers(rs, named[0].answers)))
    return out


@pytest.mark.parametrize("ref", REFS)
def test_hazard_condition_unanswered_is_never_decided(ref: str):
    """Take each criterion's own hazard test and drop every answer its hazard condition reads: the
    criterion is then not_applicable (if its applicability is decided false), else undecided --
    never clear, never hazard."""
    rs = RULESETS[ref]
    cases = _one_test_per_criterion(rs)
    assert len(cases) == len(rs.criteria)
    for i, base in cases:
        c = rs.criteria[i]
        drop = set(condition_questions(c.hazard_if))
        answers = {k: v for k, v in base.items() if k not in drop}
        o = ENGINE.decide(rs, answers)[i]
        assert o not in (Outcome.clear, Outcome.hazard), \
            f"{ref} {c.id}: hazard condition unanswered but {o.value} (answers {answers})"


@pytest.mark.parametrize("ref", REFS)
def test_applicability_unanswered_is_incomplete(ref: str):
    rs = RULESETS[ref]
    for i, base in _one_test_per_criterion(rs):
        c = rs.criteria[i]
        if c.applies_if is None:
            continue
        drop = set(condition_questions(c.applies_if))
        answers = {k: v for k, v in base.items() if k not in drop}
        o = ENGINE.decide(rs, answers)[i]
        assert o == Outcome.incomplete, f"{ref} {c.id}: applicability unanswered but {o.value}"


MISSING_RS = _ruleset(
    "guard-missing",
    [
        {"id": "alarm", "section": "main", "text": "报警装置", "type": "device"},
        {"id": "ok", "section": "main", "text": "合格", "type": "boolean"},
        {"id": "a", "section": "main", "text": "设定值", "type": "number", "unit": "kPa"},
        {"id": "b", "section": "main", "text": "设计值", "type": "number", "unit": "kPa"},
    ],
    [
        _criterion("1", {"q": "alarm", "ne": "正常"}),
        _criterion("2", {"q": "ok", "ne": True}),
        _criterion("3", {"not": {"q": "ok", "eq": True}}),
        _criterion("4", {"q": "a", "gt": {"q": "b"}}),
        _criterion("5", {"q": "a", "le": {"mul": [{"q": "b"}, 1.1]}}),
        _criterion("6", {"q": "a", "eq": {"q": "b"}}),
        _criterion("7", {"q": "a", "ne": {"sub": [{"q": "b"}, 1]}}),
    ],
    [{"name": "t", "answers": {}, "expect": {"1": "incomplete"}}],
)


@pytest.mark.parametrize("answers", [{}, {"a": 0.0}, {"b": 0.0}, {"a": 5.0}, {"b": 5.0}, {"ok": True, "a": 1.0}])
def test_negated_and_question_operand_comparisons_with_missing_answers(answers: dict):
    """durable's $neq and $m comparisons must not match a missing field (neither the subject nor
    the referenced question)."""
    got = dict(zip([c.id for c in MISSING_RS.criteria], ENGINE.decide(MISSING_RS, answers)))
    assert got["1"] == Outcome.incomplete
    if "ok" not in answers:
        assert got["2"] == got["3"] == Outcome.incomplete
    if not ("a" in answers and "b" in answers):
        assert got["4"] == got["5"] == got["6"] == got["7"] == Outcome.incomplete, got
    assert list(got.values()) == oracle_outcomes(MISSING_RS, answers)


# ---------------------------------------------------------------- (b) several criteria on one fact all fire


@pytest.mark.parametrize("ref", REFS)
def test_many_criteria_fire_on_one_fact(ref: str):
    rs = RULESETS[ref]
    answers = all_hazard_answers(rs)
    got = ENGINE.decide(rs, answers)
    want = oracle_outcomes(rs, answers)
    hazards = [c.id for c, o in zip(rs.criteria, got) if o == Outcome.hazard]
    assert got == want
    assert len(hazards) >= max(2, len(rs.criteria) // 2), \
        f"{ref}: only {len(hazards)}/{len(rs.criteria)} criteria hazard for the all-hazard answer set"


@pytest.mark.parametrize("n", [70, 150])
@pytest.mark.parametrize("shape", ["same-test", "distinct-tests", "with-applicability"])
def test_more_matching_rules_than_durable_alpha_stack(n: int, shape: str):
    """More criteria matching one fact than durable's 64-entry alpha stack: every one still fires."""
    questions = [{"id": "alarm", "section": "main", "text": "装置", "type": "device"}] + [
        {"id": f"b{i}", "section": "main", "text": f"情形{i}", "type": "boolean"} for i in range(n)]
    criteria = []
    for i in range(n):
        if shape == "same-test":
            criteria.append(_criterion(str(i + 1), {"q": "alarm", "ne": "正常"}))
        elif shape == "distinct-tests":
            hazard_if = {"any": [{"q": f"b{i}", "eq": True}, {"q": "alarm", "ne": "正常"}]}
            criteria.append(_criterion(str(i + 1), hazard_if))
        else:
            criteria.append(_criterion(str(i + 1), {"q": "alarm", "ne": "正常"}, {"q": f"b{i}", "eq": True}))
    rs = _ruleset(f"guard-fanout-{shape}-{n}", questions, criteria,
                  [{"name": "t", "answers": {}, "expect": {"1": "hazard"}}])
    answers = {"alarm": "未设置", **{f"b{i}": True for i in range(n)}}
    assert ENGINE.decide(rs, answers) == [Outcome.hazard] * n
    answers = {"alarm": "正常", **{f"b{i}": False for i in range(n)}}
    expected = Outcome.not_applicable if shape == "with-applicability" else Outcome.clear
    assert ENGINE.decide(rs, answers) == [expected] * n


# ---------------------------------------------------------------- (c) repeated evaluation leaves no state


def _rotation() -> list[tuple[Ruleset, dict]]:
    out = []
    for ref in REFS:
        rs = RULESETS[ref]
        out.append((rs, all_hazard_answers(rs)))
        out.append((rs, {}))
        for t in rs.tests[:3]:
            out.append((rs, normalise_answers(rs, t.answers)))
    return out


@pytest.mark.parametrize("ref", REFS)
def test_a_b_a_gives_identical_outcomes(ref: str):
    rs = RULESETS[ref]
    a = all_hazard_answers(rs)
    b = normalise_answers(rs, rs.tests[0].answers)
    first = ENGINE.decide(rs, a)
    middle = ENGINE.decide(rs, b)
    again = ENGINE.decide(rs, a)
    assert first == again
    assert middle == ENGINE.decide(rs, b)
    assert first != middle or a == b


def test_no_drift_over_2000_alternating_evaluations():
    rotation = _rotation()
    reference = [ENGINE.decide(rs, answers) for rs, answers in rotation]
    for rs, answers in rotation:
        assert ENGINE.decide(rs, answers) == oracle_outcomes(rs, answers)
    for k in range(2000):
        j = k % len(rotation)
        rs, answers = rotation[j]
        got = ENGINE.decide(rs, answers)
        assert got == reference[j], f"evaluation {k}: {rs.ref} answer set {j} drifted"


# ---------------------------------------------------------------- (d) float formatting


@pytest.mark.parametrize("x", [1e-05, 1e16, 1e-7, 5e-324, 1e300, -1e-05, -1e16, 1.5e-05, 2.5e20])
def test_safe_float_has_a_point_before_the_exponent(x: float):
    text = safe_float(x)
    assert float(text) == x
    if "e" in text:
        mantissa = text.split("e")[0]
        assert "." in mantissa, text
    else:
        assert "." in text


def test_safe_float_examples():
    assert safe_float(1e-05) == "1.0e-05"
    assert safe_float(1e16) == "1.0e+16"
    assert "." in safe_float(1e-05).split("e")[0]
    assert "." in safe_float(1e16).split("e")[0]
    assert json.loads(encode({"a": 1e-05, "b": [1e16, 3.0]})) == {"a": 1e-05, "b": [1e16, 3.0]}
    with pytest.raises(ValueError):
        safe_float(math.nan)
    with pytest.raises(ValueError):
        safe_float(math.inf)


TINY = _ruleset(
    "guard-float",
    [{"id": "x", "section": "main", "text": "浓度", "type": "number", "unit": "mg/m3"}],
    [_criterion("1", {"q": "x", "lt": 1.0e-05})],
    [
        {"name": "低", "answers": {"x": 0.000001}, "expect": {"1": "hazard"}},
        {"name": "高", "answers": {"x": 1.0e16}, "expect": {"1": "clear"}},
    ],
)


@pytest.mark.parametrize("x, expected", [
    (1e-06, Outcome.hazard),
    (9.999999999999999e-06, Outcome.hazard),  # the float just below the threshold
    (1e-05, Outcome.clear),  # at the threshold: "lt" is strict
    (1.0000000000000003e-05, Outcome.clear),
    (5e-324, Outcome.hazard),
    (0.0, Outcome.hazard),
    (-1e16, Outcome.hazard),
    (1e16, Outcome.clear),
    (1e20, Outcome.clear),
    (12345.678, Outcome.clear),
])
def test_durable_accepts_exponent_floats_in_rules_and_facts(x: float, expected: Outcome):
    assert ENGINE.decide(TINY, {"x": x}) == [expected]
    assert oracle_outcomes(TINY, {"x": x}) == [expected]


def test_tiny_ruleset_embedded_tests():
    for t in TINY.tests:
        got = ENGINE.decide(TINY, normalise_answers(TINY, t.answers))
        assert got == [t.expect["1"]], t.name
    assert ENGINE.decide(TINY, {}) == [Outcome.incomplete]


# ---------------------------------------------------------------- quoted date literals


QUOTED_DATE_RS = _ruleset(
    "guard-quoted-date",
    [{"id": "d", "section": "main", "text": "检验日期", "type": "date"}],
    [_criterion("1", {"q": "d", "lt": "2020-06-30"})],  # YAML `lt: "2020-06-30"` (quoted) is a str literal
    [{"name": "早", "answers": {"d": "2020-01-01"}, "expect": {"1": "hazard"}},
     {"name": "晚", "answers": {"d": "2021-01-01"}, "expect": {"1": "clear"}}],
)


def test_quoted_date_literal_in_condition():
    """Regression (fixed in 29d5409): the loader accepts a quoted "YYYY-MM-DD" literal for a date
    question; the compiler used to call .toordinal() on the str and crash."""
    for day, expected in [(dt.date(2020, 1, 1), Outcome.hazard), (dt.date(2020, 6, 29), Outcome.hazard),
                          (dt.date(2020, 6, 30), Outcome.clear), (dt.date(2021, 1, 1), Outcome.clear)]:
        assert ENGINE.decide(QUOTED_DATE_RS, {"d": day}) == [expected], day
        assert oracle_outcomes(QUOTED_DATE_RS, {"d": day}) == [expected], day
    assert ENGINE.decide(QUOTED_DATE_RS, {}) == [Outcome.incomplete]
