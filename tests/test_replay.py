"""``hazard rulesets replay``: past checklists judged under two versions, every changed determination listed."""

from __future__ import annotations

import copy
import json
import unicodedata
from pathlib import Path

import pytest

from engine.catalog import Catalog
from engine.cli import main
from engine.replay import Replayer, classify, collect_sources, kind_totals, needed_never_asked, pair_criteria
from engine.replay_report import render_text, replay_document
from engine.uscc import check_char
from tests.conftest import EXAMPLES, MINI

USCC = "91320505MA1XYW123" + check_char("91320505MA1XYW123")

V1 = MINI.replace("effective_from: 2024-01-01", "effective_from: 2024-01-01\neffective_until: 2024-12-31")

# Version 2: criterion 1 also needs the alarm to have been tested (a question version 1 never asked);
# criterion 2 gets a new id and a higher threshold (30 → 35 kPa), so it pairs by its similar wording.
V2 = """\
format: 1
id: mini
version: "2"
title: 测试标准
document: 测试〔2025〕1号
issuer: 测试机关
effective_from: 2025-01-01
scope: 测试
source: tests
coverage: {items_total: 2}
sections:
  - {id: profile, title: 基本情况}
  - {id: main, title: 主要}
questions:
  - {id: has_tank, section: profile, profile: true, text: 是否有储罐？, type: boolean}
  - {id: alarm, section: main, text: 报警装置, type: device}
  - {id: alarm_tested, section: main, text: 报警装置是否按期测试？, type: boolean}
  - {id: pressure, section: main, text: 压力, type: number, unit: kPa}
criteria:
  - id: "1"
    clause: 第一项
    section: main
    text: 储罐未设置报警装置的
    applies_if: {q: has_tank, eq: true}
    hazard_if: {any: [{q: alarm, ne: 正常}, {q: alarm_tested, eq: false}]}
    guidance: 设置报警装置并按期测试。
  - id: "2-1"
    clause: 第二项
    section: main
    text: 压力小于35kPa的
    hazard_if: {q: pressure, lt: 35}
    guidance: 调整压力。
tests:
  - name: 无报警
    answers: {has_tank: true, alarm: 未设置}
    expect: {"1": hazard}
  - name: 报警正常
    answers: {has_tank: true, alarm: 正常, alarm_tested: true, pressure: 35}
    expect: {"1": clear, "2-1": clear}
  - name: 压力低
    answers: {pressure: 34}
    expect: {"2-1": hazard}
"""

# A: clear under 1; under 2 criterion 1 lacks alarm_tested (incomplete) and 32 kPa < 35 is a hazard.
A = {"has_tank": True, "alarm": "正常", "pressure": 32}
# B and C: the same under both versions.
B = {"has_tank": True, "alarm": "未设置", "pressure": 40}
C = {"has_tank": False, "pressure": 20}


def checklist(answers: dict, cid: str = "R-1", **extra) -> dict:
    return {
        "schema_version": "1.0", "id": cid, "kind": "inspection", "inspection_date": "2024-06-03",
        "enterprise": {"name": "回放测试有限公司", "uscc": USCC, "region_code": "320505",
                       "industry_code": "C3311", "address": "江苏省苏州市"},
        "inspectors": [{"name": "张三"}], "rulesets": ["mini"], "answers": answers, **extra,
    }


@pytest.fixture
def rulesets(write_ruleset) -> Path:
    write_ruleset(V1, version="1")
    return write_ruleset(V2, version="2").parent.parent


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def replay_json(capsys, rulesets: Path, *inputs: str) -> dict:
    code, out, err = run(capsys, "--rulesets", str(rulesets), "rulesets", "replay", "mini@1", "mini@2", *inputs,
                         "--format", "json")
    assert code == 0, err
    return json.loads(out)


def write_json(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------- determinations that change


def test_threshold_flip_and_new_question(tmp_path, rulesets, capsys) -> None:
    write_json(tmp_path / "in" / "a.json", checklist(A, "A"))
    write_json(tmp_path / "in" / "b.json", checklist(B, "B"))
    write_json(tmp_path / "in" / "c.json", checklist(C, "C"))
    doc = replay_json(capsys, rulesets, str(tmp_path / "in"))
    t = doc["totals"]
    assert (t["replayed"], t["skipped"], t["checklists_with_changes"], t["verdict_changed"]) == (3, 0, 1, 1)
    assert t["by_kind"]["new_hazard"] == 1 and t["by_kind"]["became_incomplete"] == 1 and t["changes"] == 2
    assert (t["hazards_old"], t["hazards_new"]) == (2, 3)
    assert doc["verdict_flips"] == [{"old": "clear", "new": "hazard", "count": 1}]
    a = next(c for c in doc["checklists"] if c["id"] == "A")
    assert a["verdict"] == {"old": "clear", "new": "hazard"}
    changes = {tuple(ch["new_criteria"]): ch for ch in a["changes"]}
    flip = changes[("2-1",)]
    assert flip["kind"] == "new_hazard" and flip["old_criteria"] == ["2"]
    assert (flip["old"]["outcome"], flip["new"]["outcome"]) == ("clear", "hazard")
    assert "32 kPa" in flip["new"]["reasons"][0] and "35" in flip["new"]["reasons"][0]
    incomplete = changes[("1",)]
    assert incomplete["kind"] == "became_incomplete"
    assert (incomplete["old"]["outcome"], incomplete["new"]["outcome"]) == ("clear", "incomplete")
    assert incomplete["new"]["missing"] == ["alarm_tested"] and incomplete["never_asked"] == ["alarm_tested"]
    # needed by version 2, never asked by version 1: only checklist A lacks it where it matters
    assert doc["needed_never_asked"] == [{"question": "alarm_tested", "text": "报警装置是否按期测试？",
                                          "section": "主要", "checklists": 1, "criteria": ["1"]}]
    for other in ("B", "C"):
        c = next(c for c in doc["checklists"] if c["id"] == other)
        assert c["changes"] == [] and c["verdict"]["old"] == c["verdict"]["new"]


def test_pairing_by_id_and_similar_text(rulesets) -> None:
    catalog = Catalog.from_dir(rulesets)
    old = catalog.select("mini@1", None).loaded.ruleset
    new = catalog.select("mini@2", None).loaded.ruleset
    pairs = {(p.old, p.new): p.method for p in pair_criteria(old, new)}
    assert pairs == {(("1",), ("1",)): "id", (("2",), ("2-1",)): "similar"}
    # two items of the old version with the same wording (merged into one by the new version) form one group
    twin = old.criteria[1].model_copy(update={"id": "2b", "clause": "第二项之二"})
    merged = old.model_copy(update={"criteria": [*old.criteria, twin]})
    groups = {(p.old, p.new) for p in pair_criteria(merged, new)}
    assert groups == {(("1",), ("1",)), (("2", "2b"), ("2-1",))}
    # an unrelated wording stays unpaired on both sides
    other = new.criteria[1].model_copy(update={"text": "作业人员未佩戴防护用品的", "hazard_if": new.criteria[0].hazard_if})
    apart = new.model_copy(update={"criteria": [new.criteria[0], other]})
    assert {(p.old, p.new, p.method) for p in pair_criteria(old, apart)} == {
        (("1",), ("1",), "id"), (("2",), (), "old_only"), ((), ("2-1",), "new_only")}


@pytest.mark.parametrize("old,new,kind", [
    ("clear", "hazard", "new_hazard"), ("incomplete", "hazard", "new_hazard"), ("absent", "hazard", "new_hazard"),
    ("hazard", "clear", "cleared_hazard"), ("hazard", "not_applicable", "cleared_hazard"),
    ("hazard", "absent", "cleared_hazard"), ("hazard", "incomplete", "hazard_undecided"),
    ("clear", "incomplete", "became_incomplete"), ("absent", "judgement", "became_incomplete"),
    ("incomplete", "clear", "became_decided"), ("clear", "not_applicable", "other"),
    ("incomplete", "absent", "other"), ("clear", "clear", None), ("absent", "clear", None),
    ("not_applicable", "absent", None),
])
def test_classify(old: str, new: str, kind: str | None) -> None:
    assert classify(old, new) == kind


def test_answers_not_asked_and_wrong_types_are_reported_not_fatal(tmp_path, rulesets, capsys) -> None:
    # alarm_tested only exists in version 2; pressure has the wrong type in both versions
    path = write_json(tmp_path / "x.json", checklist({"has_tank": True, "alarm": "正常", "alarm_tested": True,
                                                      "pressure": "很高", "unknown_q": 1}))
    doc = replay_json(capsys, rulesets, str(path))
    c = doc["checklists"][0]
    assert c["not_asked"] == {"old": ["alarm_tested", "unknown_q"], "new": ["unknown_q"]}
    assert doc["totals"]["answers_not_asked_old"] == 2 and doc["totals"]["answers_not_asked_new"] == 1
    assert len(c["answer_problems"]["old"]) == 1 and "$.answers.pressure" in c["answer_problems"]["new"][0]
    assert "应为数字" in c["answer_problems"]["new"][0]
    # the wrongly typed answer counts as unanswered: criterion 2 is undecided under both versions
    assert c["verdict"] == {"old": "incomplete", "new": "incomplete"}


# ---------------------------------------------------------------- inputs


def test_folder_is_read_recursively(tmp_path, rulesets, capsys) -> None:
    write_json(tmp_path / "in" / "a.json", checklist(A, "A"))
    write_json(tmp_path / "in" / "2024" / "06" / "b.json", checklist(B, "B"))
    (tmp_path / "in" / "readme.txt").write_text("not a checklist", encoding="utf-8")
    doc = replay_json(capsys, rulesets, str(tmp_path / "in"))
    assert sorted(c["id"] for c in doc["checklists"]) == ["A", "B"]
    assert doc["totals"]["inputs"] == 2


def test_jsonl_with_a_malformed_line(tmp_path, rulesets, capsys) -> None:
    lines = [json.dumps(checklist(A, "A"), ensure_ascii=False), "", '{"schema_version": "1.0", "id": ',
             json.dumps(checklist(B, "B"), ensure_ascii=False),
             json.dumps({k: v for k, v in checklist(C, "C").items() if k != "enterprise"}, ensure_ascii=False)]
    path = tmp_path / "past.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    doc = replay_json(capsys, rulesets, str(path))
    assert [c["source"] for c in doc["checklists"]] == [f"{path}:1", f"{path}:4"]
    syntax, invalid = doc["skipped"]
    assert syntax["source"] == f"{path}:3" and syntax["reason"] == "invalid"
    assert syntax["problems"][0].startswith(f"{path}:3 ") and "JSON 语法错误" in syntax["problems"][0]
    assert invalid["source"] == f"{path}:5" and any("$.enterprise" in p for p in invalid["problems"])
    # the text report lists both skipped lines with their line numbers
    code, out, _ = run(capsys, "--rulesets", str(rulesets), "rulesets", "replay", "mini@1", "mini@2", str(path))
    assert code == 0 and f"{path}:3" in out and f"{path}:5" in out and "缺少必填字段" in out


def test_checklists_of_other_standards_are_skipped(tmp_path, rulesets, capsys) -> None:
    path = write_json(tmp_path / "other.json", checklist(A, rulesets=["hazchem"]))
    doc = replay_json(capsys, rulesets, str(path))
    assert doc["totals"]["replayed"] == 0 and doc["skipped"][0]["reason"] == "other_ruleset"


@pytest.mark.parametrize("old,new,message", [
    ("mini", "mini@2", "规则集@版本"),
    ("mini@1", "mini@9", "没有版本 '9'"),
    ("nope@1", "mini@2", "未知的规则集 'nope'"),
    ("mini@1", "mini@1", "同一个版本"),
])
def test_bad_ref_exits_2(tmp_path, rulesets, capsys, old, new, message) -> None:
    path = write_json(tmp_path / "a.json", checklist(A))
    code, out, err = run(capsys, "--rulesets", str(rulesets), "rulesets", "replay", old, new, str(path))
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_missing_or_empty_input_exits_2(tmp_path, rulesets, capsys) -> None:
    code, _, err = run(capsys, "--rulesets", str(rulesets), "rulesets", "replay", "mini@1", "mini@2",
                       str(tmp_path / "nowhere"))
    assert code == 2 and "找不到" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "--rulesets", str(rulesets), "rulesets", "replay", "mini@1", "mini@2",
                       str(tmp_path / "empty"))
    assert code == 2 and "没有检查表" in err


# ---------------------------------------------------------------- the text report


def _width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in line)


def test_text_report_totals_first_and_80_columns(tmp_path, rulesets, capsys) -> None:
    write_json(tmp_path / "in" / "a.json", checklist(A, "A"))
    write_json(tmp_path / "in" / "b.json", checklist(B, "B"))
    out_file = tmp_path / "impact.txt"
    code, _, err = run(capsys, "--rulesets", str(rulesets), "rulesets", "replay", "mini@1", "mini@2",
                       str(tmp_path / "in"), "-o", str(out_file))
    text = out_file.read_text(encoding="utf-8")
    assert code == 0 and "已写入" in err
    assert text.index("【总体影响】") < text.index("【按判定项汇总】") < text.index("【需补充的问题】") \
        < text.index("【逐份检查表】")
    assert "判定结论有变化：1/2 份" in text and "未发现隐患 → 存在隐患：1 份" in text
    assert "新增隐患：1 处（1 份检查表）" in text
    assert "1 份缺少｜alarm_tested：报警装置是否按期测试？" in text
    assert "[新增隐患] 2-1 第二项 ← 旧 2 第二项：未发现 → 隐患" in text
    assert "其余 1 份无变化" in text
    assert all(_width(line) <= 80 for line in text.splitlines()), [l for l in text.splitlines() if _width(l) > 80]


# ---------------------------------------------------------------- the real 工贸 rulesets


def test_industry_trade_freezer_flip(catalog, engine, tmp_path) -> None:
    """2017 第一、（二）2 joins its two conditions with 且, 2023 第十二条第（二）项 with 或者: a quick freezer
    in a separate room with 12 workers is clear under 2017 and a hazard under 2023."""
    base = json.loads((EXAMPLES / "industry-trade-2017-inspection.json").read_text(encoding="utf-8"))
    variants = []
    for cid, separate_missing, workers in (("sep-12", False, 12), ("open-5", True, 5), ("sep-5", False, 5)):
        doc = copy.deepcopy(base)
        doc["id"] = cid
        doc["answers"].update(a12_freezer_not_separate_room=separate_missing, a12_freezer_room_workers=workers)
        variants.append(json.dumps(doc, ensure_ascii=False))
    path = tmp_path / "variants.jsonl"
    path.write_text("\n".join(variants), encoding="utf-8")
    result = Replayer(catalog, "industry-trade@2017", "industry-trade@2023", engine).run(collect_sources([str(path)]))
    freezer = next(i for i, p in enumerate(result.pairings) if p.new == ("12-2",))
    assert result.pairings[freezer].old == ("1-2-2",)
    flips = {c.id: next((ch for ch in c.changes if ch.group == freezer), None) for c in result.checklists}
    assert flips["sep-12"].kind == "new_hazard" and flips["sep-12"].old.outcome == "clear"
    assert flips["open-5"].kind == "new_hazard"
    assert flips["sep-5"] is None
    # 2023 asks questions 2017 never did (e.g. 第三条 contractors): listed as needed, and counted
    needed = {q.id: q.checklists for q in needed_never_asked(result)}
    assert needed.get("a3_has_contractor") == 3
    assert kind_totals(result)["new_hazard"] == 2
    doc = replay_document(result)
    assert doc["totals"]["replayed"] == 3 and doc["totals"]["answers_not_asked_new"] > 0
    assert "【总体影响】" in render_text(result)
