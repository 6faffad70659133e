"""Property tests: durable_rules outcomes (``Engine().decide``) agree with the independent oracle.

Every ruleset of the catalog is covered automatically (parametrised by the catalog), plus a small
synthetic ruleset that uses the condition features the shipped rulesets do not (not, at_least,
between, in/not_in, dates, arithmetic operands, judgement criteria).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.evaluator import Engine
from engine.model import Arith, QRef, QuestionType, Ruleset
from engine.ruleset_loader import load_ruleset
from tests.oracle import (
    catalog_rulesets,
    comparisons,
    condition_questions,
    normalise_answers,
    oracle_final_outcomes,
    oracle_outcomes,
)

ENGINE = Engine()  # one per process: durable registers each ruleset name once
RULESETS = catalog_rulesets()

# ---------------------------------------------------------------- synthetic feature ruleset

SYNTHETIC_YAML = """
format: 1
id: synthetic
version: "1"
title: 合成规则集（测试用）
document: 无
issuer: 测试
effective_from: 2020-01-01
scope: 测试
source: tests
coverage: {items_total: 16}
sections:
  - {id: profile, title: 基本情况}
  - {id: main, title: 条款}
questions:
  - {id: p_kind, section: profile, profile: true, text: 企业类型, type: choice, choices: [甲, 乙, 丙]}
  - {id: p_exists, section: profile, profile: true, text: 是否有该设施, type: boolean}
  - {id: flag1, section: main, text: 情形一, type: boolean}
  - {id: flag2, section: main, text: 情形二, type: boolean}
  - {id: flag3, section: main, text: 情形三, type: boolean}
  - {id: dev1, section: main, text: 装置一, type: device}
  - {id: dev2, section: main, text: 装置二, type: device}
  - {id: n_pressure, section: main, text: 压力, type: number, unit: kPa, min: 0}
  - {id: n_limit, section: main, text: 限值, type: number, unit: kPa}
  - {id: n_margin, section: main, text: 余量, type: number, unit: kPa}
  - {id: n_small, section: main, text: 浓度, type: number, unit: mg}
  - {id: i_count, section: main, text: 人数, type: integer, unit: 人, min: 0}
  - {id: i_cap, section: main, text: 定员, type: integer, unit: 人, min: 0, max: 50}
  - {id: d_inspect, section: main, text: 检验日期, type: date}
  - {id: d_due, section: main, text: 到期日期, type: date}
  - {id: mc, section: main, text: 场所, type: multi_choice, choices: [甲区, 乙区, 丙区]}
criteria:
  - id: "1"
    clause: 第一项
    section: main
    text: 非
    applies_if: {q: p_kind, in: [甲, 乙]}
    hazard_if: {not: {all: [{q: flag1, eq: true}, {q: dev1, eq: 正常}]}}
    guidance: 整改
  - id: "2"
    clause: 第二项
    section: main
    text: 至少两项
    hazard_if:
      at_least: 2
      of:
        - {q: flag1, eq: true}
        - {q: flag2, ne: true}
        - {q: flag3, eq: true}
        - {q: dev2, ne: 正常}
    guidance: 整改
  - id: "3"
    clause: 第三项
    section: main
    text: 区间
    hazard_if: {q: n_pressure, between: [10, 20.5]}
    guidance: 整改
  - id: "4"
    clause: 第四项
    section: main
    text: 乘法
    applies_if: {q: p_exists, eq: true}
    hazard_if: {q: n_pressure, gt: {mul: [{q: n_limit}, 1.1]}}
    guidance: 整改
  - id: "5"
    clause: 第五项
    section: main
    text: 属于
    hazard_if: {any: [{q: i_count, in: [3, 5, 7]}, {q: p_kind, not_in: [甲, 乙]}]}
    guidance: 整改
  - id: "6"
    clause: 第六项
    section: main
    text: 日期
    hazard_if: {any: [{q: d_inspect, lt: 2020-06-30}, {q: d_inspect, gt: {q: d_due}}]}
    guidance: 整改
  - id: "7"
    clause: 第七项
    section: main
    text: 多选
    hazard_if: {all: [{q: mc, contains: 甲区}, {q: mc, not_contains: 丙区}]}
    guidance: 整改
  - id: "8"
    clause: 第八项
    section: main
    text: 小数
    hazard_if: {any: [{q: n_small, lt: 1.0e-05}, {q: n_small, ge: 1.0e+15}]}
    guidance: 整改
  - id: "9"
    clause: 第九项
    section: main
    text: 判断
    kind: judgement
    hazard_if: {any: [{q: flag3, eq: true}, {q: i_count, ge: {add: [{q: i_cap}, 2]}}]}
    guidance: 整改
  - id: "10"
    clause: 第十项
    section: main
    text: 嵌套算术
    hazard_if: {q: n_margin, le: {div: [{sub: [{q: n_limit}, 3]}, 2]}}
    guidance: 整改
  - id: "11"
    clause: 第十一项
    section: main
    text: 区间含问题
    hazard_if: {q: d_due, between: [2021-01-01, {q: d_inspect}]}
    guidance: 整改
  - id: "12"
    clause: 第十二项
    section: main
    text: 否定适用
    applies_if: {not: {at_least: 1, of: [{q: p_exists, eq: false}, {q: p_kind, eq: 丙}]}}
    hazard_if: {any: [{not: {q: p_kind, ne: 甲}}, {q: dev1, in: [未设置, 设置但失效]}]}
    guidance: 整改
  - id: "13"
    clause: 第十三项
    section: main
    text: 整数相等
    hazard_if: {all: [{q: i_count, eq: {q: i_cap}}, {q: i_count, ne: 0}]}
    guidance: 整改
  - id: "14"
    clause: 第十四项
    section: main
    text: 不等
    hazard_if: {any: [{q: n_pressure, ne: 25.5}, {q: n_margin, lt: -2.5}]}
    guidance: 整改
  - id: "15"
    clause: 第十五项
    section: main
    text: 不属于
    applies_if: {q: dev2, not_in: [未设置, 设置但失效]}
    hazard_if: {at_least: 3, of: [{q: flag1, eq: false}, {q: flag2, eq: false}, {q: flag3, eq: false}, {q: i_count, gt: 9}]}
    guidance: 整改
  - id: "16"
    clause: 第十六项
    section: main
    text: 深层嵌套
    hazard_if:
      not:
        any:
          - all: [{q: flag1, eq: true}, {not: {q: flag2, eq: true}}]
          - at_least: 2
            of: [{q: n_limit, ge: {q: n_margin}}, {q: dev2, eq: 正常}, {not: {q: mc, contains: 乙区}}]
    guidance: 整改
tests:
  - name: 全部隐患
    answers: {p_kind: 甲, p_exists: true, flag1: false, flag2: false, flag3: true, dev1: 未设置, dev2: 设置但失效,
              n_pressure: 20.5, n_limit: 10, n_margin: 3.5, n_small: 0.000001, i_count: 5, i_cap: 3,
              d_inspect: 2020-01-01, d_due: 2019-01-01, mc: [甲区]}
    expect: {"1": hazard, "2": hazard, "3": hazard, "4": hazard, "5": hazard, "6": hazard, "7": hazard, "8": hazard,
             "9": hazard, "10": hazard, "12": hazard, "14": hazard}
  - name: 全部无隐患
    answers: {p_kind: 乙, p_exists: true, flag1: true, flag2: true, flag3: false, dev1: 正常, dev2: 正常,
              n_pressure: 25.5, n_limit: 30, n_margin: 14, n_small: 0.00001, i_count: 4, i_cap: 3,
              d_inspect: 2021-06-01, d_due: 2022-01-01, mc: [甲区, 丙区]}
    expect: {"1": clear, "2": clear, "3": clear, "4": clear, "5": clear, "6": clear, "7": clear, "8": clear,
             "9": clear, "10": clear, "11": clear, "12": clear, "13": clear, "14": clear, "15": clear,
             "16": clear}
  - name: 其余隐患
    answers: {dev2: 正常, flag1: false, flag2: false, flag3: false, i_count: 10, i_cap: 10,
              d_inspect: 2022-01-01, d_due: 2021-01-01, n_limit: 1, n_margin: 2, mc: [乙区]}
    expect: {"11": hazard, "13": hazard, "15": hazard, "16": hazard}
  - name: 缺答
    answers: {flag3: false}
    expect: {"9": judgement, "1": incomplete, "16": incomplete}
"""

SYNTHETIC = Ruleset.model_validate(yaml.safe_load(SYNTHETIC_YAML))

ALL_RULESETS = {**RULESETS, SYNTHETIC.ref: SYNTHETIC}


def test_catalog_is_not_empty():
    assert RULESETS, "no rulesets found in the catalog"


def test_synthetic_ruleset_passes_the_loader(tmp_path: Path):
    """The synthetic ruleset is a valid ruleset, not something the loader would reject."""
    path = tmp_path / "synthetic" / "1.yaml"
    path.parent.mkdir()
    path.write_text(SYNTHETIC_YAML, encoding="utf-8")
    assert load_ruleset(path).model_dump() == SYNTHETIC.model_dump()


# ---------------------------------------------------------------- answer generation

_EPS = (0.001, 0.5, 1.0)
_ORDERED = (QuestionType.number, QuestionType.integer, QuestionType.date)
_BASE = (0, 1, 2, 3, 10, 100)


def _near(t: float) -> set[float]:
    out = {t, math.nextafter(t, math.inf), math.nextafter(t, -math.inf)}
    for e in _EPS:
        out |= {t + e, t - e}
    return out


def _arith_value(v, x: Fraction) -> Fraction:
    """The exact value of an operand when every question it names is answered x."""
    if isinstance(v, QRef):
        return x
    if isinstance(v, Arith):
        args = [_arith_value(a, x) for a in v.args]
        if v.op == "add":
            return sum(args, Fraction(0))
        if v.op == "sub":
            return args[0] - args[1]
        if v.op == "mul":
            return math.prod(args, start=Fraction(1))
        return args[0] / args[1]
    return Fraction(str(v)) if isinstance(v, float) else Fraction(v)


def _operand_refs(v) -> list[str]:
    if isinstance(v, QRef):
        return [v.q]
    if isinstance(v, Arith):
        return [q for a in v.args for q in _operand_refs(a)]
    if isinstance(v, list):
        return [q for a in v for q in _operand_refs(a)]
    return []


def interesting_values(rs: Ruleset) -> dict[str, set]:
    """Per numeric/date question: literals it is compared with, exactly and just either side, and
    values that put it exactly at (and around) the other side of question-to-question comparisons."""
    qtype = {q.id: q.type for q in rs.questions}
    leaves = [leaf for c in rs.criteria for cond in (c.applies_if, c.hazard_if) for leaf in comparisons(cond)]
    num: dict[str, set[float]] = {q.id: set(map(float, _BASE)) for q in rs.questions
                                  if q.type in (QuestionType.number, QuestionType.integer)}
    dates: dict[str, set[dt.date]] = {q.id: {dt.date(2020, 1, 1)} for q in rs.questions
                                      if q.type == QuestionType.date}
    for leaf in leaves:
        vals = leaf.value if isinstance(leaf.value, list) else [leaf.value]
        for v in vals:
            if isinstance(v, (QRef, Arith)) or isinstance(v, bool):
                continue
            if leaf.q in num and isinstance(v, (int, float)):
                num[leaf.q] |= _near(float(v))
            elif leaf.q in dates:
                d = v if isinstance(v, dt.date) else dt.date.fromisoformat(v)
                dates[leaf.q] |= {d, d - dt.timedelta(days=1), d + dt.timedelta(days=1)}
    # question-to-question comparisons (one pass over the literal pools, so pools stay small): both
    # sides get each other's values (equal answers sit exactly at the comparison), and for arithmetic
    # the subject also gets the operand's value, and just either side of it, at every pool value
    lit_num = {k: set(v) for k, v in num.items()}
    lit_dates = {k: set(v) for k, v in dates.items()}
    for leaf in leaves:
        vals = leaf.value if isinstance(leaf.value, list) else [leaf.value]
        for v in vals:
            refs = _operand_refs(v)
            if not refs:
                continue
            if leaf.q in dates:
                for r in refs:
                    dates[leaf.q] |= lit_dates[r]
                    dates[r] |= lit_dates[leaf.q]
                continue
            if leaf.q not in num:
                continue
            if isinstance(v, Arith):
                for x in set().union(*(lit_num[r] for r in refs)):
                    y = float(_arith_value(v, Fraction(str(x))))
                    if abs(y) < 1e14:
                        num[leaf.q] |= _near(y)
            else:
                pool = set(lit_num[leaf.q]).union(*(lit_num[r] for r in refs))
                for r in (leaf.q, *refs):
                    num[r] |= pool
    out: dict[str, set] = {}
    for q in rs.questions:
        if q.id in num:
            lo = q.min if q.min is not None else -1e15
            hi = q.max if q.max is not None else 1e15
            vals = num[q.id]
            if q.type == QuestionType.integer:
                vals = {int(round(x)) + d for x in vals for d in (-1, 0, 1) if abs(x) < 1e14}
            out[q.id] = {x for x in vals if lo <= x <= hi and abs(x) <= 1e15}
        elif q.id in dates:
            out[q.id] = dates[q.id]
    return out


def value_strategy(rs: Ruleset, q, pools: dict[str, set]) -> st.SearchStrategy:
    t = q.type
    if t == QuestionType.boolean:
        return st.booleans()
    if t in (QuestionType.choice, QuestionType.device):
        return st.sampled_from(q.options)
    if t == QuestionType.multi_choice:
        # each option in or out with even odds (hypothesis' own lists lean towards short ones)
        opts = q.options
        return st.tuples(*[st.booleans()] * len(opts)).map(lambda bits: tuple(o for o, b in zip(opts, bits) if b))
    if t == QuestionType.text:
        return st.text(max_size=5)
    if t == QuestionType.date:
        pool = sorted(pools[q.id])
        return st.one_of(st.sampled_from(pool), st.dates(dt.date(2000, 1, 1), dt.date(2040, 12, 31)))
    lo = q.min if q.min is not None else -1e6
    hi = q.max if q.max is not None else 1e6
    pool = sorted(pools[q.id])
    if t == QuestionType.integer:
        anywhere = st.integers(int(math.ceil(lo)), int(math.floor(hi)))
    else:
        anywhere = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return st.one_of(st.sampled_from(pool), st.sampled_from(pool), anywhere) if pool else anywhere


@lru_cache(maxsize=None)
def answer_sets(ref: str) -> st.SearchStrategy:
    """Whole answer sets: every question independently missing at a per-set rate, else a valid value.

    Most sets (three in four) focus on one criterion: only the questions it reads are considered, from the
    answers of one of the ruleset's own tests that names it (so the criterion usually applies) or from
    nothing, each question then kept, dropped or answered afresh. This makes the interesting mixes (it
    applies, one operand answered and its partner missing, a value right at a threshold) frequent.
    """
    rs = ALL_RULESETS[ref]
    pools = interesting_values(rs)
    per_question = {q.id: value_strategy(rs, q, pools) for q in rs.questions}
    order = list(per_question)
    qtype = {q.id: q.type for q in rs.questions}
    focus = []
    for c in rs.criteria:
        qids = tuple(dict.fromkeys(condition_questions(c.applies_if) + condition_questions(c.hazard_if)))
        bases = [{k: v for k, v in normalise_answers(rs, t.answers).items() if k in qids}
                 for t in rs.tests if c.id in t.expect]
        focus.append((qids, st.sampled_from([{}, *bases])))
    # criteria comparing numbers, dates or questions with each other are where the durable encoding
    # can go wrong; give them five times the attention of plain boolean/choice criteria
    picks: list[int] = []
    for i, c in enumerate(rs.criteria):
        hard = any(_operand_refs(leaf.value) or qtype[leaf.q] in _ORDERED
                   for cond in (c.applies_if, c.hazard_if) for leaf in comparisons(cond))
        picks.extend([i] * (5 if hard else 1))
    picks.extend([-1] * max(1, len(picks) // 3))  # and a quarter of whole-ruleset answer sets

    @st.composite
    def draw(draw_) -> dict:
        which = draw_(st.sampled_from(picks))
        # missing rate per answer set (tenths), so sets range from complete to nearly empty
        if which < 0:
            rate = draw_(st.sampled_from((0, 1, 2, 5, 9)))
            qids, base = order, {}
        else:
            rate = draw_(st.sampled_from((0, 1, 2, 3, 4, 5)))
            qids, base = focus[which][0], draw_(focus[which][1])
        answers = {}
        for qid in qids:
            if rate and draw_(st.integers(0, 9)) < rate:
                continue
            if qid in base and draw_(st.integers(0, 3)):  # keep the test's answer 3 times in 4
                answers[qid] = base[qid]
            else:
                answers[qid] = draw_(per_question[qid])
        return answers

    return draw()


def _check(rs: Ruleset, answers: dict) -> None:
    got = ENGINE.decide(rs, answers)
    want = oracle_outcomes(rs, answers)
    diff = [(c.id, g.value, w.value) for c, g, w in zip(rs.criteria, got, want) if g != w]
    assert not diff, f"{rs.ref}: engine vs oracle differ (criterion, engine, oracle): {diff}"


# A fixed total budget shared by the catalog (so the run stays well under a minute as rulesets are
# added), never fewer than 400 answer sets per ruleset; the synthetic ruleset gets its own 1,500.
TOTAL_EXAMPLES = 5000
PER_RULESET = max(400, TOTAL_EXAMPLES // max(1, len(RULESETS)))
_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


@pytest.mark.parametrize("ref", sorted(RULESETS))
@settings(max_examples=PER_RULESET, deadline=None, database=None, suppress_health_check=_HEALTH)
@given(data=st.data())
def test_engine_agrees_with_oracle(ref: str, data):
    rs = RULESETS[ref]
    _check(rs, data.draw(answer_sets(ref), label="answers"))


@settings(max_examples=1500, deadline=None, database=None, suppress_health_check=_HEALTH)
@given(data=st.data())
def test_engine_agrees_with_oracle_on_synthetic_features(data):
    _check(SYNTHETIC, data.draw(answer_sets(SYNTHETIC.ref), label="answers"))


# ---------------------------------------------------------------- embedded tests


@pytest.mark.parametrize("ref", sorted(ALL_RULESETS))
def test_embedded_tests_under_oracle_and_engine(ref: str):
    rs = ALL_RULESETS[ref]
    index = {c.id: i for i, c in enumerate(rs.criteria)}
    failures = []
    for t in rs.tests:
        answers = normalise_answers(rs, t.answers)
        engine = ENGINE.outcomes(rs, answers)  # the final outcomes, with the describe rule
        oracle = oracle_final_outcomes(rs, answers)
        for cid, expected in t.expect.items():
            i = index[cid]
            if oracle[i] != expected:
                failures.append(f"{t.name} / {cid}: oracle {oracle[i].value}, expected {expected.value}")
            if engine[i] != expected:
                failures.append(f"{t.name} / {cid}: engine {engine[i].value}, expected {expected.value}")
        for c, e, o in zip(rs.criteria, engine, oracle):
            if e != o:
                failures.append(f"{t.name} / {c.id} (not in expect): engine {e.value}, oracle {o.value}")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- deterministic neighbourhood of the embedded tests


def _alternatives(q, pools: dict[str, set]) -> list:
    t = q.type
    if t == QuestionType.boolean:
        return [True, False]
    if t in (QuestionType.choice, QuestionType.device):
        return list(q.options)
    if t == QuestionType.multi_choice:
        opts = q.options
        return [(), opts, *[(o,) for o in opts], *[tuple(x for x in opts if x != o) for o in opts]]
    if t in (QuestionType.number, QuestionType.integer, QuestionType.date):
        return sorted(pools[q.id])
    return []


NEIGHBOURS_PER_RULESET = 1500


@pytest.mark.parametrize("ref", sorted(ALL_RULESETS))
def test_neighbours_of_embedded_tests(ref: str):
    """Every embedded test, with each answer its criteria read removed, or replaced by every
    interesting value (options, thresholds and the values either side): engine == oracle.

    All removals are checked first (missing answers are where a wrong "clear" would come from), then a
    fixed-seed sample of the replacements, up to NEIGHBOURS_PER_RULESET answer sets per ruleset."""
    rs = ALL_RULESETS[ref]
    pools = interesting_values(rs)
    index = {c.id: i for i, c in enumerate(rs.criteria)}
    removals: dict[tuple, dict] = {}
    replacements: dict[tuple, dict] = {}

    def key(answers: dict) -> tuple:
        return tuple(sorted(answers.items(), key=lambda kv: kv[0]))

    for t in rs.tests:
        base = normalise_answers(rs, t.answers)
        qids = dict.fromkeys(q for cid in t.expect for cond in (rs.criteria[index[cid]].applies_if,
                                                                 rs.criteria[index[cid]].hazard_if)
                             for q in condition_questions(cond))
        for qid in qids:
            if qid in base:
                removed = {k: v for k, v in base.items() if k != qid}
                removals.setdefault(key(removed), removed)
            for alt in _alternatives(rs.question(qid), pools):
                changed = {**base, qid: alt}
                replacements.setdefault(key(changed), changed)
    variants = list(removals.values())
    rest = [a for k, a in replacements.items() if k not in removals]
    random.Random(ref).shuffle(rest)
    variants += rest[:max(0, NEIGHBOURS_PER_RULESET - len(variants))]
    failures: list[str] = []
    for answers in variants:
        got = ENGINE.decide(rs, answers)
        want = oracle_outcomes(rs, answers)
        for c, g, w in zip(rs.criteria, got, want):
            if g != w and len(failures) < 10:
                failures.append(f"{c.id}: engine {g.value}, oracle {w.value}, answers {answers}")
    assert not failures, "\n".join(failures)
