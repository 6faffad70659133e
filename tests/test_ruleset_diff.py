"""``hazard rulesets diff``: what changed between two ruleset versions, told so a regulator can act on it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.cli import main
from engine.model import Ruleset
from engine.ruleset_diff import char_diff, condition_zh, diff_rulesets, render_diff
from engine.ruleset_loader import load_ruleset

HEAD = """\
format: 1
id: pair
version: "{version}"
title: 测试标准（{version}）
document: 测试〔{version}〕1号
issuer: 测试机关
effective_from: {start}
{until}scope: 测试
source: tests
coverage: {{items_total: 5}}
sections:
  - {{id: profile, title: 基本情况}}
  - {{id: main, title: 主要}}
"""

OLD = """\
questions:
  - {id: has_tank, section: profile, profile: true, text: 是否有储罐？, type: boolean}
  - {id: alarm, section: main, text: 报警装置, type: device}
  - {id: pressure, section: main, text: 压力, type: number, unit: kPa}
  - {id: not_separate, section: main, text: 是否未设置在单独的作业间内？, type: boolean}
  - {id: workers, section: main, text: 作业间内作业人员数量, type: integer, unit: 人}
  - {id: level, section: main, text: 液位, type: integer}
  - {id: old_only, section: main, text: 是否有旧式装置？, type: boolean}
criteria:
  - {id: "1", clause: 第一项, section: main, text: 储罐未设置报警装置的, applies_if: {q: has_tank, eq: true},
     hazard_if: {q: alarm, ne: 正常}, guidance: 设置报警装置。}
  - id: "2"
    clause: 第二项
    section: main
    text: 快速冻结装置未设置在单独的作业间内，且作业间内作业人员数量超过9人
    hazard_if: {all: [{q: not_separate, eq: true}, {q: workers, gt: 9}]}
    guidance: 单独设置。
  - {id: "3", clause: 第三项, section: main, text: 压力小于30kPa的, hazard_if: {q: pressure, lt: 30}, guidance: 调整压力。}
  - {id: "4", clause: 第四项, section: main, text: 使用旧式装置的, hazard_if: {q: old_only, eq: true}, guidance: 淘汰。}
  - {id: "6", clause: 第六项, section: main, text: 液位超过3的, hazard_if: {q: level, gt: 3}, guidance: 降低液位。}
tests:
  - name: 隐患
    answers: {has_tank: true, alarm: 未设置, not_separate: true, workers: 10, pressure: 20, old_only: true, level: 4}
    expect: {"1": hazard, "2": hazard, "3": hazard, "4": hazard, "6": hazard}
  - name: 未发现
    answers: {has_tank: true, alarm: 正常, not_separate: false, workers: 10, pressure: 40, old_only: false, level: 3}
    expect: {"1": clear, "2": clear, "3": clear, "4": clear, "6": clear}
"""

NEW = """\
questions:
  - {id: has_tank, section: profile, profile: true, text: 是否有储罐？, type: boolean}
  - {id: alarm, section: main, text: 报警装置, type: device}
  - {id: pressure, section: main, text: 压力, type: number, unit: kPa}
  - {id: not_separate, section: main, text: 是否未设置在单独的作业间内？, type: boolean}
  - {id: workers, section: main, text: 作业间内作业人员数量, type: integer, unit: 人}
  - {id: level, section: main, text: 液位, type: number, unit: m}
  - {id: new_only, section: main, text: 库房是否未设置通风设施？, type: boolean}
criteria:
  - {id: "1", clause: 第一项, section: main, text: 储罐未设置可燃气体报警装置的, applies_if: {q: has_tank, eq: true},
     hazard_if: {q: alarm, ne: 正常}, guidance: 设置报警装置。}
  - id: "2"
    clause: 第二项
    section: main
    text: 快速冻结装置未设置在单独的作业间内，或者作业间内作业人员数量超过9人
    hazard_if: {any: [{q: not_separate, eq: true}, {q: workers, gt: 9}]}
    guidance: 单独设置。
  - {id: "3", clause: 第三项, section: main, text: 压力小于30kPa的, hazard_if: {q: pressure, lt: 35}, guidance: 调整压力。}
  - {id: "5", clause: 第五项, section: main, text: 库房未设置通风设施的, hazard_if: {q: new_only, eq: true}, guidance: 设置通风设施。}
  - {id: "6", clause: 第六项, section: main, text: 液位超过3的, hazard_if: {q: level, gt: 3}, guidance: 降低液位。}
tests:
  - name: 隐患
    answers: {has_tank: true, alarm: 未设置, not_separate: true, pressure: 20, new_only: true, level: 4}
    expect: {"1": hazard, "2": hazard, "3": hazard, "5": hazard, "6": hazard}
  - name: 未发现
    answers: {has_tank: true, alarm: 正常, not_separate: false, workers: 9, pressure: 40, new_only: false, level: 3}
    expect: {"1": clear, "2": clear, "3": clear, "5": clear, "6": clear}
"""


def _text(body: str, version: str, start: str = "2020-01-01", until: str | None = None) -> str:
    return HEAD.format(version=version, start=start, until=f"effective_until: {until}\n" if until else "") + body


@pytest.fixture
def pair_dir(write_ruleset) -> Path:
    write_ruleset(_text(OLD, "1", until="2023-12-31"), rid="pair", version="1")
    return write_ruleset(_text(NEW, "2", start="2024-01-01"), rid="pair", version="2").parent.parent


@pytest.fixture
def pair(pair_dir) -> tuple[Ruleset, Ruleset]:
    return load_ruleset(pair_dir / "pair" / "1.yaml"), load_ruleset(pair_dir / "pair" / "2.yaml")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- the model comparison


def test_each_kind_of_change_is_reported(pair) -> None:
    d = diff_rulesets(*pair)
    assert [e.id for e in d.added] == ["5"] and [e.id for e in d.removed] == ["4"]
    pairs = {p.new_id: p for p in d.pairs}
    assert all(p.by == "id" for p in d.pairs)

    reworded = pairs["1"]
    assert reworded.text is not None and not reworded.logic
    assert [(s.op, s.text) for s in reworded.text.segments if s.op != "equal"] == [("ins", "可燃气体")]
    assert reworded.text.marked == "储罐未设置{+可燃气体+}报警装置的"

    conj = pairs["2"]
    assert [n.kind for n in conj.logic] == ["conjunction"]
    assert "全部满足（且） → 任一满足（或）" in conj.logic[0].text
    assert conj.logic_before[0].text == "全部满足（且）：" and conj.logic_after[0].text == "任一满足（或）："

    threshold = pairs["3"]
    assert threshold.text is None
    assert [n.kind for n in threshold.logic] == ["threshold"]
    assert "〔压力〕小于：阈值 30 → 35 kPa" in threshold.logic[0].text

    retyped = {q.id: q for q in d.questions_changed}
    assert list(retyped) == ["level"]
    assert "类型：整数 → 数值" in retyped["level"].changes and "单位：（无） → m" in retyped["level"].changes
    assert retyped["level"].used_by == ["6"]
    # the criterion's condition is unchanged, but the question it relies on changed: it is still reported
    assert pairs["6"].changed and "液位" in pairs["6"].questions[0]

    assert [q.id for q in d.questions_added] == ["new_only"] and [q.id for q in d.questions_removed] == ["old_only"]
    labels = {f.label: (f.old, f.new) for f in d.identity}
    assert labels["文号"] == ("测试〔1〕1号", "测试〔2〕1号")
    assert labels["施行日期"] == ("2020-01-01", "2024-01-01")
    assert any("连接词" in h for h in d.highlights) and any("阈值 30 → 35" in h for h in d.highlights)
    summary = {r.label: r.value for r in d.summary}
    assert summary["新增判定项"] == "1" and summary["删除判定项"] == "1" and summary["阈值改变"] == "1"
    assert summary["连接词改变（且/或）"] == "1" and summary["类型、单位或选项改变的问题"] == "1"
    assert d.verdict == "存在差异"


def test_identical_versions_report_no_difference(pair) -> None:
    old, _ = pair
    d = diff_rulesets(old, old)
    assert d.empty and d.verdict == "无差异"
    for fmt in ("text", "md", "html"):
        assert "无差异" in render_diff(d, fmt)


def test_applicability_and_operator_changes(pair) -> None:
    old, new = pair
    data = new.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["criteria"][0]["applies_if"] = {"all": [{"q": "has_tank", "eq": True}, {"q": "pressure", "gt": 0}]}
    data["criteria"][4]["hazard_if"] = {"q": "level", "ge": 3}
    changed = Ruleset.model_validate(data)
    pairs = {p.new_id: p for p in diff_rulesets(old, changed).pairs}
    assert [n.kind for n in pairs["1"].applies] == ["structure", "added"]
    assert "〔压力〕大于 0 kPa" in pairs["1"].applies[1].text
    assert pairs["1"].applies_before[0].text == "〔是否有储罐？〕等于 是"
    assert [n.kind for n in pairs["6"].logic] == ["operator"]
    assert "〔液位〕：大于 3 → 不小于 3 m" in pairs["6"].logic[0].text


def test_criteria_with_new_ids_are_paired_by_similarity(pair) -> None:
    old, new = pair
    data = new.model_dump(mode="json", by_alias=True, exclude_none=True)
    renumber = {"1": "1-1", "2": "12-2"}
    for c in data["criteria"]:
        c["id"] = renumber.get(c["id"], c["id"])
    for t in data["tests"]:
        t["expect"] = {renumber.get(k, k): v for k, v in t["expect"].items()}
    d = diff_rulesets(old, Ruleset.model_validate(data))
    by_new = {p.new_id: p for p in d.pairs}
    assert by_new["12-2"].old_id == "2" and by_new["12-2"].by == "similarity"
    assert "按条文相似度配对" in by_new["12-2"].match_zh and by_new["12-2"].logic[0].kind == "conjunction"
    assert by_new["1-1"].old_id == "1"
    assert any("相似度" in n for n in d.notices)
    # dissimilar wording is never paired: "4" (旧式装置) and "5" (通风设施) stay removed / added
    assert [e.id for e in d.removed] == ["4"] and [e.id for e in d.added] == ["5"]


def test_reused_id_is_not_paired_with_a_different_item(pair) -> None:
    """A renumbered standard: id "3" now means the 液位 item and "6" the 压力 item."""
    old, new = pair
    data = new.model_dump(mode="json", by_alias=True, exclude_none=True)
    swap = {"3": "6", "6": "3"}
    for c in data["criteria"]:
        c["id"] = swap.get(c["id"], c["id"])
    for t in data["tests"]:
        t["expect"] = {swap.get(k, k): v for k, v in t["expect"].items()}
    d = diff_rulesets(old, Ruleset.model_validate(data))
    by_old = {p.old_id: p for p in d.pairs}
    assert (by_old["3"].new_id, by_old["3"].by) == ("6", "similarity")
    assert (by_old["6"].new_id, by_old["6"].by) == ("3", "similarity")
    assert "阈值 30 → 35" in by_old["3"].logic[0].text
    assert any("未按编号对应" in n and "3、6" in n for n in d.notices)


def test_condition_in_words(pair) -> None:
    old, new = pair
    assert condition_zh(new.criteria[1].hazard_if, new) == (
        "任一满足（或）：〔是否未设置在单独的作业间内？〕等于 是；〔作业间内作业人员数量〕大于 9 人")
    assert condition_zh(old.criteria[0].hazard_if, old) == "〔报警装置〕不等于 正常"
    assert condition_zh(None, old).startswith("（无条件")


def test_char_diff_folds_single_character_islands() -> None:
    segs = char_diff("使用水蒸气或明火直接加热", "使用蒸气、明火直接加热")
    assert "".join(s.text for s in segs if s.op != "ins") == "使用水蒸气或明火直接加热"
    assert "".join(s.text for s in segs if s.op != "del") == "使用蒸气、明火直接加热"
    assert [s.op for s in segs] == ["equal", "del", "equal", "del", "ins", "equal"]


# ---------------------------------------------------------------- the real rulesets


@pytest.fixture(scope="module")
def industry_trade(catalog):
    versions = {x.ruleset.version: x.ruleset for x in catalog.versions("industry-trade")}
    return diff_rulesets(versions["2017"], versions["2023"])


def test_real_industry_trade_12_2_conjunction(industry_trade) -> None:
    d = industry_trade
    p = next(p for p in d.pairs if p.new_id == "12-2")
    assert p.old_id == "1-2-2" and p.by == "similarity"
    assert [n.kind for n in p.logic] == ["conjunction"]
    assert "全部满足（且） → 任一满足（或）" in p.logic[0].text
    assert p.text is not None and ("del", "且") in [(s.op, s.text) for s in p.text.segments]
    md = render_diff(d, "md")
    assert "1-2-2 → 12-2（第十二条第（二）项）：判定条件的连接词改变：全部满足（且） → 任一满足（或）" in md
    assert "<del>且</del><ins>或者快速冻结装置</ins>" in md
    # summary counts come first, the details after
    assert md.index("## 一、概要") < md.index("## 六、修改的判定项")


def test_real_metal_nonmetal_mines(catalog) -> None:
    versions = {x.ruleset.version: x.ruleset for x in catalog.versions("metal-nonmetal-mines")}
    d = diff_rulesets(versions["2022"], versions["2024"])
    assert [p.by for p in d.pairs] == ["id"] * 64 and not d.changed_pairs and not d.removed
    assert [e.id for e in d.added] == ["ug-s1", "ug-s2", "ug-s3", "ug-s4", "op-s1", "op-s2", "tf-s1", "tf-s2"]
    assert {f.label for f in d.identity} >= {"文号", "施行日期", "取代版本"}
    md = render_diff(d, "md")
    assert "metal-nonmetal-mines@2022 → metal-nonmetal-mines@2024" in md
    assert "## 四、新增判定项（8 项）" in md and "## 五、删除判定项（0 项）" in md and "矿安〔2024〕41号" in md
    assert "编号相同且无修改的 64 项" in md
    assert "新增判定项（8 项）" in render_diff(d, "html") and "新增判定项（8 项）" in render_diff(d, "text")


# ---------------------------------------------------------------- the command


def test_cli_formats_and_output_file(pair_dir, tmp_path, capsys) -> None:
    base = ("--rulesets", str(pair_dir), "rulesets", "diff", "pair@1", "pair@2")
    code, out, _ = run(capsys, *base)
    assert "比较结论：存在差异" in out and "储罐未设置{+可燃气体+}报警装置的" in out
    code, out, _ = run(capsys, *base, "-f", "md")
    assert "储罐未设置<ins>可燃气体</ins>报警装置的" in out
    target = tmp_path / "diff.html"
    code, out, err = run(capsys, *base, "-o", str(target))
    html = target.read_text(encoding="utf-8")
    assert code == 0 and out == "" and "已写入" in err
    assert html.startswith("<!DOCTYPE html>") and "<ins>可燃气体</ins>" in html
    assert "http://" not in html and "https://" not in html and "<link" not in html and "<script" not in html


def test_cli_same_ref_says_no_difference(pair_dir, capsys) -> None:
    code, out, _ = run(capsys, "--rulesets", str(pair_dir), "rulesets", "diff", "pair@1", "pair@1")
    assert code == 0 and "比较结论：无差异" in out and "一、概要" not in out


def test_cli_draft_file_against_published_version(pair_dir, tmp_path, capsys) -> None:
    """A regulator diffs an unpublished draft (any file name) against the published version."""
    draft_text = _text(NEW, "3-draft", start="2024-01-01").replace(
        "储罐未设置可燃气体报警装置的", "储罐未设置<script>alert(1)</script>报警装置的")
    draft = tmp_path / "草案.yaml"
    draft.write_text(textwrap.dedent(draft_text), encoding="utf-8")
    code, out, _ = run(capsys, "--rulesets", str(pair_dir), "rulesets", "diff", "pair@2", str(draft), "-f", "html")
    assert code == 0
    assert "&lt;script&gt;" in out and "<script>" not in out  # autoescaped
    assert "pair@3-draft" in out and f"文件 {draft}" in out


def test_cli_bad_ref_in_real_catalog_exits_2(capsys) -> None:
    code, out, err = run(capsys, "rulesets", "diff", "industry-trade@1999", "industry-trade@2023")
    assert code == 2 and out == ""
    assert "规则集 'industry-trade' 没有版本 '1999'（已有：2017、2023）" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (("pair@1", "pair@9"), "没有版本 '9'"),
    (("nosuch@1", "pair@2"), "未知的规则集 'nosuch'"),
    (("pair", "pair@2"), "<规则集编号>@<版本>"),
    (("pair@1", "missing/draft.yaml"), "找不到规则集文件"),
])
def test_cli_bad_ref_exits_2(pair_dir, argv, message, capsys) -> None:
    code, out, err = run(capsys, "--rulesets", str(pair_dir), "rulesets", "diff", *argv)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_cli_invalid_draft_lists_problems(pair_dir, tmp_path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(_text(NEW, "9", start="2024-01-01").replace("{q: pressure, lt: 35}", "{q: nosuch, lt: 35}"),
                   encoding="utf-8")
    code, _, err = run(capsys, "--rulesets", str(pair_dir), "rulesets", "diff", "pair@2", str(bad))
    assert code == 2 and "nosuch" in err and str(bad) in err
