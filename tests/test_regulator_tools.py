"""Regulator tools: lock (MANIFEST.json), coverage, JUnit XML, and static logic checks in validate."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from engine import static_checks
from engine.catalog import Catalog, load_items
from engine.cli import main
from engine.coverage import coverage
from engine.hashing import ruleset_sha256
from engine.junit import junit_xml
from engine.manifest import IMMUTABLE, MANIFEST_NAME
from engine.model import Ruleset
from engine.problems import ValidationFailed
from engine.ruleset_tests import run_tests
from engine.static_checks import check
from tests.conftest import MINI, ROOT


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def mini_model(text: str = MINI) -> Ruleset:
    """A ruleset straight from YAML text, bypassing the loader's own checks (e.g. test coverage)."""
    return Ruleset.model_validate(yaml.safe_load(text))


# A variant of MINI whose criterion 2 uses extra questions and a given hazard condition.
EXTRA_QUESTIONS = """\
  - {id: a, section: main, text: 甲, type: boolean}
  - {id: b, section: main, text: 乙, type: boolean}
  - {id: x, section: main, text: 数值x, type: number, unit: m}
  - {id: y, section: main, text: 数值y, type: number, unit: m}
  - {id: z, section: main, text: 数值z, type: number, unit: m}
  - {id: n, section: main, text: 台数, type: integer}
  - {id: d, section: main, text: 日期, type: date}
criteria:
"""


def variant(hazard_if: str, applies_if: str | None = None, questions: str = EXTRA_QUESTIONS) -> str:
    text = MINI.replace("criteria:\n", questions, 1).replace("{q: pressure, lt: 30}", hazard_if)
    if applies_if:
        text = text.replace("    text: 压力小于30kPa的\n", f"    text: 压力小于30kPa的\n    applies_if: {applies_if}\n")
    return text


# ---------------------------------------------------------------- lock / MANIFEST.json


def test_lock_writes_stable_manifest_and_validate_accepts_it(write_ruleset, capsys) -> None:
    path = write_ruleset(MINI)
    root = path.parent.parent
    code, out, _ = run(capsys, "--rulesets", str(root), "rulesets", "lock")
    assert code == 0 and "新锁定 mini@1" in out
    manifest = root / MANIFEST_NAME
    text = manifest.read_text(encoding="utf-8")
    doc = json.loads(text)
    rs = mini_model()
    assert doc == {"format": 1, "rulesets": [{
        "id": "mini", "version": "1", "title": "测试标准", "document": "测试〔2024〕1号",
        "effective_from": "2024-01-01", "effective_until": None, "file": "mini/1.yaml",
        "sha256": ruleset_sha256(rs)}]}
    assert text == json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    # locking again changes nothing; reformatting the YAML (comments, flow style) keeps the hash
    code, out, _ = run(capsys, "--rulesets", str(root), "rulesets", "lock")
    assert code == 0 and "无变化" in out and manifest.read_text(encoding="utf-8") == text
    path.write_text("# 注释\n" + MINI.replace("coverage: {items_total: 2}", "coverage:\n  items_total: 2"),
                    encoding="utf-8")
    code, out, _ = run(capsys, "rulesets", "validate", str(root))
    assert code == 0 and "尚未锁定" not in out
    assert Catalog.from_dir(root).items[0].sha256 == doc["rulesets"][0]["sha256"]


def test_tampered_locked_version_fails_everywhere(write_ruleset, capsys) -> None:
    path = write_ruleset(MINI)
    root = path.parent.parent
    assert run(capsys, "--rulesets", str(root), "rulesets", "lock")[0] == 0
    recorded = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))["rulesets"][0]["sha256"]
    path.write_text(MINI.replace("{q: pressure, lt: 30}", "{q: pressure, lt: 25}"), encoding="utf-8")
    current = ruleset_sha256(mini_model(path.read_text(encoding="utf-8")))
    assert current != recorded
    code, out, _ = run(capsys, "rulesets", "validate", str(root))
    assert code == 1 and IMMUTABLE in out and recorded in out and current in out and str(path) in out
    with pytest.raises(ValidationFailed) as info:
        Catalog.from_dir(root)
    assert IMMUTABLE in str(info.value) and recorded in str(info.value) and current in str(info.value)
    code, _, err = run(capsys, "--rulesets", str(root), "rulesets", "list")
    assert code == 2 and IMMUTABLE in err
    # lock refuses to move a locked hash, says why, writes nothing
    before = (root / MANIFEST_NAME).read_text(encoding="utf-8")
    code, _, err = run(capsys, "--rulesets", str(root), "rulesets", "lock")
    assert code == 1 and "拒绝" in err and "新版本" in err and "--force" in err
    assert (root / MANIFEST_NAME).read_text(encoding="utf-8") == before
    code, out, _ = run(capsys, "--rulesets", str(root), "rulesets", "lock", "--force")
    assert code == 0 and "强制更新 mini@1" in out and current in out
    assert Catalog.from_dir(root).items[0].sha256 == current


def test_draft_version_is_allowed_but_noted(write_ruleset, capsys) -> None:
    root = write_ruleset(MINI).parent.parent
    assert run(capsys, "--rulesets", str(root), "rulesets", "lock")[0] == 0
    write_ruleset(MINI.replace("id: mini", "id: draft"), rid="draft")
    code, out, _ = run(capsys, "rulesets", "validate", str(root))
    assert code == 0 and "draft@1 尚未锁定" in out and "mini@1 尚未锁定" not in out
    assert {x.ruleset.ref for x in Catalog.from_dir(root).items} == {"mini@1", "draft@1"}
    code, out, _ = run(capsys, "--rulesets", str(root), "rulesets", "lock")
    assert code == 0 and "新锁定 draft@1" in out and "mini@1" not in out


def test_deleted_locked_version_is_an_error(write_ruleset, capsys) -> None:
    root = write_ruleset(MINI).parent.parent
    other = write_ruleset(MINI.replace("id: mini", "id: other"), rid="other")
    assert run(capsys, "--rulesets", str(root), "rulesets", "lock")[0] == 0
    other.unlink()
    with pytest.raises(ValidationFailed, match="other@1"):
        Catalog.from_dir(root)
    code, out, _ = run(capsys, "rulesets", "validate", str(root))
    assert code == 1 and "other/1.yaml 不存在" in out
    assert run(capsys, "--rulesets", str(root), "rulesets", "lock")[0] == 1
    code, out, _ = run(capsys, "--rulesets", str(root), "rulesets", "lock", "--force")
    assert code == 0 and "强制移除 other@1" in out
    assert [x.ruleset.ref for x in Catalog.from_dir(root).items] == ["mini@1"]


def test_broken_manifest_is_reported(write_ruleset, capsys) -> None:
    root = write_ruleset(MINI).parent.parent
    (root / MANIFEST_NAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(ValidationFailed, match=MANIFEST_NAME):
        Catalog.from_dir(root)
    code, _, err = run(capsys, "--rulesets", str(root), "rulesets", "lock")
    assert code == 2 and MANIFEST_NAME in err and "Traceback" not in err


def test_real_manifest_matches_current_rulesets() -> None:
    """Every version recorded in rulesets/MANIFEST.json still has its hash (drafts may be unlocked)."""
    manifest = ROOT / "rulesets" / MANIFEST_NAME
    if not manifest.exists():
        pytest.skip("rulesets/MANIFEST.json not created yet")
    items, problems = load_items(ROOT / "rulesets")
    assert not problems
    current = {x.ruleset.ref: x.sha256 for x in items}
    for row in json.loads(manifest.read_text(encoding="utf-8"))["rulesets"]:
        assert current.get(f"{row['id']}@{row['version']}") == row["sha256"], row["file"]


# ---------------------------------------------------------------- coverage


def test_coverage_report_of_mini(write_ruleset, capsys) -> None:
    root = write_ruleset(MINI).parent.parent
    code, out, _ = run(capsys, "--rulesets", str(root), "rulesets", "coverage", "-f", "json")
    assert code == 0
    (doc,) = json.loads(out)
    assert doc["ruleset"] == "mini@1" and doc["ok"] is True
    assert doc["items"] == {"total": 2, "encoded": 2, "not_encoded": [], "unaccounted": 0}
    assert doc["criteria"] == {"total": 2, "covered": 2, "uncovered": []}
    # every test of criterion 1 has a tank: its applicability was never false
    assert [x["where"] for x in doc["leaves"]["never_false"]] == ["applies_if"]
    assert doc["leaves"]["never_true"] == []
    assert (doc["leaves"]["total"], doc["leaves"]["exercised"]) == (3, 2)
    assert doc["unused_questions"] == []
    code, out, _ = run(capsys, "--rulesets", str(root), "rulesets", "coverage")
    assert code == 0 and "判定项覆盖（通过的隐患用例 + 未发现用例）：2/2" in out
    assert "警告：判定项 1 applies_if（has_tank 等于 是）从未为假" in out


def test_coverage_fails_without_clear_test(engine) -> None:
    data = yaml.safe_load(MINI)
    data["tests"][1]["expect"] = {"1": "clear"}  # criterion 2 loses its clear case
    data["questions"].append({"id": "spare", "section": "profile", "profile": True, "text": "备用", "type": "boolean"})
    rs = Ruleset.model_validate(data)
    cov = coverage(rs, engine)
    assert not cov.ok and cov.criteria_covered == 1
    assert [(c.id, sorted({"hazard", "clear"} - c.outcomes)) for c in cov.tests.uncovered] == [("2", ["clear"])]
    assert cov.unused_questions == ["spare"]
    assert cov.as_json()["criteria"]["uncovered"] == [{"id": "2", "clause": "第二项", "lacking": ["clear"]}]


def test_coverage_exit_1_when_a_clear_case_fails(write_ruleset, capsys) -> None:
    # the loader accepts it (a clear case exists) but the case is wrong: no passing clear test for "2"
    root = write_ruleset(MINI.replace("alarm: 正常, pressure: 30}", "alarm: 正常, pressure: 29}")).parent.parent
    code, out, _ = run(capsys, "--rulesets", str(root), "rulesets", "coverage")
    assert code == 1 and "缺少覆盖：判定项 2（第二项）没有通过的 clear 用例" in out and "预期 clear，实际 hazard" in out
    assert run(capsys, "--rulesets", str(root), "rulesets", "coverage", "nothing")[0] == 2


def test_coverage_of_real_rulesets(catalog, engine) -> None:
    for x in catalog.items:
        cov = coverage(x.ruleset, engine)
        assert cov.ok, x.ruleset.ref
        if cov.items_total is None:  # official count unknown: the ruleset must say what it leaves out
            assert x.ruleset.is_partial and cov.not_encoded, x.ruleset.ref
        else:
            assert cov.encoded + cov.not_encoded_count == cov.items_total, x.ruleset.ref
        assert cov.leaves and all(leaf.where.startswith(("applies_if", "hazard_if")) for leaf in cov.leaves)


# ---------------------------------------------------------------- JUnit XML


def test_junit_xml_passing(write_ruleset, tmp_path, capsys) -> None:
    root = write_ruleset(MINI).parent.parent
    out_file = tmp_path / "junit.xml"
    code, _, err = run(capsys, "--rulesets", str(root), "rulesets", "test", "--junit", str(out_file))
    assert code == 0 and str(out_file) in err
    tree = ET.parse(out_file).getroot()
    assert tree.tag == "testsuites" and tree.get("tests") == "3" and tree.get("failures") == "0"
    (suite,) = tree.findall("testsuite")
    assert suite.get("name") == "mini@1" and suite.get("tests") == "3" and suite.get("errors") == "0"
    assert {p.get("name"): p.get("value") for p in suite.find("properties")}["sha256"] == ruleset_sha256(mini_model())
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["无报警", "报警正常", "压力低"]
    assert all(c.get("classname") == "mini@1" and float(c.get("time")) >= 0 and c.find("failure") is None for c in cases)


def test_junit_xml_failures_and_uncovered(write_ruleset, tmp_path, capsys, engine) -> None:
    root = write_ruleset(MINI.replace("alarm: 正常, pressure: 30}", "alarm: 正常, pressure: 29}")).parent.parent
    out_file = tmp_path / "junit.xml"
    code, _, _ = run(capsys, "--rulesets", str(root), "rulesets", "test", "--junit", str(out_file))
    assert code == 1
    suite = ET.parse(out_file).getroot().find("testsuite")
    # 3 embedded tests + 1 criterion lacking a passing clear case; 2 of them failed
    assert suite.get("tests") == "4" and suite.get("failures") == "2"
    failed = {c.get("name"): c.find("failure") for c in suite.findall("testcase") if c.find("failure") is not None}
    assert set(failed) == {"报警正常", "覆盖：判定项 2（第二项）"}
    assert "预期 clear，实际 hazard" in failed["报警正常"].text and failed["报警正常"].get("type") == "expectation"
    assert failed["覆盖：判定项 2（第二项）"].get("type") == "coverage"
    # a ruleset the loader would refuse (no clear case at all), straight from the model
    data = yaml.safe_load(MINI)
    data["tests"][1]["expect"] = {"1": "clear"}
    rs = Ruleset.model_validate(data)
    doc = ET.fromstring(junit_xml([(rs, "0" * 64, run_tests(rs, engine))], dt.datetime(2025, 1, 2, 3, 4, 5), "ci"))
    suite = doc.find("testsuite")
    assert suite.get("timestamp") == "2025-01-02T03:04:05" and suite.get("hostname") == "ci"
    assert suite.get("tests") == "4" and suite.get("failures") == "1" and doc.get("failures") == "1"


# ---------------------------------------------------------------- static checks


def _findings(text: str) -> list[tuple[str, str]]:
    return [(f.severity, f.message) for f in check(mini_model(text))]


def test_validate_reports_never_true_condition_with_line(write_ruleset, capsys) -> None:
    only_a = "  - {id: a, section: main, text: 甲, type: boolean}\ncriteria:\n"
    path = write_ruleset(variant("{all: [{q: pressure, lt: 30}, {q: a, eq: true}, {q: a, eq: false}]}", questions=only_a))
    code, out, _ = run(capsys, "rulesets", "validate", str(path))
    line = next(i for i, t in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "{q: a, eq: false}" in t)
    assert code == 1 and f"{path}:{line}" in out and "判定项 2（第二项）的判定条件永远不成立" in out and "穷举" in out


@pytest.mark.parametrize("hazard_if, expected", [
    ("{any: [{q: a, eq: true}, {q: a, ne: true}]}", "恒成立"),
    ("{all: [{q: x, lt: {q: y}}, {q: y, lt: {q: x}}]}", "永远不成立"),
    ("{all: [{q: x, lt: {q: y}}, {q: y, lt: {q: z}}, {q: z, le: {q: x}}]}", "永远不成立"),
    ("{all: [{q: n, gt: 3}, {q: n, lt: 4}]}", "永远不成立"),
    ("{all: [{q: d, gt: 2019-12-31}, {q: d, lt: 2020-01-01}]}", "永远不成立"),
    ("{all: [{q: x, between: [10, 20]}, {q: x, gt: 20}]}", "永远不成立"),
    ("{at_least: 2, of: [{q: a, eq: true}, {q: a, eq: false}, {q: b, eq: true}, {q: b, eq: false}]}", "恒成立"),
    ("{not: {any: [{q: alarm, eq: 正常}, {q: alarm, ne: 正常}]}}", "永远不成立"),
])
def test_static_errors(hazard_if: str, expected: str) -> None:
    found = _findings(variant(hazard_if))
    assert len(found) == 1 and found[0][0] == "error" and expected in found[0][1], found


@pytest.mark.parametrize("hazard_if", [
    "{all: [{q: x, gt: {q: y}}, {q: x, lt: {q: z}}]}",  # y < x < z: needs an ordering of three questions
    "{all: [{q: x, gt: 3}, {q: x, lt: 3.0001}]}",
    "{all: [{q: x, gt: {mul: [{q: y}, 1.1]}}, {q: x, lt: 12}, {q: y, gt: 10}]}",  # y in (10, 10.9)
    "{all: [{q: n, ge: 3}, {q: n, le: 3}, {q: d, eq: 2020-02-29}]}",
    "{any: [{q: a, eq: true}, {q: b, eq: true}]}",
])
def test_satisfiable_conditions_are_not_reported(hazard_if: str) -> None:
    assert _findings(variant(hazard_if)) == []


def test_applicability_checks() -> None:
    never = _findings(variant("{q: b, eq: true}", applies_if="{all: [{q: has_tank, eq: true}, {q: has_tank, ne: true}]}"))
    assert [s for s, _ in never] == ["error"] and "适用条件永远不成立" in never[0][1]
    exclusive = _findings(variant("{all: [{q: a, eq: false}, {q: b, eq: true}]}", applies_if="{q: a, eq: true}"))
    assert [s for s, _ in exclusive] == ["error"] and "在适用条件成立时判定条件永远不成立" in exclusive[0][1]
    always = _findings(variant("{any: [{q: a, eq: true}, {q: b, eq: true}]}", applies_if="{q: a, eq: true}"))
    assert [s for s, _ in always] == ["warning"] and "只要适用就判定为隐患" in always[0][1]


def test_arithmetic_contradiction_is_only_a_warning() -> None:
    found = _findings(variant("{all: [{q: x, gt: {mul: [{q: y}, 1.1]}}, {q: x, lt: 11}, {q: y, gt: 10}]}"))
    assert len(found) == 1 and found[0][0] == "warning" and "近似" in found[0][1]


def test_large_space_is_sampled_then_searched(monkeypatch) -> None:
    questions = "".join(f"  - {{id: b{i}, section: main, text: 乙{i}, type: boolean}}\n" for i in range(18))
    conj = ", ".join(f"{{q: b{i}, eq: true}}" for i in range(18))
    text = variant(f"{{all: [{conj}, {{q: b17, eq: false}}]}}", questions=questions + "criteria:\n")
    (found,) = _findings(text)
    assert found[0] == "error" and "永远不成立" in found[1] and "抽样检查" in found[1] and "剪枝搜索确认" in found[1]
    assert _findings(text.replace(", {q: b17, eq: false}", "")) == []  # a single witness among 262144
    monkeypatch.setattr(static_checks, "SEARCH_BUDGET", 5)
    (found,) = _findings(text)
    assert found[0] == "warning" and "未能穷举" in found[1]


def test_duplicate_criteria() -> None:
    data = yaml.safe_load(MINI)
    twin = dict(data["criteria"][1], id="3", clause="第三项", text="压力过低的")
    same_text = dict(data["criteria"][1], id="4", clause="第四项", hazard_if={"q": "pressure", "lt": 20})
    other_scope = dict(data["criteria"][1], id="5", clause="第五项", hazard_if={"q": "pressure", "lt": 10},
                       applies_if={"q": "has_tank", "eq": True})
    data["criteria"] += [twin, same_text, other_scope]
    found = [(f.severity, f.path, f.message) for f in check(Ruleset.model_validate(data))]
    assert found == [
        ("error", ("criteria", 2, "hazard_if"), "判定项 3（第三项）与判定项 2（第二项）的适用条件和判定条件完全相同（重复判定项）"),
        ("error", ("criteria", 3, "text"), "判定项 4（第四项）与判定项 2（第二项）的条文原文和适用条件都相同（重复判定项）"),
    ]  # same wording for another scope (the standards repeat items per sector) is not a duplicate


def test_real_rulesets_have_no_static_errors(catalog) -> None:
    for x in catalog.items:
        assert [f for f in check(x.ruleset)] == [], x.ruleset.ref


def test_new_commands_have_help(capsys) -> None:
    for argv in (["rulesets", "lock", "--help"], ["rulesets", "coverage", "--help"], ["rulesets", "test", "--help"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
    out = capsys.readouterr().out
    assert "MANIFEST.json" in out and "--junit" in out and "--force" in out


def test_mini_fixture_is_clean(write_ruleset, capsys) -> None:
    path = write_ruleset(MINI)
    code, out, _ = run(capsys, "rulesets", "validate", str(path))
    assert code == 0 and "警告" not in out and "尚未锁定" in out
    assert _findings(Path(path).read_text(encoding="utf-8")) == []
