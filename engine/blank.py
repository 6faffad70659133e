"""Blank checklists for a ruleset version: only the questions that can still apply, grouped by section."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from engine.answers import Answer, check_answer
from engine.conditions import evaluate, questions_of
from engine.model import Question, QuestionType, Ruleset

TYPE_HINT = {
    QuestionType.boolean: "是 / 否",
    QuestionType.device: "未设置 / 设置但失效 / 正常",
    QuestionType.number: "数值",
    QuestionType.integer: "整数",
    QuestionType.choice: "单选",
    QuestionType.multi_choice: "多选",
    QuestionType.date: "日期 YYYY-MM-DD",
    QuestionType.text: "文字说明",
}


@dataclass
class FormQuestion:
    question: Question
    options: list[str]  # boxes to tick on paper
    checked: list[str]  # boxes already ticked from --profile
    hint: str
    criteria: str  # the clauses that use it, shortened for print


@dataclass
class FormSection:
    id: str
    title: str
    questions: list[FormQuestion]


class ProfileError(ValueError):
    """A ``--profile`` value does not fit its question."""


def parse_profile(rs: Ruleset, pairs: list[str]) -> dict[str, Answer]:
    """``["sectors=机械,轻工", "dust_explosion=true"]`` → typed profile answers."""
    out: dict[str, Answer] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or key not in rs.question_map:
            raise ProfileError(f"--profile {pair!r}：应写作 问题编号=值，问题编号须是 {rs.ref} 的问题")
        q = rs.question(key)
        value: Any = raw
        if q.type == QuestionType.boolean:
            value = {"true": True, "是": True, "false": False, "否": False}.get(raw.lower(), raw)
        elif q.type == QuestionType.multi_choice:
            value = [x for x in raw.replace("，", ",").split(",") if x]
        elif q.type in (QuestionType.number, QuestionType.integer):
            try:
                value = int(raw) if q.type == QuestionType.integer else float(raw)
            except ValueError:
                raise ProfileError(f"--profile {pair!r}：应为数字") from None
        v, message = check_answer(q, value)
        if message:
            raise ProfileError(f"--profile {key}：{message}")
        if v is not None:
            out[key] = v
    return out


def relevant_questions(rs: Ruleset, known: dict[str, Answer]) -> list[Question]:
    """Questions to ask given what is known: profile questions, and those of criteria not ruled out."""
    wanted: set[str] = set()
    for c in rs.criteria:
        if c.applies_if is not None and evaluate(c.applies_if, known) is False:
            continue
        wanted.update(questions_of(c.applies_if))
        wanted.update(questions_of(c.hazard_if))
    return [q for q in rs.questions if q.profile or q.id in wanted]


def form_sections(rs: Ruleset, known: dict[str, Answer]) -> list[FormSection]:
    clauses = clauses_by_question(rs)
    qs = relevant_questions(rs, known)
    sections = []
    for s in rs.sections:
        items = [FormQuestion(q, _options(q), _checked(q, known.get(q.id)), _hint(q), clauses.get(q.id, ""))
                 for q in qs if q.section == s.id]
        if items:
            sections.append(FormSection(s.id, s.title, items))
    return sections


def clauses_by_question(rs: Ruleset) -> dict[str, str]:
    """Question id → the clauses that use it, shortened for print ("第一项、第二项、第三项 等 7 项")."""
    users: dict[str, list[str]] = {}
    for c in rs.criteria:
        for qid in questions_of(c.applies_if) + questions_of(c.hazard_if):
            users.setdefault(qid, [])
            if c.clause not in users[qid]:
                users[qid].append(c.clause)
    return {qid: "、".join(cs) if len(cs) <= 4 else f"{'、'.join(cs[:3])} 等 {len(cs)} 项" for qid, cs in users.items()}


def _checked(q: Question, value: Answer | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bool):
        return ["是" if value else "否"]
    if isinstance(value, tuple):
        return list(value)
    return [str(value)]


def _options(q: Question) -> list[str]:
    if q.type == QuestionType.boolean:
        return ["是", "否"]
    return list(q.options)


def _hint(q: Question) -> str:
    hint = TYPE_HINT[q.type]
    if q.unit:
        hint += f"（{q.unit}）"
    return hint


def blank_checklist(rs: Ruleset, known: dict[str, Answer], day: dt.date) -> dict[str, Any]:
    """A checklist JSON skeleton (valid once the enterprise and answers are filled in)."""
    questions = relevant_questions(rs, known)
    answers: dict[str, Any] = {}
    for q in questions:
        v = known.get(q.id)
        answers[q.id] = list(v) if isinstance(v, tuple) else v
    return {
        "schema_version": "1.0",
        "id": "",
        "kind": "inspection",
        "inspection_date": day.isoformat(),
        "enterprise": {"name": "", "uscc": "", "region_code": "", "industry_code": "", "address": ""},
        "inspectors": [{"name": "", "cert_no": ""}],
        "place": "",
        "rulesets": [rs.ref],
        "answers": answers,
        "notes": {},
        "evidence": {},
        "guide": {q.id: f"[{q.type.value}{'，' + q.unit if q.unit else ''}] {q.text}"
                  + (f"（可选：{' / '.join(_options(q))}）" if q.type in
                     (QuestionType.choice, QuestionType.multi_choice, QuestionType.device) else "")
                  for q in questions},
    }
