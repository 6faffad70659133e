"""Checklist validation: every problem with its JSON path; nothing silently dropped or coerced."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from engine.binding import bind
from engine.checklist import parse_checklist
from engine.problems import ValidationFailed
from engine.uscc import check_char, uscc_problem
from tests.conftest import EXAMPLES

BASE = {
    "schema_version": "1.0",
    "id": "T-1",
    "kind": "inspection",
    "inspection_date": "2025-06-03",
    "enterprise": {"name": "示例有限公司", "uscc": "", "region_code": "320505",
                   "industry_code": "C3311", "address": "江苏省苏州市"},
    "inspectors": [{"name": "张三", "cert_no": "32050001"}],
    "rulesets": ["industry-trade"],
    "answers": {"sectors": ["机械"]},
}


def _valid_uscc(first17: str) -> str:
    return first17 + check_char(first17)


BASE["enterprise"]["uscc"] = _valid_uscc("91320505MA1XYW123")


def _problems(doc: dict, catalog=None) -> list:
    with pytest.raises(ValidationFailed) as info:
        checklist, _ = parse_checklist(json.dumps(doc, ensure_ascii=False), "c.json")
        if catalog is not None:
            bind(checklist, catalog, checklist.inspection_date, "c.json")
    return info.value.problems


@pytest.mark.parametrize("code", ["91110108MA00ABCD45", "913205001234567881", "92440300L00000011J", "52110000500000007X"])
def test_uscc_valid_codes(code: str) -> None:
    assert uscc_problem(code) is None


@pytest.mark.parametrize("code,fragment", [
    ("91110108MA00ABCD46", "校验位错误"),
    ("91110108MA00ABCD4", "18位"),
    ("91110108MA00ABCDI5", "不允许的字符"),
    ("9111A108MA00ABCD45", "行政区划码"),
])
def test_uscc_invalid_codes(code: str, fragment: str) -> None:
    problem = uscc_problem(code)
    assert problem and fragment in problem


def test_valid_checklist_binds(catalog) -> None:
    checklist, _ = parse_checklist(json.dumps(BASE, ensure_ascii=False))
    [bound] = bind(checklist, catalog, checklist.inspection_date, "c.json")
    assert bound.ruleset.ref == "industry-trade@2023"
    assert bound.answers == {"sectors": ("机械",)}


def test_structural_problems_listed_together() -> None:
    doc = copy.deepcopy(BASE)
    doc["inspection_date"] = "2025/06/03"
    good = BASE["enterprise"]["uscc"]
    doc["enterprise"]["uscc"] = good[:17] + ("1" if good[17] != "1" else "2")
    doc["enterprise"]["region_code"] = "3205"
    doc["kind"] = "audit"
    doc["extra"] = 1
    paths = {p.path: p.message for p in _problems(doc)}
    assert "日期格式" in paths["$.inspection_date"]
    assert "校验位错误" in paths["$.enterprise.uscc"]
    assert "$.enterprise.region_code" in paths
    assert "$.kind" in paths
    assert "未知字段" in paths["$.extra"]


def test_answer_problems_listed_with_paths(catalog) -> None:
    doc = copy.deepcopy(BASE)
    doc["answers"] = {
        "sectors": ["机械", "造船"],          # outside the choices
        "dust_explosion": "是",               # wrong type: boolean expected
        "no_such_question": True,             # unknown
        "a7_casting_furnace_exists": 1,       # wrong type (bool expected) - may be unknown id too
    }
    problems = _problems(doc, catalog)
    paths = {p.path: p.message for p in problems}
    assert "造船" in paths['$.answers.sectors']
    assert "true 或 false" in paths["$.answers.dust_explosion"]
    assert "未知问题" in paths["$.answers.no_such_question"]
    assert len(problems) >= 4


def test_device_answer_outside_choices(catalog) -> None:
    ruleset = next(x.ruleset for x in catalog.items if x.ruleset.id == "industry-trade")
    device = next(q for q in ruleset.questions if q.type.value == "device")
    doc = copy.deepcopy(BASE)
    doc["answers"] = {device.id: "坏了"}
    [problem] = _problems(doc, catalog)
    assert problem.path == f"$.answers.{device.id}" and "未设置 / 设置但失效 / 正常" in problem.message


def test_number_is_not_coerced_from_string(catalog) -> None:
    ruleset = next(x.ruleset for x in catalog.items if x.ruleset.id == "industry-trade")
    number = next(q for q in ruleset.questions if q.type.value in ("number", "integer"))
    doc = copy.deepcopy(BASE)
    doc["answers"] = {number.id: "25"}
    [problem] = _problems(doc, catalog)
    assert "应为" in problem.message and "数" in problem.message


def test_nan_and_syntax_errors() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_checklist('{"a": NaN}', "c.json")
    assert "NaN" in str(info.value)
    with pytest.raises(ValidationFailed) as info:
        parse_checklist('{\n "a": 1,\n}', "c.json")
    assert info.value.problems[0].line == 3


def test_unknown_ruleset_and_version(catalog) -> None:
    doc = copy.deepcopy(BASE)
    doc["rulesets"] = ["industry-trade@1999", "mining"]
    doc["answers"] = {}
    messages = [p.message for p in _problems(doc, catalog)]
    assert any("没有版本 '1999'" in m for m in messages)
    assert any("未知的规则集 'mining'" in m for m in messages)


def test_no_version_in_force_before_first_edition(catalog) -> None:
    doc = copy.deepcopy(BASE)
    doc["inspection_date"] = "2016-01-01"  # before the 2017 edition
    messages = [p.message for p in _problems(doc, catalog)]
    assert any("没有施行中的版本" in m for m in messages)


def test_inspection_requires_inspectors() -> None:
    doc = copy.deepcopy(BASE)
    doc["inspectors"] = []
    assert any("检查人员" in p.message for p in _problems(doc))


def test_missing_uscc_needs_reason() -> None:
    doc = copy.deepcopy(BASE)
    del doc["enterprise"]["uscc"]
    assert any("no_uscc_reason" in p.message for p in _problems(doc))
    doc["enterprise"]["no_uscc_reason"] = "未办理登记的个体经营者"
    parse_checklist(json.dumps(doc, ensure_ascii=False))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_examples_are_valid(path: Path, catalog) -> None:
    checklist, _ = parse_checklist(path.read_text(encoding="utf-8"), str(path))
    bind(checklist, catalog, checklist.inspection_date, str(path))
