"""The ``hazard`` command: exit statuses, outputs, help text, and no tracebacks for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import build_parser, main
from engine.uscc import check_char
from tests.conftest import MINI

USCC = "91320505MA1XYW123" + check_char("91320505MA1XYW123")


def _checklist(tmp_path: Path, answers: dict, **extra) -> Path:
    doc = {
        "schema_version": "1.0", "id": "CLI-1", "kind": "inspection", "inspection_date": "2025-06-03",
        "enterprise": {"name": "命令行测试有限公司", "uscc": USCC, "region_code": "320505",
                       "industry_code": "C3311", "address": "江苏省苏州市"},
        "inspectors": [{"name": "张三", "cert_no": "32050001"}],
        "rulesets": ["mini"], "answers": answers, **extra,
    }
    path = tmp_path / "checklist.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def mini_dir(write_ruleset) -> Path:
    return write_ruleset(MINI).parent.parent


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_exit_status_hazard_clear_incomplete(tmp_path, mini_dir, capsys) -> None:
    hazard = _checklist(tmp_path, {"has_tank": True, "alarm": "设置但失效", "pressure": 40})
    assert run(capsys, "--rulesets", str(mini_dir), "check", str(hazard))[0] == 1
    clear = _checklist(tmp_path, {"has_tank": True, "alarm": "正常", "pressure": 40})
    assert run(capsys, "--rulesets", str(mini_dir), "check", str(clear))[0] == 0
    incomplete = _checklist(tmp_path, {"has_tank": True, "alarm": "正常"})
    code, out, _ = run(capsys, "--rulesets", str(mini_dir), "check", str(incomplete))
    assert code == 3 and "检查未完成" in out and "压力" in out


def test_json_output_contract(tmp_path, mini_dir, capsys) -> None:
    path = _checklist(tmp_path, {"has_tank": True, "alarm": "未设置"}, notes={"alarm": "报警器拆除"})
    code, out, _ = run(capsys, "--rulesets", str(mini_dir), "check", str(path), "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert doc["verdict"] == "hazard"
    assert set(doc["ruleset"]) >= {"id", "version", "sha256"} and len(doc["ruleset"]["sha256"]) == 64
    first, second = doc["criteria"]
    assert first["outcome"] == "hazard" and first["text"] == "储罐未设置报警装置的"
    assert first["explanation"][0] == {"question": "alarm", "question_text": "报警装置", "observed": "未设置",
                                       "op": "不等于", "required": "正常", "held": True}
    notes = {o["question"]: o["note"] for o in first["observations"]}
    assert notes == {"has_tank": None, "alarm": "报警器拆除"}
    assert second["outcome"] == "incomplete" and second["missing"] == ["pressure"]
    assert doc["summary"]["hazard"] == 1
    assert len(doc["checklist"]["sha256"]) == 64 and doc["engine"]["version"]


def test_numbers_shown_in_explanation(tmp_path, mini_dir, capsys) -> None:
    path = _checklist(tmp_path, {"has_tank": False, "pressure": 12.5})
    _, out, _ = run(capsys, "--rulesets", str(mini_dir), "check", str(path), "-f", "json")
    crit = json.loads(out)["criteria"][1]
    assert crit["explanation"][0]["observed"] == "12.5 kPa" and crit["explanation"][0]["required"] == "30 kPa"


def test_bad_input_exit_2_without_traceback(tmp_path, mini_dir, capsys) -> None:
    path = _checklist(tmp_path, {"alarm": "坏", "nope": 1})
    code, out, err = run(capsys, "--rulesets", str(mini_dir), "check", str(path))
    assert code == 2 and "Traceback" not in err
    assert "$.answers.alarm" in err and "$.answers.nope" in err
    code, _, err = run(capsys, "check", str(tmp_path / "missing.json"))
    assert code == 2 and "无法读取" in err


@pytest.mark.parametrize("fmt", ["html", "md", "text"])
def test_report_formats(tmp_path, mini_dir, capsys, fmt) -> None:
    path = _checklist(tmp_path, {"has_tank": True, "alarm": "未设置", "pressure": 31},
                      notes={"alarm": "<script>alert(1)</script>"})
    out_file = tmp_path / f"report.{ 'txt' if fmt == 'text' else fmt}"
    code, _, err = run(capsys, "--rulesets", str(mini_dir), "check", str(path), "-o", str(out_file))
    text = out_file.read_text(encoding="utf-8")
    assert code == 1 and "已写入" in err
    assert "储罐未设置报警装置的" in text and "测试〔2024〕1号" in text and "第一项" in text
    if fmt == "html":
        assert "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text
        assert "http://" not in text and "https://" not in text  # standalone: no external resources


def test_as_of_selects_version(tmp_path, write_ruleset, capsys) -> None:
    write_ruleset(MINI)
    newer = MINI.replace('version: "1"', 'version: "2"').replace("effective_from: 2024-01-01", "effective_from: 2025-01-01")
    first = write_ruleset(MINI.replace("scope: 测试", "scope: 测试\neffective_until: 2024-12-31")).parent.parent
    write_ruleset(newer, version="2")
    path = _checklist(tmp_path, {"has_tank": False, "pressure": 40})
    _, out, _ = run(capsys, "--rulesets", str(first), "check", str(path), "-f", "json")
    assert json.loads(out)["ruleset"]["version"] == "2"
    _, out, _ = run(capsys, "--rulesets", str(first), "check", str(path), "-f", "json", "--as-of", "2024-06-01")
    det = json.loads(out)
    assert det["ruleset"]["version"] == "1" and "2024-06-01" in det["ruleset"]["selected_because"]


def test_template_json_and_html(tmp_path, capsys) -> None:
    code, out, _ = run(capsys, "template", "industry-trade", "--as-of", "2025-01-01", "--profile", "sectors=纺织",
                       "--profile", "dust_explosion=false", "--profile", "ammonia_refrigeration=false",
                       "--profile", "confined_space_toxic=false", "--profile", "metal_smelting=false")
    blank = json.loads(out)
    assert code == 0 and blank["rulesets"] == ["industry-trade@2023"]
    assert not any(k.startswith(("a4_", "a5_", "a11_")) for k in blank["answers"])  # 冶金/有色/粉尘 not asked
    assert any(k.startswith("a9_") for k in blank["answers"])
    form = tmp_path / "form.html"
    assert run(capsys, "template", "hazchem", "-f", "html", "-o", str(form))[0] == 0
    assert "现场检查表" in form.read_text(encoding="utf-8")
    code, _, err = run(capsys, "template", "industry-trade", "--profile", "sectors=造船")
    assert code == 2 and "造船" in err


def test_rulesets_commands(capsys) -> None:
    code, out, _ = run(capsys, "rulesets", "list")
    assert code == 0 and "中华人民共和国应急管理部令第10号" in out and "64/64" in out
    code, out, _ = run(capsys, "rulesets", "show", "hazchem@2017")
    assert code == 0 and "特种作业人员未持证上岗" in out
    assert run(capsys, "rulesets", "validate")[0] == 0
    code, out, _ = run(capsys, "rulesets", "test", "-v")
    assert code == 0 and "20/20" in out and "64/64" in out
    assert run(capsys, "rulesets", "show", "nothing")[0] == 2


def test_validate_reports_broken_file(write_ruleset, capsys) -> None:
    path = write_ruleset(MINI.replace("{q: pressure, lt: 30}", "{q: pressur, lt: 30}"))
    code, out, _ = run(capsys, "rulesets", "validate", str(path))
    assert code == 1 and f"{path}:" in out and "pressur" in out


def test_every_command_has_help(capsys) -> None:
    parser = build_parser()
    for argv in (["--help"], ["check", "--help"], ["template", "--help"], ["rulesets", "--help"],
                 ["rulesets", "list", "--help"], ["rulesets", "show", "--help"], ["rulesets", "validate", "--help"],
                 ["rulesets", "test", "--help"], ["schemas", "--help"]):
        with pytest.raises(SystemExit) as info:
            parser.parse_args(argv)
        assert info.value.code == 0
        out = capsys.readouterr().out
        assert "usage:" in out and len(out) > 120


def test_overlapping_and_gapped_periods_are_errors(write_ruleset, capsys) -> None:
    root = write_ruleset(MINI).parent.parent
    write_ruleset(MINI.replace('version: "1"', 'version: "2"').replace("2024-01-01", "2025-01-01"), version="2")
    code, _, err = run(capsys, "--rulesets", str(root), "rulesets", "list")
    assert code == 2 and "重叠" in err and "effective_until: 2024-12-31" in err
    write_ruleset(MINI.replace("scope: 测试", "scope: 测试\neffective_until: 2024-06-30"))
    code, _, err = run(capsys, "--rulesets", str(root), "rulesets", "list")
    assert code == 2 and "空档" in err and "2024-07-01 至 2024-12-31" in err


@pytest.mark.parametrize("coverage,statement", [
    ("coverage: {items_total: 5}", "本规则集仅覆盖该标准的 2/5 项"),
    ("coverage: {}", "标准总项数未知"),
])
def test_partial_ruleset_never_prints_a_bare_clear(tmp_path, write_ruleset, capsys, coverage, statement) -> None:
    root = write_ruleset(MINI.replace("coverage: {items_total: 2}", coverage)).parent.parent
    path = _checklist(tmp_path, {"has_tank": True, "alarm": "正常", "pressure": 40})
    code, out, _ = run(capsys, "--rulesets", str(root), "check", str(path), "-f", "json")
    det = json.loads(out)
    assert code == 0 and det["verdict"] == "clear" and det["ruleset"]["partial"]
    assert det["summary"]["verdict_text"] != "未发现重大事故隐患" and statement in det["summary"]["verdict_text"]
    assert statement in det["warnings"][0]
    for fmt in ("text", "md", "html"):
        code, out, _ = run(capsys, "--rulesets", str(root), "check", str(path), "-f", fmt)
        assert statement in out
    code, out, _ = run(capsys, "--rulesets", str(root), "rulesets", "list")
    assert "（部分）" in out


def test_closing_a_locked_version_keeps_it_locked(write_ruleset, capsys) -> None:
    root = write_ruleset(MINI).parent.parent
    assert run(capsys, "--rulesets", str(root), "rulesets", "lock")[0] == 0
    write_ruleset(MINI.replace("scope: 测试", "scope: 测试\neffective_until: 2024-12-31"))
    code, out, err = run(capsys, "--rulesets", str(root), "rulesets", "list")
    assert code == 0, err
    write_ruleset(MINI.replace("压力小于30kPa的", "压力小于31kPa的"))
    code, _, err = run(capsys, "--rulesets", str(root), "rulesets", "list")
    assert code == 2 and "已发布版本不可修改" in err


def test_check_loads_only_the_rulesets_the_checklist_names(tmp_path, write_ruleset, capsys) -> None:
    root = write_ruleset(MINI).parent.parent
    write_ruleset("format: 1\nid: other\n", rid="other", version="1")  # broken, but not named by the checklist
    path = _checklist(tmp_path, {"has_tank": True, "alarm": "正常", "pressure": 40})
    assert run(capsys, "--rulesets", str(root), "check", str(path))[0] == 0
    code, _, err = run(capsys, "--rulesets", str(root), "rulesets", "validate")
    assert code == 1 or code == 2
