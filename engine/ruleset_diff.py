"""Semantic diff of two ruleset versions: what a regulator must know when a standard is revised.

``diff_rulesets(old, new)`` compares the validated models only (no files, no engine) and returns a
``RulesetDiff`` view that the templates ``reports/diff.*.j2`` present: identity changes, criteria
added / removed / matched (by id, else by wording similarity), reworded text as a character diff,
changed hazard and applicability logic (conjunctions all ↔ any, thresholds), and changed questions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, Literal

from engine.conditions import OP_ZH, children, questions_of, required_text
from engine.hashing import canonical_json, ruleset_sha256
from engine.model import All, Any_, Arith, AtLeast, Compare, Condition, Criterion, Not, QRef, Question, Ruleset

MIN_SIMILARITY = 0.5  # difflib ratio of the official wording above which unmatched criteria are paired
SHARED_SIMILARITY = 0.3  # lower bar when the two criteria also share most of their (non-profile) questions
SHARED_QUESTIONS = 0.5  # Jaccard overlap of questions that counts as "share most"
ID_BONUS = 0.3  # how much better another partner must be to override a dissimilar same-id pair
HINT_SIMILARITY = 0.45  # an added / removed criterion names its most similar counterpart above this
HINT_SHARED_SIMILARITY = 0.25  # ... or above this when the two also have a question in common

TYPE_ZH = {
    "boolean": "是/否", "number": "数值", "integer": "整数", "choice": "单选", "multi_choice": "多选",
    "date": "日期", "text": "文字", "device": "设备（未设置/设置但失效/正常）",
}
KIND_ZH = {"automatic": "自动判定", "judgement": "检查人员判断"}


# ---------------------------------------------------------------- character diff


@dataclass(frozen=True)
class Segment:
    op: Literal["equal", "del", "ins"]
    text: str


@dataclass
class TextDiff:
    old: str
    new: str
    segments: list[Segment]

    @property
    def marked(self) -> str:
        """Plain-text form: ``[-deleted-]{+inserted+}`` (wdiff style)."""
        return "".join(s.text if s.op == "equal" else f"[-{s.text}-]" if s.op == "del" else f"{{+{s.text}+}}"
                       for s in self.segments)


def _norm(text: str) -> str:
    """Official wording without line breaks and surrounding blanks (YAML block scalars add them)."""
    return "".join(line.strip() for line in text.strip().splitlines())


def char_diff(old: str, new: str) -> list[Segment]:
    """Character-level diff, tidied for reading: an unchanged single character between two changes is
    folded into them, and adjacent changes read as one deletion followed by one insertion."""
    steps: list[tuple[str, str, bool]] = []  # (old text, new text, unchanged)
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        steps.append((old[i1:i2], new[j1:j2], tag == "equal"))
    for k, (a, b, same) in enumerate(steps):  # fold one-character islands: "[-水-]蒸气[-或-]{+、+}"
        if same and len(a) <= 1 and 0 < k < len(steps) - 1:
            steps[k] = (a, b, False)
    out: list[Segment] = []
    dels: list[str] = []
    inss: list[str] = []
    for a, b, same in steps + [("", "", True)]:
        if same:
            if dels and "".join(dels):
                out.append(Segment("del", "".join(dels)))
            if inss and "".join(inss):
                out.append(Segment("ins", "".join(inss)))
            dels, inss = [], []
            if a:
                out.append(Segment("equal", a))
        else:
            dels.append(a)
            inss.append(b)
    return out


def text_diff(old: str, new: str) -> TextDiff:
    return TextDiff(old, new, char_diff(old, new))


def similarity(a: str, b: str) -> float:
    """difflib ratio of two official wordings, ignoring line breaks and the closing "的" / "。"."""
    return SequenceMatcher(None, _norm(a).rstrip("。；;的"), _norm(b).rstrip("。；;的"), autojunk=False).ratio()


# ---------------------------------------------------------------- conditions in words


@dataclass(frozen=True)
class CondLine:
    depth: int
    label: str  # "2.1": the position in the tree, referred to by the change notes
    text: str


def _head(c: Condition) -> str:
    if isinstance(c, All):
        return "全部满足（且）"
    if isinstance(c, Any_):
        return "任一满足（或）"
    if isinstance(c, AtLeast):
        return f"至少 {c.at_least} 项满足（共 {len(c.of)} 项）"
    if isinstance(c, Not):
        return "并非"
    raise AssertionError(type(c))


def _qtext(rs: Ruleset, qid: str) -> str:
    q = rs.question_map.get(qid)
    return f"〔{q.text.strip()}〕" if q else f"〔{qid}〕"


def compare_text(leaf: Compare, rs: Ruleset) -> str:
    """One comparison in words: ``〔快速冻结装置作业间内作业人员数量〕大于 9 人``."""
    return f"{_qtext(rs, leaf.q)}{OP_ZH[leaf.op]} {required_text(leaf, rs)}"


def condition_zh(c: Condition | None, rs: Ruleset) -> str:
    """A condition on one line, e.g. ``任一满足（或）：〔…〕不等于 正常；〔…〕大于 9 人``."""
    if c is None:
        return "（无条件：全部适用）"
    if isinstance(c, Compare):
        return compare_text(c, rs)
    parts = [condition_zh(k, rs) if isinstance(k, Compare) else f"（{condition_zh(k, rs)}）" for k in children(c)]
    return f"{_head(c)}：{'；'.join(parts)}"


def condition_lines(c: Condition | None, rs: Ruleset) -> list[CondLine]:
    """A condition as an indented, numbered tree (the labels are what the change notes cite)."""
    if c is None:
        return [CondLine(0, "", "（无条件：全部适用）")]
    out: list[CondLine] = []

    def walk(node: Condition, depth: int, label: str) -> None:
        if isinstance(node, Compare):
            out.append(CondLine(depth, label, compare_text(node, rs)))
            return
        out.append(CondLine(depth, label, _head(node) + "："))
        for i, k in enumerate(children(node), 1):
            walk(k, depth + 1, f"{label}.{i}" if label else str(i))

    walk(c, 0, "")
    return out


# ---------------------------------------------------------------- condition comparison


LogicKind = Literal["conjunction", "threshold", "value", "operator", "added", "removed", "replaced", "structure"]
LOGIC_KIND_ZH = {
    "conjunction": "连接词改变", "threshold": "阈值改变", "value": "判定取值改变", "operator": "比较方式改变",
    "added": "增加条件", "removed": "删除条件", "replaced": "条件替换", "structure": "结构改变",
}


@dataclass(frozen=True)
class LogicNote:
    kind: LogicKind
    text: str

    @property
    def kind_zh(self) -> str:
        return LOGIC_KIND_ZH[self.kind]


def canon(c: Any) -> str:
    if c is None:
        return "null"
    return canonical_json(c.model_dump(mode="json", by_alias=True, exclude_none=True))


def _composite(c: Condition) -> bool:
    return isinstance(c, (All, Any_, AtLeast))


def _is_literal(v: Any) -> bool:
    if isinstance(v, list):
        return all(_is_literal(x) for x in v)
    return not isinstance(v, (QRef, Arith))


def _numeric_literal(v: Any) -> bool:
    if isinstance(v, list):
        return all(_numeric_literal(x) for x in v)
    return isinstance(v, (int, float, dt.date)) and not isinstance(v, bool)


class _Comparer:
    """Walks two condition trees side by side and says in words what changed.

    Positions are the labels of ``condition_lines``: a removed part is cited by its place in the
    condition before (修改前第 2 项), an added or changed one by its place after (修改后第 1.2 项).
    """

    def __init__(self, old_rs: Ruleset, new_rs: Ruleset, root: str):
        self.old_rs, self.new_rs, self.root = old_rs, new_rs, root
        self.notes: list[LogicNote] = []

    def note(self, kind: LogicKind, text: str) -> None:
        self.notes.append(LogicNote(kind, text))

    def where(self, new_label: str, old_label: str = "") -> str:
        if new_label:
            return f"修改后第 {new_label} 项"
        return f"修改前第 {old_label} 项" if old_label else self.root

    def compare(self, a: Condition, b: Condition, ol: str = "", nl: str = "") -> None:
        if canon(a) == canon(b):
            return
        if isinstance(a, Compare) and isinstance(b, Compare):
            self._leaf(a, b, nl)
        elif isinstance(a, Not) and isinstance(b, Not):
            self.compare(a.not_, b.not_, _sub(ol, 0), _sub(nl, 0))
        elif _composite(a) and _composite(b):
            self._composite_pair(a, b, ol, nl)
        elif _composite(b):  # one condition became a combination
            self.note("structure", f"{self.where(nl, ol)}由单一条件改为「{_head(b)}」组合")
            self._children([a], children(b), ol, nl, old_single=True)
        elif _composite(a):  # a combination became one condition
            self.note("structure", f"{self.where(nl, ol)}由「{_head(a)}」组合改为单一条件")
            self._children(children(a), [b], ol, nl, new_single=True)
        else:
            self.note("replaced", f"{self.where(nl, ol)}：{condition_zh(a, self.old_rs)} → "
                                  f"改为：{condition_zh(b, self.new_rs)}")

    def _leaf(self, a: Compare, b: Compare, nl: str) -> None:
        if a.q != b.q:
            where = f"修改后第 {nl} 项：" if nl else ""
            self.note("replaced", f"{where}{compare_text(a, self.old_rs)} → 改为：{compare_text(b, self.new_rs)}")
            return
        subject = _qtext(self.new_rs, b.q)
        old_v, new_v = required_text(a, self.old_rs), required_text(b, self.new_rs)
        if a.op != b.op:
            self.note("operator", f"{subject}：{OP_ZH[a.op]} {old_v} → {OP_ZH[b.op]} {new_v}")
            return
        numeric = _numeric_literal(a.value) and _numeric_literal(b.value)
        if numeric or not (_is_literal(a.value) and _is_literal(b.value)):
            unit = " " + (self.new_rs.question(b.q).unit or "")
            if unit.strip() and old_v.endswith(unit) and new_v.endswith(unit):
                old_v = old_v[: -len(unit)]  # "阈值 9 → 10 人", not "9 人 → 10 人"
            self.note("threshold", f"{subject}{OP_ZH[b.op]}：阈值 {old_v} → {new_v}")
        else:
            self.note("value", f"{subject}{OP_ZH[b.op]}：取值 {old_v} → {new_v}")

    def _composite_pair(self, a: Condition, b: Condition, ol: str, nl: str) -> None:
        if type(a) is not type(b):
            self.note("conjunction", f"{self.where(nl, ol)}的连接词改变：{_head(a)} → {_head(b)}")
        elif isinstance(a, AtLeast) and isinstance(b, AtLeast) and a.at_least != b.at_least:
            self.note("conjunction", f"{self.where(nl, ol)}的要求改变：{_head(a)} → {_head(b)}")
        self._children(children(a), children(b), ol, nl)

    def _children(self, olds: list[Condition], news: list[Condition], ol: str, nl: str,
                  old_single: bool = False, new_single: bool = False) -> None:
        old_label = (lambda i: ol) if old_single else (lambda i: _sub(ol, i))
        new_label = (lambda j: nl) if new_single else (lambda j: _sub(nl, j))
        free_old, free_new = list(range(len(olds))), list(range(len(news)))
        keys_new = {j: canon(n) for j, n in enumerate(news)}
        for i, o in enumerate(olds):  # identical parts first: they are unchanged, only maybe moved
            key = canon(o)
            j = next((j for j in free_new if keys_new[j] == key), None)
            if j is not None:
                free_old.remove(i)
                free_new.remove(j)
        scored = sorted(((_affinity(olds[i], news[j]), i, j) for i in free_old for j in free_new),
                        key=lambda t: (-t[0], t[1], t[2]))
        pairs: list[tuple[int, int]] = []
        for score, i, j in scored:
            if score > 0 and i in free_old and j in free_new:
                pairs.append((i, j))
                free_old.remove(i)
                free_new.remove(j)
        for i in list(free_old):  # a comparison in the same place that now asks another question
            if i in free_new and isinstance(olds[i], Compare) and isinstance(news[i], Compare):
                pairs.append((i, i))
                free_old.remove(i)
                free_new.remove(i)
        for i, j in sorted(pairs, key=lambda t: t[1]):
            self.compare(olds[i], news[j], old_label(i), new_label(j))
        for i in free_old:
            self.note("removed", f"删除条件（修改前第 {old_label(i)} 项）：{condition_zh(olds[i], self.old_rs)}"
                      if old_label(i) else f"删除条件：{condition_zh(olds[i], self.old_rs)}")
        for j in free_new:
            self.note("added", f"增加条件（修改后第 {new_label(j)} 项）：{condition_zh(news[j], self.new_rs)}"
                      if new_label(j) else f"增加条件：{condition_zh(news[j], self.new_rs)}")


def _sub(label: str, i: int) -> str:
    return f"{label}.{i + 1}" if label else str(i + 1)


def _affinity(a: Condition, b: Condition) -> float:
    """How likely two sub-conditions are the same requirement revised (0 = unrelated)."""
    if isinstance(a, Compare) and isinstance(b, Compare):
        return 0.0 if a.q != b.q else 1.5 if a.op == b.op else 1.0
    qa, qb = set(questions_of(a)), set(questions_of(b))
    union = qa | qb
    return len(qa & qb) / len(union) if union else 0.0


def compare_conditions(old: Condition | None, new: Condition | None, old_rs: Ruleset, new_rs: Ruleset,
                       root: str = "判定条件") -> list[LogicNote]:
    """What changed between two conditions, in words (empty when they are the same)."""
    if canon(old) == canon(new):
        return []
    if old is None or new is None:
        return [LogicNote("structure", "由全部适用改为有条件适用" if old is None else "由有条件适用改为全部适用")]
    if not set(questions_of(old)) & set(questions_of(new)):
        notes = [LogicNote("replaced", f"{root}整体改写：修改前后所用的问题没有相同的，请对照修改前后的条件")]
        if _composite(old) and _composite(new) and _head(old) != _head(new):
            notes.append(LogicNote("conjunction", f"{root}最外层的连接词改变：{_head(old)} → {_head(new)}"))
        return notes
    cmp = _Comparer(old_rs, new_rs, root)
    cmp.compare(old, new)
    return cmp.notes


# ---------------------------------------------------------------- view


@dataclass
class FieldChange:
    label: str
    old: str
    new: str
    diff: TextDiff | None = None  # for long texts (scope)


@dataclass
class SideInfo:
    ref: str
    title: str
    document: str
    period: str
    sha256: str
    origin: str
    criteria: int
    questions: int


@dataclass
class CriterionEntry:
    """A criterion that is only in one version."""

    id: str
    clause: str
    text: str
    conditions: list[CondLine]
    applies: list[CondLine]
    nearest: str = ""  # "与新版 3-3 相似（86%）": where a removed item may have gone (or an added one come from)


@dataclass
class CriterionPair:
    """Two criteria taken to be the same item in both versions."""

    old_id: str
    new_id: str
    old_clause: str
    new_clause: str
    old_text: str
    new_text: str
    by: Literal["id", "similarity"]
    similarity: float
    text: TextDiff | None = None
    logic: list[LogicNote] = field(default_factory=list)
    logic_before: list[CondLine] = field(default_factory=list)
    logic_after: list[CondLine] = field(default_factory=list)
    applies: list[LogicNote] = field(default_factory=list)
    applies_before: list[CondLine] = field(default_factory=list)
    applies_after: list[CondLine] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # clause (same id), kind of decision, description question
    guidance: TextDiff | None = None  # 整改要求 reworded
    questions: list[str] = field(default_factory=list)  # used questions that changed (same ids)

    @property
    def changed(self) -> bool:
        return bool(self.text or self.logic or self.applies or self.other or self.guidance or self.questions)

    @property
    def match_zh(self) -> str:
        pct = f"{self.similarity:.0%}"
        if self.by == "id":
            return "按编号对应" + ("" if self.similarity >= MIN_SIMILARITY else f"（条文相似度仅 {pct}，请核对是否为同一项）")
        return f"按条文相似度配对（相似度 {pct}）"

    @property
    def ids_zh(self) -> str:
        return self.old_id if self.old_id == self.new_id else f"{self.old_id} → {self.new_id}"

    @property
    def flags(self) -> list[str]:
        out = []
        if self.text:
            out.append("条文修改")
        if any(n.kind == "conjunction" for n in self.logic):
            out.append("连接词改变")
        if any(n.kind == "threshold" for n in self.logic):
            out.append("阈值改变")
        if self.logic and not any(n.kind in ("conjunction", "threshold") for n in self.logic):
            out.append("判定逻辑修改")
        elif any(n.kind not in ("conjunction", "threshold") for n in self.logic):
            out.append("其他逻辑修改")
        if self.applies:
            out.append("适用条件修改")
        if self.other:
            out.append("条款号或判定方式修改")
        if self.guidance:
            out.append("整改要求修改")
        if self.questions:
            out.append("所用问题修改")
        return out or ["无变化"]


@dataclass
class QuestionEntry:
    id: str
    text: str
    type_zh: str
    used_by: list[str]


@dataclass
class QuestionChange:
    id: str
    text: str  # new wording
    reworded: TextDiff | None
    changes: list[str]  # type / unit / choices / range / profile
    used_by: list[str]  # criteria of the new version that use it

    @property
    def retyped(self) -> bool:
        return bool(self.changes)


@dataclass(frozen=True)
class SummaryRow:
    depth: int  # indentation: a row counts part of the row above it
    label: str
    value: str

    @property
    def indent(self) -> str:
        return "　" * self.depth


@dataclass
class RulesetDiff:
    old: SideInfo
    new: SideInfo
    identity: list[FieldChange]
    added: list[CriterionEntry]
    removed: list[CriterionEntry]
    pairs: list[CriterionPair]
    questions_added: list[QuestionEntry]
    questions_removed: list[QuestionEntry]
    questions_changed: list[QuestionChange]
    notices: list[str] = field(default_factory=list)
    min_similarity: float = MIN_SIMILARITY

    @property
    def changed_pairs(self) -> list[CriterionPair]:
        return [p for p in self.pairs if p.changed]

    @property
    def pairs_listed(self) -> list[CriterionPair]:
        """Pairs worth a row in the concordance: changed ones and every pairing by similarity."""
        return [p for p in self.pairs if p.changed or p.by == "similarity"]

    @property
    def unchanged_same_id(self) -> list[str]:
        """Ids present in both versions with nothing changed (listed compactly)."""
        return [p.new_id for p in self.pairs if not p.changed and p.by == "id"]

    @property
    def empty(self) -> bool:
        return not (self.identity or self.added or self.removed or self.changed_pairs or self.questions_added
                    or self.questions_removed or self.questions_changed)

    @property
    def verdict(self) -> str:
        if not self.empty:
            return "存在差异"
        if self.old.sha256 != self.new.sha256:
            return "无差异（判定内容相同；文件的差别仅在版本号、测试用例、填写说明等不影响判定的内容）"
        return "无差异"

    @property
    def summary(self) -> list[SummaryRow]:
        """Counts for the top of the report."""
        pairs = self.pairs
        changed = self.changed_pairs
        by_id = sum(p.by == "id" for p in pairs)

        def count(pred) -> int:
            return sum(1 for p in pairs if pred(p))

        q_retyped = sum(1 for q in self.questions_changed if q.changes)
        q_reworded = sum(1 for q in self.questions_changed if q.reworded)
        return [
            SummaryRow(0, "判定项数", f"{self.old.criteria} → {self.new.criteria}"),
            SummaryRow(1, "新增判定项", str(len(self.added))),
            SummaryRow(1, "删除判定项", str(len(self.removed))),
            SummaryRow(1, "两版对应的判定项", f"{len(pairs)}（按编号 {by_id}，按条文相似度 {len(pairs) - by_id}）"),
            SummaryRow(2, "其中有修改", str(len(changed))),
            SummaryRow(3, "条文修改", str(count(lambda p: p.text))),
            SummaryRow(3, "判定逻辑修改", str(count(lambda p: p.logic))),
            SummaryRow(4, "连接词改变（且/或）", str(count(lambda p: any(n.kind == "conjunction" for n in p.logic)))),
            SummaryRow(4, "阈值改变", str(count(lambda p: any(n.kind == "threshold" for n in p.logic)))),
            SummaryRow(3, "适用条件修改", str(count(lambda p: p.applies))),
            SummaryRow(3, "条款号或判定方式（自动判定/检查人员判断）修改", str(count(lambda p: p.other))),
            SummaryRow(3, "所用问题的类型或文字修改", str(count(lambda p: p.questions))),
            SummaryRow(3, "整改要求修改", str(count(lambda p: p.guidance))),
            SummaryRow(2, "无修改", str(len(pairs) - len(changed))),
            SummaryRow(0, "问题数", f"{self.old.questions} → {self.new.questions}"),
            SummaryRow(1, "新增问题", str(len(self.questions_added))),
            SummaryRow(1, "删除问题", str(len(self.questions_removed))),
            SummaryRow(1, "类型、单位或选项改变的问题", str(q_retyped)),
            SummaryRow(1, "文字修改的问题", str(q_reworded)),
            SummaryRow(0, "标识信息变化", str(len(self.identity))),
        ]

    @property
    def highlights(self) -> list[str]:
        """The changes that move the line between hazard and no hazard, one line each."""
        out = []
        for p in self.pairs:
            for n in p.logic:
                if n.kind in ("conjunction", "threshold"):
                    out.append(f"{p.ids_zh}（{p.new_clause}）：{n.text}")
        return out


# ---------------------------------------------------------------- building the view


def _side(rs: Ruleset, origin: str) -> SideInfo:
    period = f"{rs.effective_from} 至 {rs.effective_until or '今'}"
    return SideInfo(rs.ref, rs.title, rs.document, period, ruleset_sha256(rs), origin, len(rs.criteria),
                    len(rs.questions))


def _identity(old: Ruleset, new: Ruleset) -> list[FieldChange]:
    def s(v: Any) -> str:
        return "（无）" if v is None or v == "" or v == [] else str(v)

    out: list[FieldChange] = []
    for key, label in (("title", "标准名称"), ("document", "文号"), ("issuer", "发布机关"), ("issued", "发布日期"),
                       ("effective_from", "施行日期"), ("effective_until", "施行截止日期"), ("supersedes", "取代版本"),
                       ("scope", "适用范围")):
        a, b = getattr(old, key), getattr(new, key)
        if a != b:
            long = isinstance(a, str) and isinstance(b, str) and max(len(a), len(b)) > 40
            out.append(FieldChange(label, s(a), s(b), text_diff(a, b) if long else None))
    cov = lambda rs: f"收录 {rs.coverage_ratio} 项"  # noqa: E731
    if cov(old) != cov(new):
        out.append(FieldChange("覆盖", cov(old), cov(new)))
    ne = lambda rs: "；".join(f"{n.item}（{n.reason}）" for n in rs.coverage.not_encoded)  # noqa: E731
    if ne(old) != ne(new):
        out.append(FieldChange("未收录的条款", s(ne(old)), s(ne(new))))
    warn = lambda rs: "；".join(f"{w.from_} 起：{w.text}" for w in rs.warnings)  # noqa: E731
    if warn(old) != warn(new):
        out.append(FieldChange("提示", s(warn(old)), s(warn(new))))
    return out


def _own_questions(rs: Ruleset, cr: Criterion) -> set[str]:
    return {q for q in questions_of(cr.hazard_if) + questions_of(cr.applies_if)
            if q in rs.question_map and not rs.question(q).profile}


def _closeness(old: Ruleset, a: Criterion, new: Ruleset, b: Criterion) -> tuple[float, float]:
    """(wording similarity, share of non-profile questions in common) of two criteria."""
    qa, qb = _own_questions(old, a), _own_questions(new, b)
    shared = len(qa & qb) / len(qa | qb) if qa | qb else 0.0
    return similarity(a.text, b.text), shared


def match_criteria(old: Ruleset, new: Ruleset, min_similarity: float = MIN_SIMILARITY
                   ) -> list[tuple[Criterion, Criterion, Literal["id", "similarity"], float]]:
    """Pairs (old, new, how, wording similarity), in the new version's order.

    Same id first. A same-id pair whose wording is dissimilar (ratio < ``min_similarity``) and that shares
    few questions is only kept when neither side has a clearly better partner (a standard that was
    renumbered reuses ids for other items): it competes with a bonus of ``ID_BONUS``; below a ratio of
    0.3 with no question in common it is not a pair at all. The rest pair by
    the most similar wording (ratio ≥ ``min_similarity``, or ≥ 0.3 when they also share most of their
    questions)."""
    new_by_id = {c.id: c for c in new.criteria}
    out: list[tuple[Criterion, Criterion, Literal["id", "similarity"], float]] = []
    candidates: list[tuple[float, float, Criterion, Criterion, Literal["id", "similarity"]]] = []
    for c in old.criteria:
        if c.id in new_by_id:
            ratio, shared = _closeness(old, c, new, new_by_id[c.id])
            if ratio >= min_similarity or shared >= SHARED_QUESTIONS:
                out.append((c, new_by_id[c.id], "id", ratio))
            elif ratio >= SHARED_SIMILARITY or shared > 0:
                candidates.append((ratio + 0.25 * shared + ID_BONUS, ratio, c, new_by_id[c.id], "id"))
            # else: the id was reused for another item; the two are not paired by id
    taken_old = {a.id for a, *_ in out}
    taken_new = {b.id for _, b, *_ in out}
    for a in (c for c in old.criteria if c.id not in taken_old):
        for b in (c for c in new.criteria if c.id not in taken_new and c.id != a.id):
            ratio, shared = _closeness(old, a, new, b)
            if ratio >= min_similarity or (ratio >= min(SHARED_SIMILARITY, min_similarity)
                                           and shared >= SHARED_QUESTIONS):
                candidates.append((ratio + 0.25 * shared, ratio, a, b, "similarity"))
    candidates.sort(key=lambda t: -t[0])
    for _, ratio, a, b, how in candidates:
        if a.id not in taken_old and b.id not in taken_new:
            out.append((a, b, how, ratio))
            taken_old.add(a.id)
            taken_new.add(b.id)
    order = {c.id: i for i, c in enumerate(new.criteria)}
    out.sort(key=lambda t: order[t[1].id])
    return out


def reused_ids(old: Ruleset, new: Ruleset,
               pairs: list[tuple[Criterion, Criterion, Literal["id", "similarity"], float]]) -> list[str]:
    """Ids present in both versions that ``match_criteria`` did not pair with each other."""
    same = {a.id for a, b, *_ in pairs if a.id == b.id}
    new_ids = {c.id for c in new.criteria}
    return [c.id for c in old.criteria if c.id in new_ids and c.id not in same]


def _nearest(rs: Ruleset, c: Criterion, other_rs: Ruleset, label: str, c_is_old: bool) -> str:
    """The most alike criterion of the other version, as a hint (wording, then shared questions)."""
    best: tuple[tuple[bool, float], float, float, Criterion] | None = None
    for o in other_rs.criteria:
        ratio, shared = _closeness(rs, c, other_rs, o) if c_is_old else _closeness(other_rs, o, rs, c)
        if ratio >= HINT_SIMILARITY or (shared > 0 and ratio >= HINT_SHARED_SIMILARITY):
            score = (shared > 0, ratio + 0.5 * shared)  # a question kept across versions is the best clue
            if best is None or score > best[0]:
                best = (score, ratio, shared, o)
    if best is None:
        return ""
    _, ratio, shared, o = best
    also = f"，共用判定问题 {shared:.0%}" if shared else ""
    return f"与{label} {o.id}（{o.clause}）最相似（条文相似度 {ratio:.0%}{also}）"


def _entry(rs: Ruleset, c: Criterion, nearest: str) -> CriterionEntry:
    return CriterionEntry(c.id, c.clause, _norm(c.text), condition_lines(c.hazard_if, rs),
                          condition_lines(c.applies_if, rs) if c.applies_if is not None else [], nearest)


def _question_changes(old: Question, new: Question) -> list[str]:
    out = []
    if old.type != new.type:
        out.append(f"类型：{TYPE_ZH[old.type.value]} → {TYPE_ZH[new.type.value]}")
    if old.unit != new.unit:
        out.append(f"单位：{old.unit or '（无）'} → {new.unit or '（无）'}")
    if old.options != new.options and (old.options or new.options) and new.type.value != "device":
        gone = [x for x in old.options if x not in new.options]
        came = [x for x in new.options if x not in old.options]
        parts = ([f"删除 {'、'.join(gone)}"] if gone else []) + ([f"增加 {'、'.join(came)}"] if came else [])
        out.append("选项：" + ("；".join(parts) if parts else "顺序改变"))
    for key, label in (("min", "最小值"), ("max", "最大值")):
        a, b = getattr(old, key), getattr(new, key)
        if a != b:
            out.append(f"{label}：{'（无）' if a is None else f'{a:g}'} → {'（无）' if b is None else f'{b:g}'}")
    if old.profile != new.profile:
        out.append("企业基本情况问题：" + ("是 → 否" if old.profile else "否 → 是"))
    return out


def _used_by(rs: Ruleset) -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for c in rs.criteria:
        for q in dict.fromkeys(questions_of(c.applies_if) + questions_of(c.hazard_if)
                               + ([c.describe] if c.describe else [])):
            used.setdefault(q, []).append(c.id)
    return used


def _pair(old_rs: Ruleset, new_rs: Ruleset, a: Criterion, b: Criterion, by: Literal["id", "similarity"],
          ratio: float, changed_questions: dict[str, str]) -> CriterionPair:
    p = CriterionPair(a.id, b.id, a.clause, b.clause, _norm(a.text), _norm(b.text), by, ratio)
    if p.old_text != p.new_text:
        p.text = text_diff(p.old_text, p.new_text)
    p.logic = compare_conditions(a.hazard_if, b.hazard_if, old_rs, new_rs)
    if p.logic:
        p.logic_before, p.logic_after = condition_lines(a.hazard_if, old_rs), condition_lines(b.hazard_if, new_rs)
    p.applies = compare_conditions(a.applies_if, b.applies_if, old_rs, new_rs, "适用条件")
    if p.applies:
        p.applies_before = condition_lines(a.applies_if, old_rs)
        p.applies_after = condition_lines(b.applies_if, new_rs)
    if a.clause != b.clause and by == "id":  # (a pair by similarity shows both clauses in its heading)
        p.other.append(f"条款：{a.clause} → {b.clause}")
    if a.kind != b.kind:
        p.other.append(f"判定方式：{KIND_ZH[a.kind.value]} → {KIND_ZH[b.kind.value]}")
    if a.describe != b.describe:
        p.other.append(f"情况描述问题：{a.describe or '（无）'} → {b.describe or '（无）'}")
    if _norm(a.guidance) != _norm(b.guidance):
        p.guidance = text_diff(_norm(a.guidance), _norm(b.guidance))
    if not p.logic and not p.applies:  # same logic: say when a question it relies on changed meaning
        for q in dict.fromkeys(questions_of(b.applies_if) + questions_of(b.hazard_if)):
            if q in changed_questions:
                p.questions.append(f"{_qtext(new_rs, q)}（{q}）：{changed_questions[q]}")
    return p


def diff_rulesets(old: Ruleset, new: Ruleset, *, old_origin: str = "", new_origin: str = "",
                  min_similarity: float = MIN_SIMILARITY) -> RulesetDiff:
    """Compare two ruleset versions; the result says what changed for whoever applies the standard."""
    pairs_raw = match_criteria(old, new, min_similarity)
    paired_old = {a.id for a, *_ in pairs_raw}
    paired_new = {b.id for _, b, *_ in pairs_raw}

    old_q, new_q = old.question_map, new.question_map
    used_old, used_new = _used_by(old), _used_by(new)
    q_added = [QuestionEntry(q.id, q.text.strip(), TYPE_ZH[q.type.value], used_new.get(q.id, []))
               for q in new.questions if q.id not in old_q]
    q_removed = [QuestionEntry(q.id, q.text.strip(), TYPE_ZH[q.type.value], used_old.get(q.id, []))
                 for q in old.questions if q.id not in new_q]
    q_changed: list[QuestionChange] = []
    for q in new.questions:
        if q.id in old_q:
            o = old_q[q.id]
            changes = _question_changes(o, q)
            reworded = text_diff(_norm(o.text), _norm(q.text)) if _norm(o.text) != _norm(q.text) else None
            if changes or reworded:
                q_changed.append(QuestionChange(q.id, _norm(q.text), reworded, changes, used_new.get(q.id, [])))
    changed_questions = {c.id: "；".join(c.changes + (["问题文字修改"] if c.reworded else [])) for c in q_changed}

    pairs = [_pair(old, new, a, b, by, ratio, changed_questions) for a, b, by, ratio in pairs_raw]
    removed_c = [c for c in old.criteria if c.id not in paired_old]
    added_c = [c for c in new.criteria if c.id not in paired_new]
    removed = [_entry(old, c, _nearest(old, c, new, "新版", True)) for c in removed_c]
    added = [_entry(new, c, _nearest(new, c, old, "旧版", False)) for c in added_c]

    notices = []
    if old.id != new.id:
        notices.append(f"两者的规则集编号不同（{old.id} 与 {new.id}）：比较的可能不是同一标准的两个版本。")
    if old.effective_from > new.effective_from:
        notices.append(f"“旧版” {old.ref} 的施行日期（{old.effective_from}）晚于“新版” {new.ref}（{new.effective_from}）："
                       "请确认参数顺序（先旧后新）。")
    reused = reused_ids(old, new, pairs_raw)
    if reused:
        notices.append(f"{len(reused)} 个编号在两版中都有，但条文差异很大（相似度低于 "
                       f"{SHARED_SIMILARITY:.0%}，或另有条文更相近的判定项），未按编号对应"
                       f"（标准可能已重新编号）：{'、'.join(reused)}。")
    if any(p.by == "similarity" for p in pairs):
        notices.append(f"编号不同的判定项按条文相似度配对（difflib 相似度不低于 {min_similarity:.0%}，"
                       f"或不低于 {min(SHARED_SIMILARITY, min_similarity):.0%} 且判定所用问题大部分相同）；"
                       "配对仅供参考，请对照条文核实。")
    return RulesetDiff(_side(old, old_origin), _side(new, new_origin), _identity(old, new), added, removed, pairs,
                       q_added, q_removed, q_changed, notices, min_similarity)


# ---------------------------------------------------------------- rendering


DiffFormat = Literal["text", "md", "html"]
TEMPLATES: dict[str, str] = {"text": "diff.txt.j2", "md": "diff.md.j2", "html": "diff.html.j2"}


def render_diff(d: RulesetDiff, fmt: DiffFormat) -> str:
    from engine import __version__
    from engine.report import environment

    return environment(fmt).get_template(TEMPLATES[fmt]).render(d=d, engine_version=__version__)
