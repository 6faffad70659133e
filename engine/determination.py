"""The Determination: what was decided, from which ruleset and checklist, and why."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from engine.model import Outcome, Strict

Verdict = Literal["hazard", "clear", "incomplete"]

VERDICT_ZH = {"hazard": "存在重大事故隐患", "clear": "未发现重大事故隐患", "incomplete": "检查未完成"}
OUTCOME_ZH = {
    "hazard": "重大事故隐患", "clear": "未发现", "not_applicable": "不适用",
    "incomplete": "未完成（缺少回答）", "judgement": "待检查人员判断",
}


class ConditionResult(Strict):
    """One comparison as evaluated: the basis of an appeal-proof explanation."""

    question: str
    question_text: str
    observed: str = Field(description="observed answer with unit, or 未填写")
    op: str
    required: str
    held: bool | None = Field(description="true / false / null (undecided: answer missing)")


class Observation(Strict):
    question: str
    question_text: str
    answer: str
    note: str | None = None
    evidence: list[str] = Field(default_factory=list)


class MissingQuestion(Strict):
    id: str
    text: str
    section: str


class CriterionResult(Strict):
    id: str
    clause: str
    section: str
    text: str = Field(description="official wording, verbatim")
    kind: str
    outcome: Outcome
    explanation: list[ConditionResult] = Field(description="every comparison of the hazard condition, evaluated")
    reasons: list[ConditionResult] = Field(
        description="the comparisons that decided the outcome (the branches that made it hazard / clear / not applicable)")
    applicability: list[ConditionResult]
    missing: list[str] = Field(description="question ids that must be answered to decide")
    missing_questions: list[MissingQuestion]
    observations: list[Observation]
    guidance: str
    notes: str | None = None


class RulesetInfo(Strict):
    id: str
    version: str
    sha256: str
    title: str
    document: str
    issuer: str
    effective_from: dt.date
    effective_until: dt.date | None
    selected_because: str
    items_total: int | None = Field(description="the standard's item count; null when unknown")
    items_encoded: int
    coverage_text: str = Field(description='"N/M" as printed ("N/?" when the count is unknown)')
    not_encoded: list[str]
    partial: bool


class ChecklistInfo(Strict):
    id: str
    sha256: str
    kind: str
    inspection_date: dt.date
    enterprise_name: str
    uscc: str | None
    region_code: str
    industry_code: str
    address: str
    inspectors: list[str]
    place: str | None


class Summary(Strict):
    total: int
    hazard: int
    clear: int
    not_applicable: int
    incomplete: int
    judgement: int
    verdict_text: str = Field(description="Chinese verdict line as printed")


class Determination(Strict):
    """The result of judging one checklist against one ruleset version."""

    schema_version: Literal["1.0"] = "1.0"
    verdict: Verdict
    ruleset: RulesetInfo
    engine: dict[str, str]
    checklist: ChecklistInfo
    as_of: dt.date
    criteria: list[CriterionResult]
    summary: Summary
    warnings: list[str] = Field(default_factory=list)


class DeterminationSet(Strict):
    """Several rulesets judged on one checklist (a checklist may name more than one standard)."""

    schema_version: Literal["1.0"] = "1.0"
    verdict: Verdict
    determinations: list[Determination]


def combine_verdicts(verdicts: list[str]) -> Verdict:
    if "hazard" in verdicts:
        return "hazard"
    return "clear" if all(v == "clear" for v in verdicts) else "incomplete"
