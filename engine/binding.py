"""Bind a checklist's answers to the questions of the rulesets it names; list every problem."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from engine.answers import Answer, check_answer
from engine.catalog import Catalog, Selection, SelectionError
from engine.checklist import Checklist, json_path
from engine.model import Ruleset
from engine.problems import Problem, ValidationFailed


@dataclass
class Bound:
    """One selected ruleset with the checklist's answers, notes and evidence for its questions."""

    selection: Selection
    answers: dict[str, Answer]
    notes: dict[str, str]
    evidence: dict[str, list[str]]

    @property
    def ruleset(self) -> Ruleset:
        return self.selection.loaded.ruleset


def bind(checklist: Checklist, catalog: Catalog, as_of: dt.date, file: str) -> list[Bound]:
    """Select each ruleset version and check every answer; raise ``ValidationFailed`` listing all problems."""
    problems: list[Problem] = []
    bound: list[Bound] = []
    for i, ref in enumerate(checklist.rulesets):
        try:
            sel = catalog.select(ref, as_of)
        except SelectionError as exc:
            problems.append(Problem(file, None, json_path(("rulesets", i)), str(exc)))
            continue
        if any(b.ruleset.id == sel.loaded.ruleset.id for b in bound):
            problems.append(Problem(file, None, json_path(("rulesets", i)), f"规则集 {ref} 重复"))
            continue
        bound.append(Bound(sel, {}, {}, {}))
    if problems:
        raise ValidationFailed(problems)
    by_id = {b.ruleset.id: b for b in bound}

    def resolve(section: str, key: str) -> tuple[Bound, str] | None:
        path = json_path((section, key))
        rid, sep, qid = key.partition("/")
        if sep:
            b = by_id.get(rid)
            if b is None:
                problems.append(Problem(file, None, path, f"检查表未选用规则集 {rid!r}"))
                return None
            if qid not in b.ruleset.question_map:
                problems.append(Problem(file, None, path, f"规则集 {b.ruleset.ref} 中没有问题 {qid!r}"))
                return None
            return b, qid
        hits = [b for b in bound if key in b.ruleset.question_map]
        if not hits:
            names = "、".join(b.ruleset.ref for b in bound)
            problems.append(Problem(file, None, path, f"未知问题 {key!r}：所选规则集（{names}）中没有这个问题"))
            return None
        if len(hits) > 1:
            problems.append(Problem(file, None, path, f"问题 {key!r} 在多个规则集中都存在，请写作 规则集/{key}"))
            return None
        return hits[0], key

    for key, value in checklist.answers.items():
        target = resolve("answers", key)
        if target is None:
            continue
        b, qid = target
        normalised, message = check_answer(b.ruleset.question(qid), value)
        if message:
            problems.append(Problem(file, None, json_path(("answers", key)), message))
        elif normalised is not None:
            b.answers[qid] = normalised
    for key, note in checklist.notes.items():
        target = resolve("notes", key)
        if target is not None:
            target[0].notes[target[1]] = note
    for key, items in checklist.evidence.items():
        target = resolve("evidence", key)
        if target is not None:
            target[0].evidence[target[1]] = [_evidence_text(e.model_dump()) for e in items]
    if problems:
        raise ValidationFailed(problems)
    return bound


def _evidence_text(e: dict[str, Any]) -> str:
    kind = {"photo": "照片", "video": "视频", "document": "文件", "record": "记录", "sensor": "监测数据",
            "bodycam": "执法记录仪", "other": "其他"}[e["kind"]]
    parts = [kind]
    if e.get("description"):
        parts.append(e["description"])
    if e.get("uri"):
        parts.append(e["uri"])
    if e.get("sha256"):
        parts.append(f"sha256:{e['sha256'][:16]}…")
    return "：".join(parts[:2]) + ("（" + "，".join(parts[2:]) + "）" if len(parts) > 2 else "")
