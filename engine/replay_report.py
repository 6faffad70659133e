"""Present an impact replay: the JSON document and the view the Chinese text template shows (totals first)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from engine import __version__
from engine.replay import KINDS, Change, ChecklistReplay, Pairing, Replay, kind_totals, needed_never_asked, \
    transition_totals, verdict_flips

OUTCOME_ZH = {"hazard": "隐患", "clear": "未发现", "not_applicable": "不适用", "incomplete": "未完成",
              "judgement": "待判断", "absent": "无此项"}
VERDICT_ZH = {"hazard": "存在隐患", "clear": "未发现隐患", "incomplete": "检查未完成"}
KIND_ZH = {"new_hazard": "新增隐患", "cleared_hazard": "隐患不再成立", "hazard_undecided": "隐患变为无法判定",
           "became_incomplete": "变为无法判定",
           "became_decided": "由未完成变为已判定", "other": "其他变化"}
METHOD_ZH = {"id": "编号相同", "same_text": "原文相同", "similar": "原文相似",
             "old_only": "仅旧版本有", "new_only": "仅新版本有"}
SKIP_ZH = {"invalid": "结构不合格", "other_ruleset": "未选用本规则集"}
DETAILED = ("new_hazard", "cleared_hazard", "hazard_undecided", "became_incomplete")


def _flip(a: str, b: str) -> str:
    return f"{OUTCOME_ZH[a]} → {OUTCOME_ZH[b]}"


def _verdict_flip(a: str, b: str) -> str:
    return f"{VERDICT_ZH[a]} → {VERDICT_ZH[b]}"


def _verdict_line(verdict: str, hazards: int) -> str:
    return f"{VERDICT_ZH[verdict]}（{hazards} 项）" if verdict == "hazard" else VERDICT_ZH[verdict]


# ---------------------------------------------------------------- view for the text template


@dataclass
class GroupLabel:
    title: str  # "12-2 第十二条第（二）项 ← 1-2-2 一、（二）第2项"
    text: str  # official wording (new version's, or old's when the item was dropped)


@dataclass
class ChangeView:
    line: str  # "[新增隐患] 12-2 第十二条第（二）项 ← 旧 1-2-2 …：未发现 → 隐患"
    old_reasons: list[str]
    new_reasons: list[str]
    missing: list[str]


@dataclass
class ChecklistView:
    number: int
    source: str
    header: str
    verdicts: str
    changes: list[ChangeView]
    not_asked: str
    problems: list[str]


@dataclass
class GroupView:
    number: int
    label: GroupLabel
    tallies: str  # "新增隐患 1 份；变为无法判定 2 份"
    detailed: bool


@dataclass
class ReplayView:
    title: str
    old_line: str
    new_line: str
    old_sha: str
    new_sha: str
    head: list[tuple[str, str]]  # 检查表, 判定结论有变化, 隐患合计, 判定项有变化
    tail: list[tuple[str, str]]
    verdict_flips: list[tuple[str, int]]
    kinds: list[tuple[str, str]]
    transitions: list[tuple[str, int]]
    groups: list[GroupView]
    minor_groups: list[str]
    needed: list[str]
    not_asked: list[str]
    checklists: list[ChecklistView]
    unchanged: int
    skipped: list[tuple[str, list[str]]]
    pairing_summary: str
    pairing_similar: list[str]
    old_only: str
    new_only: str
    engine_version: str = __version__


class _Labels:
    def __init__(self, r: Replay):
        self.o = {c.id: c for c in r.old.ruleset.criteria}
        self.n = {c.id: c for c in r.new.ruleset.criteria}

    def __call__(self, p: Pairing) -> GroupLabel:
        new = "、".join(f"{i} {self.n[i].clause}" for i in p.new)
        old = "、".join(f"{i} {self.o[i].clause}" for i in p.old)
        if not p.old:
            return GroupLabel(f"{new}（新版本新增）", "；".join(self.n[i].text for i in p.new))
        if not p.new:
            return GroupLabel(f"{old}（新版本无对应项）", "；".join(self.o[i].text for i in p.old))
        return GroupLabel(f"{new} ← 旧 {old}", "；".join(self.n[i].text for i in p.new))


def _change_view(ch: Change, r: Replay, label: _Labels) -> ChangeView:
    p = r.pairings[ch.group]
    qs = r.new.ruleset.question_map
    undecided = ch.kind in ("hazard_undecided", "became_incomplete")
    missing = [f"{q}：{qs[q].text}" + ("（新版本新增的问题，旧检查表从未询问）" if q in ch.never_asked else "")
               for q in ch.new.missing] if undecided else []
    old = ch.old.reasons if ch.kind in ("new_hazard", "cleared_hazard", "hazard_undecided") else []
    new = ch.new.reasons if ch.kind in ("new_hazard", "cleared_hazard") else []
    line = f"[{KIND_ZH[ch.kind]}] {label(p).title}：{_flip(ch.old.outcome, ch.new.outcome)}"
    return ChangeView(line, old, new, missing)


def _checklist_view(i: int, cr: ChecklistReplay, r: Replay, label: _Labels) -> ChecklistView:
    """One checklist's changes: hazards and items undecided for other reasons in full; items undecided only
    for questions the old version never asked, and the minor kinds, as one line each (ids only)."""
    under = f"（当时施行 {cr.judged_under}）" if cr.judged_under else ""
    header = f"{cr.enterprise}｜{cr.id}｜检查日期 {cr.inspection_date}{under}"
    verdicts = f"{_verdict_line(cr.verdict_old, cr.hazards_old)} → {_verdict_line(cr.verdict_new, cr.hazards_new)}"
    if cr.verdict_old == cr.verdict_new:
        verdicts += "（结论不变）"
    order = {k: n for n, k in enumerate(KINDS)}
    changes: list[ChangeView] = []
    summary: dict[str, list[str]] = {}
    for ch in sorted(cr.changes, key=lambda c: (order[c.kind], c.group)):
        p = r.pairings[ch.group]
        ids = "、".join(p.new or p.old)
        if ch.kind == "became_incomplete" and ch.never_asked == ch.new.missing:
            summary.setdefault("became_incomplete", []).append(ids)
        elif ch.kind in ("became_decided", "other"):
            summary.setdefault(ch.kind, []).append(f"{ids}（{_flip(ch.old.outcome, ch.new.outcome)}）")
        else:
            changes.append(_change_view(ch, r, label))
    lines = []
    if "became_incomplete" in summary:
        items = summary["became_incomplete"]
        lines.append(f"[{KIND_ZH['became_incomplete']}] {len(items)} 项，仅因缺少新版本新增的问题（见【需补充的问题】）："
                     + "、".join(items))
    for kind in ("became_decided", "other"):
        if kind in summary:
            lines.append(f"[{KIND_ZH[kind]}] {len(summary[kind])} 项：" + "；".join(summary[kind]))
    changes.extend(ChangeView(line, [], [], []) for line in lines)
    not_asked = f"新版本不询问的回答 {len(cr.not_asked_new)} 个（见【新版本不再询问的回答】）" if cr.not_asked_new else ""
    problems = [f"回答类型不符（旧版本，按未回答处理）{p}" for p in cr.problems_old] + \
               [f"回答类型不符（新版本，按未回答处理）{p}" for p in cr.problems_new]
    return ChecklistView(i, cr.source, header, verdicts, changes, not_asked, problems)


def _not_asked(r: Replay) -> list[str]:
    """Answered questions the new version does not ask, with the old version's text and how many checklists."""
    count = Counter(q for cr in r.checklists for q in dict.fromkeys(cr.not_asked_new))
    old_q = r.old.ruleset.question_map
    out = []
    for q, k in sorted(count.items(), key=lambda kv: (-kv[1], kv[0])):
        text = old_q[q].text if q in old_q else "（旧版本也没有此问题）"
        out.append(f"{k} 份｜{q}：{text}")
    return out


def build_view(r: Replay) -> ReplayView:
    o, n = r.old.ruleset, r.new.ruleset
    label = _Labels(r)
    kinds = kind_totals(r)
    replayed = len(r.checklists)
    skipped = Counter(s.reason for s in r.skipped)
    changed = [cr for cr in r.checklists if cr.changes]
    by_kind_lists = Counter(ch.kind for cr in r.checklists for ch in {c.kind: c for c in cr.changes}.values())
    never = Counter(ch.kind for cr in r.checklists for ch in cr.changes if ch.never_asked)
    needed = needed_never_asked(r)
    not_asked = [cr for cr in r.checklists if cr.not_asked_new]
    flips = verdict_flips(r)
    under_old = sum(cr.judged_under == o.ref for cr in r.checklists)

    totals = [
        ("检查表", f"读取 {r.inputs} 份；回放 {replayed} 份（检查日施行旧版本的 {under_old} 份）；跳过 {len(r.skipped)} 份"
                 f"（{SKIP_ZH['invalid']} {skipped['invalid']} 份，未选用 {o.id}"
                 f"{'' if o.id == n.id else ' / ' + n.id} 的 {skipped['other_ruleset']} 份）"),
        ("判定结论有变化", f"{sum(c for _, _, c in flips)}/{replayed} 份"),
        ("隐患合计", f"旧版本 {sum(c.hazards_old for c in r.checklists)} 项 → "
                   f"新版本 {sum(c.hazards_new for c in r.checklists)} 项"),
        ("判定项有变化", f"{sum(kinds.values())} 处，涉及 {len(changed)}/{replayed} 份检查表"),
    ]
    kind_rows = []
    for k in KINDS:
        text = f"{kinds[k]} 处"
        if kinds[k]:
            text += f"（{by_kind_lists[k]} 份检查表）"
        if k in ("hazard_undecided", "became_incomplete") and kinds[k]:
            text += f"，其中 {never[k]} 处缺少新版本新增的问题"
        kind_rows.append((KIND_ZH[k], text))
    totals2 = [
        ("需补充的问题", f"新版本需要、旧版本从未询问的问题 {len(needed)} 个"
                   + (f"，最多 {needed[0].checklists} 份检查表缺少" if needed else "")),
        ("新版本不询问的回答", f"{sum(len(c.not_asked_new) for c in r.checklists)} 个，涉及 {len(not_asked)} 份检查表"
                      "（这些回答在新版本下不参与判定）"),
        ("回答类型不符", f"旧版本 {sum(len(c.problems_old) for c in r.checklists)} 处，"
                   f"新版本 {sum(len(c.problems_new) for c in r.checklists)} 处（按未回答处理，见逐份检查表）"),
    ]

    # per group
    tally: dict[int, Counter[str]] = {}
    for cr in r.checklists:
        for ch in cr.changes:
            tally.setdefault(ch.group, Counter())[(ch.kind, ch.old.outcome, ch.new.outcome)] += 1
    order = {k: i for i, k in enumerate(KINDS)}

    def rank(g: int) -> tuple[int, int, int]:
        t = tally[g]
        return (min(order[k] for k, _, _ in t), -sum(t.values()), g)

    groups, minor = [], []
    for g in sorted(tally, key=rank):
        t = tally[g]
        parts = "；".join(f"{KIND_ZH[k]}（{_flip(a, b)}）{c} 份" for (k, a, b), c in
                         sorted(t.items(), key=lambda kv: (order[kv[0][0]], -kv[1])))
        if any(k in DETAILED for k, _, _ in t):
            groups.append(GroupView(len(groups) + 1, label(r.pairings[g]), parts, True))
        else:
            minor.append(f"{label(r.pairings[g]).title}：{parts}")

    methods = Counter(p.method for p in r.pairings)
    pairing_summary = "判定项对应：" + "；".join(
        f"{METHOD_ZH[m]} {methods[m]} {'项' if m.endswith('_only') else '组'}" for m in METHOD_ZH if methods[m])
    similar = [f"{'、'.join(p.old)} → {'、'.join(p.new)}（{METHOD_ZH[p.method]}"
               + (f"，相似度 {p.score:.2f}" if p.score is not None and p.method == "similar" else "") + "）"
               for p in r.pairings if p.method in ("similar", "manual", "same_text")]
    skipped_rows = [(f"{SKIP_ZH[s.reason]}：{s.source}", [p.removeprefix(s.source).lstrip(" ") for p in s.problems])
                    for s in r.skipped]
    return ReplayView(
        title=f"规则集影响回放：{o.ref} → {n.ref}",
        old_line=f"《{o.title}》（{o.document}）", new_line=f"《{n.title}》（{n.document}）",
        old_sha=r.old.sha256, new_sha=r.new.sha256,
        head=totals, tail=totals2,
        verdict_flips=[(_verdict_flip(a, b), c) for a, b, c in flips],
        kinds=kind_rows,
        transitions=[(_flip(a, b), c) for a, b, c in transition_totals(r)],
        groups=groups, minor_groups=minor,
        needed=[f"{q.checklists} 份缺少｜{q.id}：{q.text}（{q.section}；用于 {'、'.join(q.criteria)}）" for q in needed],
        not_asked=_not_asked(r),
        checklists=[_checklist_view(i, cr, r, label) for i, cr in enumerate(changed, 1)],
        unchanged=replayed - len(changed),
        skipped=skipped_rows,
        pairing_summary=pairing_summary, pairing_similar=similar,
        old_only=_listing("仅旧版本有", "新版本删除或未能对应", [i for p in r.pairings if p.method == "old_only" for i in p.old]),
        new_only=_listing("仅新版本有", "新增或未能对应", [i for p in r.pairings if p.method == "new_only" for i in p.new]),
    )


def _listing(label: str, note: str, ids: list[str]) -> str:
    return f"{label} {len(ids)} 项（{note}）：{'、'.join(ids)}" if ids else ""


def render_text(r: Replay) -> str:
    from engine.report import environment

    return environment("text").get_template("replay.txt.j2").render(v=build_view(r))


# ---------------------------------------------------------------- JSON


def _side(s: Any) -> dict[str, Any]:
    return {"outcome": s.outcome, "reasons": s.reasons, "missing": s.missing}


def replay_document(r: Replay) -> dict[str, Any]:
    """The replay as JSON-ready data: totals first, then per criterion group, per checklist, skipped, pairing."""
    o, n = r.old, r.new
    kinds = kind_totals(r)
    needed = needed_never_asked(r)
    return {
        "schema_version": "1.0",
        "engine": {"name": "hazard-engine", "version": __version__},
        "old": {"ref": o.ruleset.ref, "title": o.ruleset.title, "document": o.ruleset.document, "sha256": o.sha256},
        "new": {"ref": n.ruleset.ref, "title": n.ruleset.title, "document": n.ruleset.document, "sha256": n.sha256},
        "totals": {
            "inputs": r.inputs,
            "replayed": len(r.checklists),
            "skipped": len(r.skipped),
            "skipped_invalid": sum(s.reason == "invalid" for s in r.skipped),
            "skipped_other_ruleset": sum(s.reason == "other_ruleset" for s in r.skipped),
            "verdict_changed": sum(c.verdict_old != c.verdict_new for c in r.checklists),
            "checklists_with_changes": sum(bool(c.changes) for c in r.checklists),
            "hazards_old": sum(c.hazards_old for c in r.checklists),
            "hazards_new": sum(c.hazards_new for c in r.checklists),
            "changes": sum(kinds.values()),
            "by_kind": kinds,
            "undecided_for_never_asked": sum(1 for c in r.checklists for ch in c.changes if ch.never_asked),
            "needed_never_asked": len(needed),
            "answers_not_asked_old": sum(len(c.not_asked_old) for c in r.checklists),
            "answers_not_asked_new": sum(len(c.not_asked_new) for c in r.checklists),
            "answer_problems_old": sum(len(c.problems_old) for c in r.checklists),
            "answer_problems_new": sum(len(c.problems_new) for c in r.checklists),
        },
        "verdict_flips": [{"old": a, "new": b, "count": c} for a, b, c in verdict_flips(r)],
        "transitions": [{"old": a, "new": b, "count": c} for a, b, c in transition_totals(r)],
        "needed_never_asked": [{"question": q.id, "text": q.text, "section": q.section, "checklists": q.checklists,
                                "criteria": q.criteria} for q in needed],
        "checklists": [{
            "source": c.source, "id": c.id, "enterprise": c.enterprise, "inspection_date": c.inspection_date.isoformat(),
            "judged_under": c.judged_under,
            "verdict": {"old": c.verdict_old, "new": c.verdict_new},
            "hazards": {"old": c.hazards_old, "new": c.hazards_new},
            "changes": [{"kind": ch.kind, "old_criteria": list(r.pairings[ch.group].old),
                         "new_criteria": list(r.pairings[ch.group].new), "old": _side(ch.old), "new": _side(ch.new),
                         "never_asked": ch.never_asked} for ch in c.changes],
            "not_asked": {"old": c.not_asked_old, "new": c.not_asked_new},
            "answer_problems": {"old": c.problems_old, "new": c.problems_new},
        } for c in r.checklists],
        "skipped": [{"source": s.source, "reason": s.reason, "problems": s.problems} for s in r.skipped],
        "pairing": [{"old": list(p.old), "new": list(p.new), "method": p.method, "similarity": p.score}
                    for p in r.pairings],
    }
