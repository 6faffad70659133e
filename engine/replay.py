"""Impact replay: judge past checklists under two versions of a ruleset and list every determination that changes.

Each checklist is parsed (structural validation only: an invalid one is skipped with its problems), its
answers are bound to each version by question id (answers a version does not ask are carried and counted,
never an error; wrong types are reported and treated as unanswered), and both versions are evaluated with
one ``Engine``. Criteria are compared in groups paired by id, by identical official text or by highly
similar text (``pair_criteria``); a group's outcome is its most serious member's.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.answers import Answer, check_answer
from engine.catalog import Catalog, Loaded, SelectionError
from engine.checklist import Checklist, json_path, parse_checklist
from engine.conditions import justification, missing, trace_leaves
from engine.evaluator import Engine
from engine.model import Criterion, Outcome, Ruleset
from engine.problems import Problem, ValidationFailed
from engine.ruleset_diff import MIN_SIMILARITY, match_criteria
from engine.ruleset_diff import similarity as text_similarity

ABSENT = "absent"  # the version has no criterion in this group
UNDECIDED = {"incomplete", "judgement"}
DECIDED_NO = {"clear", "not_applicable"}
SEVERITY = {"hazard": 4, "incomplete": 3, "judgement": 2, "clear": 1, "not_applicable": 0}
KINDS = ("new_hazard", "cleared_hazard", "hazard_undecided", "became_incomplete", "became_decided", "other")


class ReplayInputError(Exception):
    """Bad replay input (unknown ruleset ref, missing path, nothing to read): exit status 2."""


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Source:
    """One checklist's text: a whole .json file or one line of a .jsonl file."""

    file: str
    line: int | None
    text: str | None
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


def collect_sources(paths: Sequence[str]) -> list[Source]:
    """Files, folders (every *.json and *.jsonl inside, recursively) and JSONL files (one checklist a line)."""
    out: list[Source] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files = sorted((f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in (".json", ".jsonl")),
                           key=str)
            for f in files:
                out.extend(_file_sources(f))
        elif path.is_file():
            out.extend(_file_sources(path))
        else:
            raise ReplayInputError(f"找不到检查表文件或目录：{p}")
    if not out:
        raise ReplayInputError(f"{'、'.join(paths)} 中没有检查表（*.json 或每行一份的 *.jsonl）")
    return out


def _file_sources(path: Path) -> list[Source]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Source(str(path), None, None, f"无法读取：{exc}")]
    if path.suffix.lower() != ".jsonl":
        return [Source(str(path), None, text)]
    return [Source(str(path), i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]


def parse_source(src: Source) -> tuple[Checklist, dict] | list[str]:
    """The checklist, or its problems as printable lines (file:line [path]: message)."""
    if src.text is None:
        return [str(Problem(src.file, src.line, "", src.error or "无法读取"))]
    try:
        return parse_checklist(src.text, src.file)
    except ValidationFailed as exc:
        return [str(Problem(src.file, src.line or p.line, p.path, p.message)) for p in exc.problems]


# ---------------------------------------------------------------- pairing criteria between versions


@dataclass(frozen=True)
class Pairing:
    """Criteria of the old and new version that correspond (either side may be empty)."""

    old: tuple[str, ...]
    new: tuple[str, ...]
    method: str  # id | same_text | similar | old_only | new_only
    score: float | None = None  # the lowest text similarity (0–1) among the links, for "similar"


_METHOD_ORDER = ("id", "same_text", "similar")
MERGE_SAME = 0.8  # a leftover item this close to an already paired one joins it (items merged or split)


def _title(text: str) -> str:
    return re.sub(r"[\W_第条一二三四五六七八九十0-9]", "", text)


def _section_ratio(old: Ruleset, a: Criterion, new: Ruleset, b: Criterion) -> float:
    sa = next((s.title for s in old.sections if s.id == a.section), "")
    sb = next((s.title for s in new.sections if s.id == b.section), "")
    return difflib.SequenceMatcher(None, _title(sa), _title(sb), autojunk=False).ratio()


def pair_criteria(old: Ruleset, new: Ruleset, min_similarity: float = MIN_SIMILARITY) -> list[Pairing]:
    """Pair criteria as ``hazard rulesets diff`` does (``ruleset_diff.match_criteria``: same id, then
    similar official wording), then let a leftover item join a paired one when the standard merged or
    split items: nearly identical wording (≥ 0.8), or similar wording (≥ ``min_similarity``) in a
    section of the same title (e.g. 2017 一、（一）第8、9项 → 2023 第十一条第（八）项)."""
    edges: list[tuple[str, str, str, float | None]] = []
    for a, b, how, ratio in match_criteria(old, new, min_similarity):
        method = "id" if how == "id" else "same_text" if ratio >= 1.0 else "similar"
        edges.append((a.id, b.id, method, None if method == "id" else round(ratio, 2)))
    used_old = {e[0] for e in edges}
    used_new = {e[1] for e in edges}
    oc = {c.id: c for c in old.criteria}
    nc = {c.id: c for c in new.criteria}

    def joins(a: str, b: str, by_id: bool) -> bool:
        ratio = text_similarity(oc[a].text, nc[b].text)
        # ids kept across versions mean a new id is a new item, unless its wording is nearly the same
        return ratio >= MERGE_SAME or not by_id and ratio >= min_similarity and _section_ratio(old, oc[a], new, nc[b]) >= 0.5

    extra: list[tuple[str, str, str, float | None]] = []
    for x in [c.id for c in old.criteria if c.id not in used_old]:
        best = max(((text_similarity(oc[x].text, nc[b].text), b, m) for _, b, m, _ in edges), default=None)
        if best and joins(x, best[1], best[2] == "id"):
            extra.append((x, best[1], "similar", round(best[0], 2)))
    for y in [c.id for c in new.criteria if c.id not in used_new]:
        best = max(((text_similarity(oc[a].text, nc[y].text), a, m) for a, _, m, _ in edges), default=None)
        if best and joins(best[1], y, best[2] == "id"):
            extra.append((best[1], y, "similar", round(best[0], 2)))
    return _groups([c.id for c in old.criteria], [c.id for c in new.criteria], edges + extra)


def _groups(old_ids: list[str], new_ids: list[str], edges: list[tuple[str, str, str, float | None]]) -> list[Pairing]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b, _, _ in edges:
        parent[find("o:" + a)] = find("n:" + b)
    members: dict[str, tuple[list[str], list[str]]] = {}
    for a in old_ids:
        members.setdefault(find("o:" + a), ([], []))[0].append(a)
    for b in new_ids:
        members.setdefault(find("n:" + b), ([], []))[1].append(b)
    out: list[Pairing] = []
    for root, (olds, news) in members.items():
        mine = [e for e in edges if find("o:" + e[0]) == root]
        if not mine:
            out.append(Pairing(tuple(olds), tuple(news), "old_only" if olds else "new_only"))
            continue
        method = max((e[2] for e in mine), key=_METHOD_ORDER.index)
        scores = [e[3] for e in mine if e[3] is not None]
        out.append(Pairing(tuple(olds), tuple(news), method, min(scores) if scores else None))
    order = {b: i for i, b in enumerate(new_ids)}
    return sorted(out, key=lambda p: (order[p.new[0]] if p.new else len(order) + old_ids.index(p.old[0])))


# ---------------------------------------------------------------- binding answers to one version


@dataclass
class Bound:
    """A checklist's answers as one version sees them."""

    answers: dict[str, Answer]
    not_asked: list[str]  # answered questions this version does not have
    problems: list[str]  # wrong types etc., "$.answers.x: message"


def bind_answers(checklist: Checklist, rs: Ruleset, own_ids: set[str], foreign: set[str]) -> Bound:
    """Bind by question id. ``own_ids``: prefixes (``id/question``) meaning this standard; ``foreign``:
    question ids of the other standards the checklist names (not this version's business)."""
    answers: dict[str, Answer] = {}
    not_asked: list[str] = []
    problems: list[str] = []
    for key, value in checklist.answers.items():
        if value is None:
            continue
        prefix, sep, qid = key.partition("/")
        if sep and prefix not in own_ids:
            continue
        qid = qid if sep else key
        if qid not in rs.question_map:
            if sep or qid not in foreign:
                not_asked.append(key)
            continue
        normalised, message = check_answer(rs.question(qid), value)
        if message:
            problems.append(f"{json_path(('answers', key))}：{message}")
        elif normalised is not None:
            answers[qid] = normalised
    return Bound(answers, not_asked, problems)


# ---------------------------------------------------------------- results


@dataclass
class Side:
    """One group under one version: its outcome and why."""

    outcome: str  # an Outcome value, or ABSENT
    reasons: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


@dataclass
class Change:
    group: int  # index into Replay.pairings
    kind: str
    old: Side
    new: Side
    never_asked: list[str]  # missing under the new version and not a question of the old version


@dataclass
class ChecklistReplay:
    source: str
    id: str
    enterprise: str
    inspection_date: dt.date
    judged_under: str | None  # the version in force on the inspection date (or pinned by the checklist)
    verdict_old: str
    verdict_new: str
    hazards_old: int
    hazards_new: int
    changes: list[Change]
    not_asked_old: list[str]
    not_asked_new: list[str]
    problems_old: list[str]
    problems_new: list[str]


@dataclass
class Skipped:
    source: str
    reason: str  # invalid | other_ruleset
    problems: list[str]


@dataclass
class Replay:
    old: Loaded
    new: Loaded
    pairings: list[Pairing]
    checklists: list[ChecklistReplay]
    skipped: list[Skipped]
    inputs: int


def verdict_of(outcomes: Iterable[str]) -> str:
    values = list(outcomes)
    if "hazard" in values:
        return "hazard"
    return "incomplete" if any(v in UNDECIDED for v in values) else "clear"


def classify(old: str, new: str) -> str | None:
    """The kind of change from ``old`` to ``new`` (outcome values or ABSENT); None = not a change."""
    if old == new:
        return None
    if new == "hazard":
        return "new_hazard"
    if old == "hazard":
        return "hazard_undecided" if new in UNDECIDED else "cleared_hazard"
    if new in UNDECIDED:
        return "other" if old in UNDECIDED else "became_incomplete"
    if old in UNDECIDED:
        return "became_decided" if new in DECIDED_NO else "other"
    if ABSENT in (old, new):
        return None  # a clear / not-applicable item that only one version has decides nothing
    return "other"  # clear <-> not_applicable


def _group_outcome(values: list[str]) -> str:
    return max(values, key=SEVERITY.__getitem__) if values else ABSENT


def _needed(c: Criterion, o: Outcome, answers: Mapping[str, Answer]) -> list[str]:
    """The unanswered questions that keep an undecided criterion open (as the evaluator lists them)."""
    if o not in (Outcome.incomplete, Outcome.judgement):
        return []
    need = missing(c.applies_if, answers) or missing(c.hazard_if, answers)
    if not need and o == Outcome.incomplete and c.describe is not None:
        need = [c.describe]
    return need


def _reason(rs: Ruleset, c: Criterion, o: Outcome, answers: Mapping[str, Answer]) -> str:
    if o in (Outcome.hazard, Outcome.clear):
        leaves = justification(c.hazard_if, answers, o == Outcome.hazard)
    elif o == Outcome.not_applicable and c.applies_if is not None:
        leaves = justification(c.applies_if, answers, False)
    elif o == Outcome.judgement:
        return f"{c.id}：待检查人员判断"
    else:
        need = _needed(c, o, answers)
        return f"{c.id}：缺少 " + "、".join(f"{rs.question(q).text.rstrip('？?')}（{q}）" for q in need)
    parts = [f"{t.question_text.rstrip('？?：: ')}：{t.observed}（{t.op} {t.required}{'' if t.held else '，不成立'}）"
             for t in trace_leaves(leaves, rs, answers)]
    return f"{c.id}：" + "；".join(parts)


class Replayer:
    """Replays checklists under two versions with one engine."""

    def __init__(self, catalog: Catalog, old_ref: str, new_ref: str, engine: Engine,
                 min_similarity: float = MIN_SIMILARITY):
        self.catalog = catalog
        self.old = self._select(old_ref, "OLD")
        self.new = self._select(new_ref, "NEW")
        if self.old.ruleset.ref == self.new.ruleset.ref:
            raise ReplayInputError(f"OLD 与 NEW 是同一个版本 {self.old.ruleset.ref}")
        o, n = self.old.ruleset, self.new.ruleset
        self.engine = engine
        self.pairings = pair_criteria(o, n, min_similarity)
        self.own_ids = {o.id, n.id}
        self._old_idx = {c.id: i for i, c in enumerate(o.criteria)}
        self._new_idx = {c.id: i for i, c in enumerate(n.criteria)}

    def _select(self, ref: str, name: str) -> Loaded:
        if "@" not in ref or not ref.partition("@")[2]:
            raise ReplayInputError(f"{name} 应写作 规则集@版本（如 industry-trade@2017），实际为 {ref!r}")
        try:
            return self.catalog.select(ref, dt.date.today()).loaded
        except SelectionError as exc:
            raise ReplayInputError(f"{name}：{exc}") from None

    def run(self, sources: Sequence[Source]) -> Replay:
        done: list[ChecklistReplay] = []
        skipped: list[Skipped] = []
        for src in sources:
            parsed = parse_source(src)
            if isinstance(parsed, list):
                skipped.append(Skipped(src.label, "invalid", parsed))
                continue
            checklist, _ = parsed
            ids = {ref.partition("@")[0] for ref in checklist.rulesets}
            if not ids & self.own_ids:
                skipped.append(Skipped(src.label, "other_ruleset", [f"检查表选用的规则集：{'、'.join(checklist.rulesets)}"]))
                continue
            done.append(self.replay_one(src.label, checklist))
        return Replay(self.old, self.new, self.pairings, done, skipped, len(sources))

    def _foreign(self, checklist: Checklist) -> set[str]:
        out: set[str] = set()
        for ref in checklist.rulesets:
            rid = ref.partition("@")[0]
            if rid not in self.own_ids:
                for x in self.catalog.versions(rid):
                    out.update(x.ruleset.question_map)
        return out

    def _judged_under(self, checklist: Checklist) -> str | None:
        for ref in checklist.rulesets:
            if ref.partition("@")[0] in self.own_ids:
                try:
                    return self.catalog.select(ref, checklist.inspection_date).loaded.ruleset.ref
                except SelectionError:
                    return None
        return None

    def replay_one(self, label: str, checklist: Checklist) -> ChecklistReplay:
        o, n = self.old.ruleset, self.new.ruleset
        foreign = self._foreign(checklist)
        bo = bind_answers(checklist, o, self.own_ids, foreign)
        bn = bind_answers(checklist, n, self.own_ids, foreign)
        out_o = self.engine.outcomes(o, bo.answers, self.old.sha256)
        out_n = self.engine.outcomes(n, bn.answers, self.new.sha256)
        changes: list[Change] = []
        for gi, p in enumerate(self.pairings):
            vo = _group_outcome([out_o[self._old_idx[i]].value for i in p.old])
            vn = _group_outcome([out_n[self._new_idx[i]].value for i in p.new])
            kind = classify(vo, vn)
            if kind is None:
                continue
            old_side = self._side(o, p.old, out_o, self._old_idx, bo.answers, vo)
            new_side = self._side(n, p.new, out_n, self._new_idx, bn.answers, vn)
            never = [q for q in new_side.missing if q not in o.question_map] if vn in UNDECIDED else []
            changes.append(Change(gi, kind, old_side, new_side, never))
        e = checklist.enterprise
        return ChecklistReplay(
            source=label, id=checklist.id, enterprise=e.name, inspection_date=checklist.inspection_date,
            judged_under=self._judged_under(checklist),
            verdict_old=verdict_of(x.value for x in out_o), verdict_new=verdict_of(x.value for x in out_n),
            hazards_old=sum(x == Outcome.hazard for x in out_o), hazards_new=sum(x == Outcome.hazard for x in out_n),
            changes=changes, not_asked_old=bo.not_asked, not_asked_new=bn.not_asked,
            problems_old=bo.problems, problems_new=bn.problems)

    @staticmethod
    def _side(rs: Ruleset, ids: tuple[str, ...], outs: list[Outcome], idx: dict[str, int],
              answers: Mapping[str, Answer], value: str) -> Side:
        if not ids:
            return Side(ABSENT)
        reasons: list[str] = []
        need: dict[str, None] = {}
        for cid in ids:
            c, o = rs.criteria[idx[cid]], outs[idx[cid]]
            if len(ids) == 1 or o.value == value or value in UNDECIDED and o.value in UNDECIDED:
                reasons.append(_reason(rs, c, o, answers))
            need.update(dict.fromkeys(_needed(c, o, answers)))
        return Side(value, reasons, list(need))


# ---------------------------------------------------------------- totals


@dataclass
class NeededQuestion:
    """A question the new version needs that the old version never asked."""

    id: str
    text: str
    section: str
    checklists: int  # how many replayed checklists lack it where the new version needs it
    criteria: list[str]  # new criteria it keeps undecided


def needed_never_asked(r: Replay) -> list[NeededQuestion]:
    n = r.new.ruleset
    sections = {s.id: s.title for s in n.sections}
    lacking: Counter[str] = Counter()
    blocks: dict[str, dict[str, None]] = {}
    for cr in r.checklists:
        seen: set[str] = set()
        for ch in cr.changes:
            for q in ch.never_asked:
                blocks.setdefault(q, {}).update(dict.fromkeys(r.pairings[ch.group].new))
                seen.add(q)
        lacking.update(seen)
    order = {q.id: i for i, q in enumerate(n.questions)}
    return [NeededQuestion(q, n.question(q).text, sections.get(n.question(q).section, ""), lacking[q], list(blocks[q]))
            for q in sorted(lacking, key=lambda q: (-lacking[q], order[q]))]


def kind_totals(r: Replay) -> dict[str, int]:
    c = Counter(ch.kind for cr in r.checklists for ch in cr.changes)
    return {k: c[k] for k in KINDS}


def transition_totals(r: Replay) -> list[tuple[str, str, int]]:
    c = Counter((ch.old.outcome, ch.new.outcome) for cr in r.checklists for ch in cr.changes)
    return [(a, b, k) for (a, b), k in c.most_common()]


def verdict_flips(r: Replay) -> list[tuple[str, str, int]]:
    c = Counter((cr.verdict_old, cr.verdict_new) for cr in r.checklists if cr.verdict_old != cr.verdict_new)
    return [(a, b, k) for (a, b), k in c.most_common()]
