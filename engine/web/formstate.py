"""The checklist being filled in the browser: between HTML form fields and the checklist JSON.

The state of a form is the checklist itself (the same JSON ``hazard check`` reads), carried between the
pages in a hidden ``state`` field. The fields a page shows override the state; everything else (answers
to questions the page does not show, evidence, the ``guide`` of a template) passes through unchanged, so
an uploaded checklist submitted without changes comes back identical.

Field names: ``a:KEY`` an answer (``KEY`` as in the checklist's ``answers``), ``m:KEY`` marks a
multi-choice question that was on the page (so "nothing ticked" means unanswered, not "none"),
``n:KEY`` the note (现场情况) of a question, ``e:FIELD`` enterprise details, ``i:FIELD`` inspectors (one
value per row). An empty answer is *unanswered*: nothing here ever turns a blank into 否.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.answers import Answer, check_answer
from engine.binding import bind
from engine.blank import clauses_by_question, relevant_questions
from engine.catalog import Catalog, Selection, SelectionError
from engine.checklist import Checklist, json_path, parse_checklist
from engine.conditions import questions_of
from engine.model import Question, QuestionType, Ruleset
from engine.problems import Problem, ValidationFailed

FILE = "<网页表单>"
NONE_OF_THESE = "__none__"  # the "以上均无" box of a multi-choice question: answer []
ENTERPRISE_FIELDS = ("name", "uscc", "no_uscc_reason", "region_code", "industry_code", "address")
INSPECTOR_FIELDS = ("name", "cert_no", "org")
TOP_KEYS = ("schema_version", "id", "kind", "inspection_date", "enterprise", "inspectors", "place", "rulesets",
            "answers", "notes", "evidence", "remarks", "guide")
DETAIL_PATHS = re.compile(r"^\$(\.(id|kind|inspection_date|enterprise|inspectors|place|rulesets|schema_version)\b.*)?$")


class FormData:
    """The posted fields, in order (a thin, framework-free stand-in for Starlette's FormData)."""

    def __init__(self, items: Iterable[tuple[str, str]]):
        self.items = [(k, v) for k, v in items]

    def get(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.items:
            if k == name:
                return v
        return default

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self.items if k == name]

    def __contains__(self, name: str) -> bool:
        return any(k == name for k, _ in self.items)

    def names(self) -> list[str]:
        return list(dict.fromkeys(k for k, _ in self.items))


# ---------------------------------------------------------------- the state


def new_state(refs: list[str], day: dt.date, kind: str) -> dict[str, Any]:
    """A fresh checklist for the chosen standards (record number generated, editable)."""
    return {
        "schema_version": "1.0",
        "id": f"WEB-{day:%Y%m%d}-{secrets.token_hex(3).upper()}",
        "kind": kind,
        "inspection_date": day.isoformat(),
        "enterprise": {},
        "inspectors": [],
        "rulesets": list(refs),
        "answers": {},
        "notes": {},
    }


def load_state(text: str | None) -> tuple[dict[str, Any], list[Problem]]:
    """The hidden ``state`` field (or an uploaded file) as a checklist dict; problems if it is not one."""
    if not text:
        return {}, [Problem(FILE, None, "$", "表单缺少检查表数据，请从首页重新开始")]
    try:
        raw = json.loads(text)
    except ValueError as exc:
        return {}, [Problem(FILE, None, "$", f"检查表不是有效的 JSON：{exc}")]
    if not isinstance(raw, dict):
        return {}, [Problem(FILE, None, "$", "检查表的顶层必须是 JSON 对象")]
    return raw, []


def state_date(state: dict[str, Any]) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(state.get("inspection_date", "")))
    except ValueError:
        return None


def refs_of(state: dict[str, Any]) -> list[str]:
    refs = state.get("rulesets")
    return [r for r in refs if isinstance(r, str)] if isinstance(refs, list) else []


def dict_of(state: dict[str, Any], key: str) -> dict[str, Any]:
    value = state.get(key)
    return value if isinstance(value, dict) else {}


def ordered(state: dict[str, Any], slots: list[Slot] | None = None) -> dict[str, Any]:
    """The checklist with its keys in the schema's order and answers in question order (content unchanged)."""
    out = {k: state[k] for k in TOP_KEYS if k in state}
    out.update({k: v for k, v in state.items() if k not in out})
    if slots:
        for part in ("answers", "notes"):
            if isinstance(out.get(part), dict):
                items = out[part]
                keys = [s.key for s in slots if s.key in items]
                out[part] = {**{k: items[k] for k in keys}, **{k: v for k, v in items.items() if k not in keys}}
    return out


def to_json(state: dict[str, Any], slots: list[Slot] | None = None, indent: int | None = 2) -> str:
    return json.dumps(ordered(state, slots), ensure_ascii=False, indent=indent)


# ---------------------------------------------------------------- rulesets and answer keys


@dataclass
class Slot:
    """One question of one selected ruleset, with the key its answer has in the checklist."""

    key: str
    rid: str
    question: Question

    @property
    def anchor(self) -> str:
        return "q-" + self.key.replace("/", "--")


@dataclass
class Selected:
    selections: list[Selection]
    problems: list[Problem]
    slots: list[Slot] = field(default_factory=list)

    @property
    def by_key(self) -> dict[str, Slot]:
        return {s.key: s for s in self.slots}

    def key_of(self, rid: str, qid: str) -> str | None:
        for s in self.slots:
            if s.rid == rid and s.question.id == qid:
                return s.key
        return None


def select(catalog: Catalog, state: dict[str, Any]) -> Selected:
    """The ruleset versions the checklist names (in force on its date, or pinned) and every question's key."""
    day = state_date(state)
    problems: list[Problem] = []
    selections: list[Selection] = []
    if day is None:
        problems.append(Problem(FILE, None, "$.inspection_date", "检查日期应为 YYYY-MM-DD"))
        return Selected([], problems)
    refs = refs_of(state)
    if not refs:
        problems.append(Problem(FILE, None, "$.rulesets", "请至少选择一个判定标准"))
    for i, ref in enumerate(refs):
        try:
            sel = catalog.select(ref, day)
        except SelectionError as exc:
            problems.append(Problem(FILE, None, json_path(("rulesets", i)), str(exc)))
            continue
        if any(s.loaded.ruleset.id == sel.loaded.ruleset.id for s in selections):
            problems.append(Problem(FILE, None, json_path(("rulesets", i)), f"规则集 {ref} 重复"))
            continue
        selections.append(sel)
    answers = dict_of(state, "answers")
    counts: dict[str, int] = {}
    for sel in selections:
        for q in sel.loaded.ruleset.questions:
            counts[q.id] = counts.get(q.id, 0) + 1
    slots = []
    for sel in selections:
        rid = sel.loaded.ruleset.id
        for q in sel.loaded.ruleset.questions:
            long = f"{rid}/{q.id}"
            key = q.id if counts[q.id] == 1 and long not in answers else long
            slots.append(Slot(key, rid, q))
    return Selected(selections, problems, slots)


def typed_answers(rs: Ruleset, slots: list[Slot], answers: dict[str, Any]) -> dict[str, Answer]:
    """The state's valid answers to one ruleset's questions, typed as the engine reads them."""
    out: dict[str, Answer] = {}
    for s in slots:
        if s.rid != rs.id or s.key not in answers:
            continue
        value, message = check_answer(s.question, answers[s.key])
        if value is not None and message is None:
            out[s.question.id] = value
    return out


# ---------------------------------------------------------------- form → state


_INT = re.compile(r"^[+-]?\d+$")


def parse_answer(q: Question | None, values: list[str], multi: bool) -> tuple[Any, str | None]:
    """One question's posted values → its JSON answer (``None`` = unanswered), or a problem.

    What cannot be read is passed on as typed (e.g. ``"abc"`` for a number), so the engine's own
    validation reports it with the checklist path, exactly as for a JSON checklist.
    """
    values = [v.strip() for v in values]
    if multi or (q is not None and q.type == QuestionType.multi_choice):
        picked = [v for v in values if v]
        if NONE_OF_THESE in picked:
            if len(picked) > 1:
                return None, "“以上均无”不能与其他选项同时选择"
            return [], None
        return (picked or None), None
    text = next((v for v in reversed(values) if v), "")
    if not text:
        return None, None
    if q is None:
        return text, None
    if q.type == QuestionType.boolean:
        return {"true": True, "false": False}.get(text, text), None
    if q.type in (QuestionType.number, QuestionType.integer):
        number = text.replace("，", "").replace(",", "").replace("－", "-").replace("．", ".")
        if _INT.match(number):
            return int(number), None
        try:
            value = float(number)
        except ValueError:
            return text, None
        return (value if math.isfinite(value) else text), None
    return text, None


def apply_form(catalog: Catalog, form: FormData) -> tuple[dict[str, Any], list[Problem]]:
    """The hidden state with the posted fields applied; problems the form itself found."""
    state, problems = load_state(form.get("state"))
    state = copy.deepcopy(state)
    if problems:
        return state, problems
    if form.get("step") == "details":
        _apply_details(state, form)
    answers = dict(dict_of(state, "answers"))
    notes = dict(dict_of(state, "notes"))
    by_key = select(catalog, state).by_key
    names = form.names()
    keys = list(dict.fromkeys(n[2:] for n in names if n.startswith(("a:", "m:"))))
    for key in keys:
        slot = by_key.get(key)
        value, problem = parse_answer(slot.question if slot else None, form.getlist("a:" + key), "m:" + key in form)
        if problem:
            problems.append(Problem(FILE, None, json_path(("answers", key)), problem))
            continue
        if value is None:
            answers.pop(key, None)
        else:
            answers[key] = value
    for name in names:
        if name.startswith("n:"):
            key, note = name[2:], (form.get(name) or "").strip()
            if note:
                notes[key] = note
            else:
                notes.pop(key, None)
    state["answers"] = answers
    if notes or "notes" in state:
        state["notes"] = notes
    if "remarks" in form:
        _set(state, "remarks", form.get("remarks"))
    return state, problems


def _set(target: dict[str, Any], key: str, value: str | None) -> None:
    value = (value or "").strip()
    if value:
        target[key] = value
    else:
        target.pop(key, None)


def _apply_details(state: dict[str, Any], form: FormData) -> None:
    for key in ("id", "kind", "inspection_date"):
        if key in form:
            state[key] = (form.get(key) or "").strip()
    if "place" in form:
        _set(state, "place", form.get("place"))
    if "rulesets_shown" in form:
        state["rulesets"] = [r.strip() for r in form.getlist("rulesets") if r.strip()]
    enterprise = dict(dict_of(state, "enterprise"))
    for key in ENTERPRISE_FIELDS:
        if "e:" + key in form:
            _set(enterprise, key, form.get("e:" + key))
    state["enterprise"] = enterprise
    rows = [form.getlist("i:" + key) for key in INSPECTOR_FIELDS]
    if any(rows):
        inspectors = []
        for values in zip(*rows):
            person: dict[str, str] = {}
            for key, value in zip(INSPECTOR_FIELDS, values):
                _set(person, key, value)
            if person:
                inspectors.append(person)
        if inspectors or "inspectors" in state:
            state["inspectors"] = inspectors


# ---------------------------------------------------------------- validation


def problems_of(catalog: Catalog, state: dict[str, Any]) -> list[Problem]:
    """Every problem ``hazard check`` would report for this checklist (none: it can be judged)."""
    try:
        checklist, _raw = parse_checklist(json.dumps(state, ensure_ascii=False), FILE)
        day = checklist.inspection_date
        bind(checklist, catalog, day, FILE)
    except ValidationFailed as exc:
        return exc.problems
    return []


def detail_problems(problems: list[Problem], profile_keys: set[str]) -> list[Problem]:
    """The problems the details page can fix: record, enterprise, inspectors, standards, profile answers."""
    out = []
    for p in problems:
        if DETAIL_PATHS.match(p.path or "$") or any(p.path in (json_path(("answers", k)), json_path(("notes", k)))
                                                    for k in profile_keys):
            out.append(p)
    return out


# ---------------------------------------------------------------- views of the questions


def display_value(value: Any) -> str:
    """An answer as the text of an ``<input>``."""
    if value is None or isinstance(value, (list, dict)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


@dataclass
class FieldView:
    """One question as the form shows it."""

    slot: Slot
    value: Any  # the answer in the state (JSON), None = unanswered
    note: str
    clauses: str
    hidden: bool
    error: str | None
    options: list[str]

    @property
    def q(self) -> Question:
        return self.slot.question

    @property
    def key(self) -> str:
        return self.slot.key

    @property
    def text(self) -> str:
        return display_value(self.value)

    @property
    def picked(self) -> list[str]:
        if isinstance(self.value, list):
            return [str(v) for v in self.value]
        return [] if self.value is None else [display_value(self.value)]

    @property
    def none_picked(self) -> bool:
        return isinstance(self.value, list) and not self.value


@dataclass
class SectionView:
    id: str
    title: str
    fields: list[FieldView]

    @property
    def all_hidden(self) -> bool:
        return all(f.hidden for f in self.fields)


@dataclass
class RulesetForm:
    """One selected ruleset's part of a page."""

    selection: Selection
    sections: list[SectionView]
    warnings: list[str]
    config: dict[str, Any]  # for app.js: applicability conditions and the answers not on the page

    @property
    def rs(self) -> Ruleset:
        return self.selection.loaded.ruleset

    @property
    def count(self) -> int:
        return sum(len(s.fields) for s in self.sections)


def active_warnings(rs: Ruleset, day: dt.date | None) -> list[str]:
    return [w.text for w in rs.warnings if day is not None and w.from_ <= day]


def build_forms(selected: Selected, state: dict[str, Any], profile: bool,
                problems: list[Problem] | None = None) -> list[RulesetForm]:
    """The questions of each ruleset for one page.

    ``profile=True``: the profile questions (企业情况). Otherwise the other questions that can apply given
    the profile answers, each marked hidden when the answers so far rule out every criterion using it
    (app.js recomputes that live from ``config``; the server's marking serves pages without JavaScript).
    """
    answers = dict_of(state, "answers")
    notes = dict_of(state, "notes")
    errors: dict[str, str] = {}
    for p in problems or []:
        errors.setdefault(p.path, p.message)
    day = state_date(state)
    forms = []
    for sel in selected.selections:
        rs = sel.loaded.ruleset
        slots = [s for s in selected.slots if s.rid == rs.id]
        typed = typed_answers(rs, slots, answers)
        profile_ids = {q.id for q in rs.questions if q.profile}
        if profile:
            shown = [q for q in rs.questions if q.profile]
            visible = {q.id for q in shown}
        else:
            known = {k: v for k, v in typed.items() if k in profile_ids}
            shown = [q for q in relevant_questions(rs, known) if not q.profile]
            visible = {q.id for q in relevant_questions(rs, typed)}
        shown_ids = {q.id for q in shown}
        clauses = clauses_by_question(rs)
        slot_of = {s.question.id: s for s in slots}
        sections = []
        for sec in rs.sections:
            fields = []
            for q in shown:
                if q.section != sec.id:
                    continue
                s = slot_of[q.id]
                fields.append(FieldView(
                    s, answers.get(s.key), str(notes.get(s.key) or ""), clauses.get(q.id, ""),
                    q.id not in visible,
                    errors.get(json_path(("answers", s.key))) or errors.get(json_path(("notes", s.key))),
                    ["是", "否"] if q.type == QuestionType.boolean else list(q.options)))
            if fields:
                sections.append(SectionView(sec.id, sec.title, fields))
        config = {
            "id": rs.id,
            "keys": {q.id: slot_of[q.id].key for q in shown},
            "types": {q.id: q.type.value for q in shown},
            "known": {k: _json_value(v) for k, v in typed.items() if k not in shown_ids},
            "criteria": [{"applies": None if c.applies_if is None else
                          c.applies_if.model_dump(mode="json", by_alias=True, exclude_none=True),
                          "questions": [q for q in dict.fromkeys(questions_of(c.applies_if) + questions_of(c.hazard_if))
                                        if q in shown_ids]}
                         for c in rs.criteria],
        }
        forms.append(RulesetForm(sel, sections, active_warnings(rs, day), config))
    return forms


def _json_value(v: Answer) -> Any:
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def checklist_model(state: dict[str, Any]) -> Checklist | None:
    try:
        return Checklist.model_validate(state)
    except Exception:  # noqa: BLE001 - only for display
        return None
