"""Decide every criterion of a ruleset from bound answers; build the Determination.

The durable_rules backend decides; the Python Kleene walk in ``conditions`` explains and cross-checks.
If the two ever disagree, evaluation fails loudly (``EngineInconsistency``) instead of returning a
result that might be a wrong "no hazard".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from engine import __version__
from engine.answers import Answer, display
from engine.backend_durable import DurableBackend
from engine.binding import Bound
from engine.checklist import Checklist
from engine.compiler import MARKER, Compiled, Shard, compile_ruleset, encode, fact_value, fired_kinds
from engine.conditions import difference_sign, evaluate, justification, missing, operand_value, trace, trace_leaves
from engine.determination import (
    OUTCOME_ZH,
    VERDICT_ZH,
    ChecklistInfo,
    ConditionResult,
    CriterionResult,
    Determination,
    MissingQuestion,
    Observation,
    RulesetInfo,
    Summary,
)
from engine.hashing import ruleset_sha256
from engine.model import Criterion, CriterionKind, Outcome, QuestionType, Ruleset


class EngineInconsistency(RuntimeError):
    """durable_rules and the Python evaluator disagree: a bug, never reported as a result."""


def python_outcome(c: Criterion, answers: Mapping[str, Answer]) -> Outcome:
    """The outcome implied by Kleene evaluation in Python (used to cross-check the backend)."""
    if c.applies_if is not None:
        applies = evaluate(c.applies_if, answers)
        if applies is False:
            return Outcome.not_applicable
        if applies is None:
            return Outcome.incomplete
    hazard = evaluate(c.hazard_if, answers)
    if hazard is True:
        return Outcome.hazard
    if hazard is False:
        return Outcome.clear
    return Outcome.judgement if c.kind == CriterionKind.judgement else Outcome.incomplete


def _described(c: Criterion, o: Outcome, answers: Mapping[str, Answer]) -> Outcome:
    """A judgement hazard needs the inspector's description; without it the item is not yet decided."""
    if o == Outcome.hazard and c.describe is not None and not str(answers.get(c.describe) or "").strip():
        return Outcome.incomplete
    return o


class Engine:
    """Compiles rulesets once per process and evaluates answer sets against them."""

    def __init__(self, backend: DurableBackend | None = None):
        self.backend = backend or DurableBackend()
        self._compiled: dict[str, Compiled] = {}
        self._plans: dict[int, list[FactPlan]] = {}

    def compiled(self, rs: Ruleset, sha256: str | None = None) -> Compiled:
        sha = sha256 or ruleset_sha256(rs)
        key = f"{rs.ref}#{sha}"
        comp = self._compiled.get(key)
        if comp is None:
            comp = compile_ruleset(rs, sha)
            for shard in comp.shards:
                self.backend.register(shard.name, shard.rules_json)
            self._compiled[key] = comp
            self._plans[id(comp)] = [_plan(rs, shard) for shard in comp.shards]
        return comp

    def decide(self, rs: Ruleset, answers: Mapping[str, Answer], sha256: str | None = None) -> list[Outcome]:
        """Per-criterion outcomes as decided by durable_rules (no cross-check)."""
        comp = self.compiled(rs, sha256)
        plans = self._plans[id(comp)]
        hits = [(shard, self.backend.fire(shard.name, _fact(plan, shard, answers)))
                for shard, plan in zip(comp.shards, plans)]
        fired = fired_kinds(hits, len(rs.criteria))
        return [_combine(rs.criteria[i], fired[i]) for i in range(len(rs.criteria))]

    def outcomes(self, rs: Ruleset, answers: Mapping[str, Answer], sha256: str | None = None) -> list[Outcome]:
        """Backend outcomes, verified against the Python evaluation."""
        decided = self.decide(rs, answers, sha256)
        for c, got in zip(rs.criteria, decided):
            want = python_outcome(c, answers)
            if got != want:
                raise EngineInconsistency(
                    f"{rs.ref} 判定项 {c.id}: durable_rules 得出 {got.value}，Python 复核得出 {want.value}")
        return [_described(c, o, answers) for c, o in zip(rs.criteria, decided)]

    def determine(self, bound: Bound, checklist: Checklist, checklist_sha256: str, as_of: dt.date) -> Determination:
        loaded = bound.selection.loaded
        rs = loaded.ruleset
        outcomes = self.outcomes(rs, bound.answers, loaded.sha256)
        sections = {s.id: s.title for s in rs.sections}
        results = [_criterion_result(rs, c, o, bound, sections) for c, o in zip(rs.criteria, outcomes)]
        counts = {o.value: sum(1 for x in outcomes if x == o) for o in Outcome}
        if counts["hazard"]:
            verdict = "hazard"
            text = f"存在重大事故隐患 {counts['hazard']} 项"
        elif counts["incomplete"] or counts["judgement"]:
            verdict = "incomplete"
            text = f"检查未完成：{counts['incomplete'] + counts['judgement']} 项尚不能判定"
        else:
            verdict = "clear"
            text = VERDICT_ZH["clear"]
        if rs.is_partial:
            text += f"（{rs.coverage_statement}）"
        warnings = [w.text for w in rs.warnings if as_of >= w.from_]
        if rs.is_partial:
            warnings.insert(0, f"{rs.coverage_statement}；未覆盖的项目未作判定。")
        e = checklist.enterprise
        return Determination(
            verdict=verdict,
            ruleset=RulesetInfo(
                id=rs.id, version=rs.version, sha256=loaded.sha256, title=rs.title, document=rs.document,
                issuer=rs.issuer, effective_from=rs.effective_from, effective_until=rs.effective_until,
                selected_because=bound.selection.reason, items_total=rs.coverage.items_total,
                coverage_text=rs.coverage_ratio,
                items_encoded=len(rs.criteria), not_encoded=[f"{n.item}：{n.reason}" for n in rs.coverage.not_encoded],
                partial=rs.is_partial),
            engine={"name": "hazard-engine", "version": __version__, "backend": "durable-rules 2.0.28"},
            checklist=ChecklistInfo(
                id=checklist.id, sha256=checklist_sha256, kind=checklist.kind,
                inspection_date=checklist.inspection_date, enterprise_name=e.name, uscc=e.uscc,
                region_code=e.region_code, industry_code=e.industry_code, address=e.address,
                inspectors=[i.name + (f"（{i.cert_no}）" if i.cert_no else "") for i in checklist.inspectors],
                place=checklist.place),
            as_of=as_of,
            criteria=results,
            summary=Summary(total=len(outcomes), verdict_text=text, **counts),
            warnings=warnings,
        )


def _combine(c: Criterion, kinds: set[str]) -> Outcome:
    if "hazard" in kinds and "clear" in kinds or "applies" in kinds and "na" in kinds:
        raise EngineInconsistency(f"判定项 {c.id}: 互斥规则同时触发 {sorted(kinds)}")
    if c.applies_if is not None:
        if "na" in kinds:
            return Outcome.not_applicable
        if "applies" not in kinds:
            return Outcome.incomplete
    if "hazard" in kinds:
        return Outcome.hazard
    if "clear" in kinds:
        return Outcome.clear
    return Outcome.judgement if c.kind == CriterionKind.judgement else Outcome.incomplete


FactPlan = list[tuple[str, bool, list[str], tuple[str, ...], Any]]


def _plan(rs: Ruleset, shard: Shard) -> FactPlan:
    """Per question of a shard: (id, is multi-choice, field names, options, question) — computed once."""
    return [(qid, rs.question(qid).type == QuestionType.multi_choice, names, rs.question(qid).options,
             rs.question(qid)) for qid, names in shard.fields.items()]


def _fact(plan: FactPlan, shard: Shard, answers: Mapping[str, Answer]) -> str:
    """Fact body for one shard: only referenced, answered questions; missing answers are omitted."""
    parts = [f'"{MARKER}":1'] + [f'"{a}":1' for a in shard.anchors]
    for name, (qid, operand) in shard.derived.items():
        value, other = answers.get(qid), operand_value(operand, answers)
        if value is not None and other is not None:
            parts.append(f'"{name}":{difference_sign(value, other)}')
    for qid, multi, names, options, q in plan:
        value = answers.get(qid)
        if value is None:
            continue
        if multi:
            parts.extend(f'"{name}":{"true" if opt in value else "false"}' for name, opt in zip(names, options))
        else:
            parts.append(f'"{names[0]}":{encode(fact_value(q, value))}')
    return ",".join(parts)


def _results(traces: list) -> list[ConditionResult]:
    return [ConditionResult(question=t.question, question_text=t.question_text, observed=t.observed,
                            op=t.op, required=t.required, held=t.held) for t in traces]


def _criterion_result(rs: Ruleset, c: Criterion, o: Outcome, bound: Bound,
                      sections: dict[str, str]) -> CriterionResult:
    answers = bound.answers
    if o == Outcome.not_applicable:
        need: list[str] = []
    else:
        need = missing(c.applies_if, answers)
        if not need and o in (Outcome.incomplete, Outcome.judgement):
            need = missing(c.hazard_if, answers)
        if not need and o == Outcome.incomplete and c.describe is not None:
            need = [c.describe]
    hazard_trace = [] if o == Outcome.not_applicable else trace(c.hazard_if, rs, answers)
    involved = dict.fromkeys(t.question for t in trace(c.applies_if, rs, answers) + hazard_trace)
    observations = [
        Observation(question=qid, question_text=rs.question(qid).text,
                    answer=display(rs.question(qid), answers.get(qid)),
                    note=bound.notes.get(qid), evidence=bound.evidence.get(qid, []))
        for qid in involved if qid in answers or qid in bound.notes or qid in bound.evidence
    ]
    if o == Outcome.not_applicable and c.applies_if is not None:
        decided = justification(c.applies_if, answers, False)
    elif o in (Outcome.hazard, Outcome.clear):
        decided = justification(c.hazard_if, answers, o == Outcome.hazard)
    else:
        decided = []
    return CriterionResult(
        id=c.id, clause=c.clause, section=sections.get(c.section, c.section), text=c.text, kind=c.kind.value,
        outcome=o, explanation=_results(hazard_trace), reasons=_results(trace_leaves(decided, rs, answers)),
        applicability=_results(trace(c.applies_if, rs, answers)),
        missing=need,
        missing_questions=[MissingQuestion(id=q, text=rs.question(q).text,
                                           section=sections.get(rs.question(q).section, "")) for q in need],
        observations=observations, guidance=c.guidance, notes=c.notes,
    )


__all__ = ["Engine", "EngineInconsistency", "python_outcome", "OUTCOME_ZH"]
