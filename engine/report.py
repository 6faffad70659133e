"""Render Determinations with the Jinja templates in ``reports/``.

This module prepares everything a template shows (numbering, grouping, labels), so templates only
present. HTML is autoescaped: an answer or note never becomes markup.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from engine import __version__
from engine.determination import OUTCOME_ZH, VERDICT_ZH, CriterionResult, Determination

REPORTS_DIR = Path(__file__).resolve().parent.parent / "reports"
Format = Literal["html", "md", "text"]
KIND_ZH = {"inspection": "监管检查", "self_assessment": "企业自查"}


@dataclass
class Finding:
    """One row of the 重大事故隐患清单."""

    number: int
    criterion: CriterionResult
    basis: str  # 判定依据: 标准名称 + 文号 + 条款
    observed: list[str]  # 现场情况: "question: answer" lines, notes and evidence
    conditions: list[str]  # the comparisons that decided it, in words


@dataclass
class Pending:
    """An undecided criterion (incomplete or awaiting judgement) and what is missing."""

    number: int
    criterion: CriterionResult
    basis: str
    status: str
    missing: list[str]


@dataclass
class RulesetView:
    det: Determination
    verdict_zh: str
    findings: list[Finding]
    pending: list[Pending]
    counts: list[tuple[str, int]]
    warnings: list[str]


@dataclass
class ReportView:
    """Everything a report template needs, precomputed."""

    title: str
    verdict: str
    verdict_zh: str
    rulesets: list[RulesetView]
    engine_version: str = __version__
    kind_zh: str = ""
    first: Determination | None = None
    hazard_total: int = 0
    pending_total: int = 0
    generated_note: str = field(default="")
    warnings: list[str] = field(default_factory=list)  # all rulesets' warnings, 《title》-prefixed if several


def _basis(det: Determination, c: CriterionResult) -> str:
    return f"《{det.ruleset.title}》（{det.ruleset.document}）{c.clause}"


def _label(question_text: str) -> str:
    """A question as a label: "是否设置…？" → "是否设置…" (so "…？：是" never prints)."""
    return question_text.rstrip("？?：: ")


def _observed(c: CriterionResult) -> list[str]:
    lines = []
    for o in c.observations:
        line = f"{_label(o.question_text)}：{o.answer}"
        if o.note:
            line += f"（现场说明：{o.note}）"
        lines.append(line)
        lines.extend(f"证据：{e}" for e in o.evidence)
    return lines


def _reasons(c: CriterionResult) -> list[str]:
    return [f"{_label(x.question_text)}：{x.observed}（判定条件：{x.op} {x.required}{'' if x.held else '，不成立'}）"
            for x in c.reasons]


def ruleset_view(det: Determination) -> RulesetView:
    findings, pending = [], []
    for c in det.criteria:
        if c.outcome.value == "hazard":
            findings.append(Finding(len(findings) + 1, c, _basis(det, c), _observed(c), _reasons(c)))
    for c in det.criteria:
        if c.outcome.value in ("incomplete", "judgement"):
            pending.append(Pending(len(pending) + 1, c, _basis(det, c), OUTCOME_ZH[c.outcome.value],
                                   [f"{m.section}｜{m.text}（{m.id}）" for m in c.missing_questions]))
    s = det.summary
    counts = [("判定项总数", s.total), ("重大事故隐患", s.hazard), ("未发现", s.clear), ("不适用", s.not_applicable),
              ("未完成", s.incomplete), ("待判断", s.judgement)]
    return RulesetView(det, s.verdict_text, findings, pending, counts, det.warnings)


def _combined_verdict_zh(verdict: str, views: list[RulesetView], hazards: int, pending: int) -> str:
    """The verdict line for several rulesets; never a bare 未发现 when some ruleset is partial."""
    if verdict == "hazard":
        return f"存在重大事故隐患 {hazards} 项"
    if verdict == "incomplete":
        return f"检查未完成：{pending} 项尚不能判定"
    text = VERDICT_ZH["clear"]
    if any(v.det.ruleset.partial for v in views):
        text += "（部分规则集仅覆盖标准的部分条款，详见各规则集）"
    return text


def build_view(dets: list[Determination]) -> ReportView:
    from engine.determination import combine_verdicts

    views = [ruleset_view(d) for d in dets]
    verdict = combine_verdicts([d.verdict for d in dets])
    first = dets[0]
    title = f"{first.checklist.enterprise_name} 重大事故隐患判定结果"
    hazards = sum(len(v.findings) for v in views)
    pending = sum(len(v.pending) for v in views)
    several = len(views) > 1
    warnings = [(f"《{v.det.ruleset.title}》：" if several else "") + w for v in views for w in v.warnings]
    return ReportView(
        title=title, verdict=verdict,
        verdict_zh=views[0].verdict_zh if not several else _combined_verdict_zh(verdict, views, hazards, pending),
        rulesets=views, kind_zh=KIND_ZH.get(first.checklist.kind, first.checklist.kind), first=first,
        hazard_total=hazards, pending_total=pending, warnings=warnings,
    )


# ---- presentation-only filters (escaping and line wrapping; they decide nothing) ----

_MD_SPECIAL = set("\\`*_[]<>|~&#")


def md_cell(value: object) -> str:
    """Escape text for a GitHub Markdown table cell or line: backslash-escape Markdown/HTML punctuation
    (so ``|`` cannot split a cell and ``<script>`` stays text) and turn newlines into ``<br>``."""
    text = "" if value is None else str(value)
    escaped = "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)
    return "<br>".join(line.strip() for line in escaped.splitlines()) if escaped else ""


def _width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


_NO_LINE_START = set("，。、；：？！）》」』】〕”’,.;:?!)")
_NO_LINE_END = set("（《「『【〔“‘(")


def wrap_cjk(value: object, width: int = 78, indent: str = "") -> str:
    """Wrap text to ``width`` terminal columns (CJK characters count 2) for the text report.

    The caller writes a prefix as wide as ``indent`` before the first line; continuation lines
    start with ``indent``. ASCII words are kept whole when they fit; closing punctuation may hang
    up to 2 columns past ``width``, otherwise it takes the previous character along, and an
    opening bracket never ends a line.
    """
    text = "" if value is None else str(value)
    room = max(width - sum(_width(c) for c in indent), 10)
    out: list[str] = []
    for para in text.splitlines() or [""]:
        tokens: list[str] = []
        for ch in para:
            if tokens and ch.isascii() and not ch.isspace() and tokens[-1][-1].isascii() \
                    and not tokens[-1][-1].isspace():
                tokens[-1] += ch
            else:
                tokens.append(ch)
        line: list[str] = []
        for tok in tokens:
            while sum(_width(c) for c in tok) > room:  # an over-long word (a URI): split it hard
                if line:
                    out.append("".join(line).rstrip())
                    line = []
                out.append(tok[:room])
                tok = tok[room:]
            used = sum(_width(c) for t in line for c in t)
            w = sum(_width(c) for c in tok)
            if used + w > room and line:
                if tok in _NO_LINE_START and used + w <= room + 2:
                    line.append(tok)
                    continue
                carry: list[str] = []
                if tok in _NO_LINE_START:  # take the preceding closing marks and one character along
                    while len(line) > 1 and line[-1] in _NO_LINE_START:
                        carry.insert(0, line.pop())
                    if len(line) > 1:
                        carry.insert(0, line.pop())
                while len(line) > 1 and line[-1] in _NO_LINE_END:
                    carry.insert(0, line.pop())
                out.append("".join(line).rstrip())
                line = carry
                if tok.isspace() and not line:
                    continue
            line.append(tok)
        out.append("".join(line).rstrip())
    return ("\n" + indent).join(out)


def environment(fmt: Format) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(REPORTS_DIR)),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False)
        if fmt == "html" else False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md_cell"] = md_cell
    env.filters["wrap_cjk"] = wrap_cjk
    return env


TEMPLATES: dict[str, str] = {"html": "determination.html.j2", "md": "determination.md.j2", "text": "determination.txt.j2"}


def render(dets: list[Determination], fmt: Format) -> str:
    """Render the findings list for one or more Determinations of one checklist."""
    env = environment(fmt)
    return env.get_template(TEMPLATES[fmt]).render(r=build_view(dets))
