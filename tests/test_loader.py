"""The ruleset loader: every error at once, each with file, line and a message a regulator understands."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.problems import ValidationFailed
from engine.ruleset_loader import check_ruleset_file, load_ruleset
from tests.conftest import MINI, ROOT


@pytest.mark.parametrize("path", sorted((ROOT / "rulesets").glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_bundled_rulesets_are_valid(path: Path) -> None:
    rs, problems = check_ruleset_file(path)
    assert problems == []
    assert rs is not None and rs.criteria


def test_minimal_ruleset_loads(write_ruleset) -> None:
    rs = load_ruleset(write_ruleset(MINI))
    assert [c.id for c in rs.criteria] == ["1", "2"]
    assert rs.question("pressure").unit == "kPa"


def _problems(write_ruleset, text: str) -> list:
    _, problems = check_ruleset_file(write_ruleset(text))
    return problems


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_all_errors_reported_at_once_with_lines(write_ruleset) -> None:
    text = MINI.replace("hazard_if: {q: pressure, lt: 30}", "hazard_if: {q: pressur, lt: 30}")
    text = text.replace("applies_if: {q: has_tank, eq: true}", "applies_if: {q: has_tank, eq: 是}")
    text = text.replace("  - {id: pressure,", "  - {id: alarm,", 1)
    problems = _problems(write_ruleset, text)
    messages = "\n".join(str(p) for p in problems)
    assert "引用了不存在的问题 'pressur'" in messages
    assert "问题编号 'alarm' 重复" in messages
    assert "类型不匹配" in messages  # boolean compared with a string
    unknown = next(p for p in problems if "pressur" in p.message)
    assert unknown.line == _line_of(text, "q: pressur")
    assert unknown.file.endswith("mini/1.yaml")
    assert len(problems) >= 3


def test_unknown_key_and_empty_condition(write_ruleset) -> None:
    text = MINI.replace("    guidance: 调整压力。", "    guidance: 调整压力。\n    severity: high")
    text = text.replace("hazard_if: {q: alarm, ne: 正常}", "hazard_if: {any: []}")
    problems = _problems(write_ruleset, text)
    by_msg = {p.message: p for p in problems}
    extra = next(p for p in problems if "未知字段" in p.message)
    assert extra.line == _line_of(text, "severity: high")
    assert any("不能为空" in m for m in by_msg)


def test_number_compared_with_choice_is_rejected(write_ruleset) -> None:
    text = MINI.replace("hazard_if: {q: pressure, lt: 30}", "hazard_if: {q: pressure, lt: {q: alarm}}")
    problems = _problems(write_ruleset, text)
    assert any("不能与问题 'alarm'（device）比较" in p.message for p in problems)


def test_device_cannot_single_out_missing(write_ruleset) -> None:
    text = MINI.replace("hazard_if: {q: alarm, ne: 正常}", "hazard_if: {q: alarm, eq: 未设置}")
    problems = _problems(write_ruleset, text)
    assert any("设置但失效" in p.message and p.line == _line_of(text, "eq: 未设置") for p in problems)


def test_criterion_without_hazard_and_clear_tests(write_ruleset) -> None:
    text = MINI.replace('    expect: {"2": hazard}', '    expect: {"1": hazard}')
    problems = _problems(write_ruleset, text)
    assert any("判定项 2" in p.message and "hazard" in p.message for p in problems)


def test_duplicate_yaml_keys_are_errors(write_ruleset) -> None:
    text = MINI.replace("title: 测试标准\n", "title: 测试标准\ntitle: 另一个\n")
    problems = _problems(write_ruleset, text)
    assert any("重复的键 'title'" in p.message and p.line == 5 for p in problems)


def test_yaml_syntax_error_has_line(write_ruleset) -> None:
    text = MINI.replace("scope: 测试", "scope: [测试")
    problems = _problems(write_ruleset, text)
    assert len(problems) == 1 and problems[0].line is not None and "YAML" in problems[0].message


def test_version_must_match_file_name(write_ruleset) -> None:
    problems = _problems(write_ruleset, MINI.replace('version: "1"', 'version: "2"'))
    assert any("文件名" in p.message for p in problems)


def test_unused_question_and_unknown_section(write_ruleset) -> None:
    text = MINI.replace("questions:\n", "questions:\n  - {id: spare, section: nowhere, text: 多余, type: boolean}\n")
    messages = [p.message for p in _problems(write_ruleset, text)]
    assert any("未定义的章节 'nowhere'" in m for m in messages)
    assert any("'spare' 未被任何判定项使用" in m for m in messages)


def test_load_ruleset_raises_with_every_problem(write_ruleset) -> None:
    text = MINI.replace("{q: pressure, lt: 30}", "{q: nope, lt: 30}").replace("{q: alarm, ne: 正常}", "{q: nada, ne: 正常}")
    with pytest.raises(ValidationFailed) as info:
        load_ruleset(write_ruleset(text))
    assert len(info.value.problems) >= 2


def test_text_question_cannot_be_in_a_condition(write_ruleset) -> None:
    text = MINI.replace("type: number, unit: kPa}", "type: text}").replace("{q: pressure, lt: 30}", "{q: pressure, eq: 高}")
    assert any("不能使用运算符" in p.message for p in _problems(write_ruleset, text))


def test_division_by_an_answer_is_rejected(write_ruleset) -> None:
    text = MINI.replace("{q: pressure, lt: 30}", "{q: pressure, lt: {div: [30, {q: pressure}]}}")
    assert any("除数只能是非零常数" in p.message for p in _problems(write_ruleset, text))


JUDGEMENT = MINI.replace("""questions:
""", """questions:
  - {id: other_found, section: main, text: 检查人员判定存在其他重大事故隐患？, type: boolean}
  - {id: other_desc, section: main, text: 其他重大事故隐患的具体情形, type: text}
""").replace("""tests:
""", """  - id: "3"
    clause: 第三项
    section: main
    text: 其他重大事故隐患
    hazard_if: {q: other_found, eq: true}
    kind: judgement
    describe: other_desc
    guidance: 按检查人员意见整改。
tests:
  - name: 其他隐患
    answers: {other_found: true, other_desc: 储罐区违规动火}
    expect: {"3": hazard}
  - name: 未说明情形
    answers: {other_found: true}
    expect: {"3": incomplete}
  - name: 待判断
    answers: {}
    expect: {"3": judgement}
  - name: 无其他隐患
    answers: {other_found: false}
    expect: {"3": clear}
""")


def test_judgement_criterion_needs_description(write_ruleset) -> None:
    from engine.evaluator import Engine
    from engine.ruleset_tests import run_tests

    rs = load_ruleset(write_ruleset(JUDGEMENT))
    report = run_tests(rs, Engine())
    assert report.ok, report.failures


def test_describe_must_be_a_text_question(write_ruleset) -> None:
    text = JUDGEMENT.replace("describe: other_desc", "describe: pressure")
    assert any("describe 应引用文本" in p.message for p in _problems(write_ruleset, text))
