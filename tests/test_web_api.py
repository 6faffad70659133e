"""``hazard serve``: the JSON API and the HTML form flow, with FastAPI's TestClient.

The API must return exactly what ``hazard check -f json`` prints for the same checklist; bad input is a 422
listing every problem with its JSON path; nothing ever answers with a stack trace; the browser form never
turns a blank into an answer, and an uploaded checklist submitted unchanged comes back identical.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import random
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from engine.blank import blank_checklist, parse_profile
from engine.catalog import Catalog
from engine.conditions import evaluate, leaves
from engine.model import Arith, QRef, QuestionType
from engine.report import render
from engine.service import as_document, check_file
from engine.uscc import check_char
from engine.web.app import MAX_BODY, create_app
from tests.conftest import EXAMPLES, MINI, ROOT

USCC = "91320505MA1XYW123" + check_char("91320505MA1XYW123")
PARITY = ["hazchem-2017-inspection.json", "industry-trade-2023-inspection.json"]


@pytest.fixture(scope="module")
def client(catalog: Catalog) -> TestClient:
    with TestClient(create_app(catalog=catalog), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def mini_client(write_ruleset) -> TestClient:
    """An app over two tiny rulesets that share question ids (answers need ``ruleset/question`` keys)."""
    write_ruleset(MINI)
    write_ruleset(MINI.replace("id: mini\n", "id: mini-b\n").replace("测试标准", "测试标准乙"), rid="mini-b")
    root = write_ruleset(MINI).parent.parent
    with TestClient(create_app(root), raise_server_exceptions=False) as c:
        yield c


def cli_json(path: Path, *extra: str) -> dict:
    """What the installed command prints: ``hazard check PATH -f json``."""
    result = subprocess.run([sys.executable, "-m", "engine.cli", "check", str(path), "-f", "json", *extra],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode in (0, 1, 3), result.stderr
    return json.loads(result.stdout)


def engine_json(path: Path, catalog: Catalog) -> dict:
    """The same document in-process (``hazard check`` = ``engine.service``; faster than a subprocess)."""
    return as_document(check_file(path, catalog)).model_dump(mode="json")


def mini_checklist(answers: dict, **extra) -> dict:
    return {
        "schema_version": "1.0", "id": "WEB-1", "kind": "inspection", "inspection_date": "2025-06-03",
        "enterprise": {"name": "网页测试有限公司", "uscc": USCC, "region_code": "320505",
                       "industry_code": "C3311", "address": "江苏省苏州市"},
        "inspectors": [{"name": "张三", "cert_no": "32050001"}],
        "rulesets": ["mini"], "answers": answers, **extra,
    }


# ---------------------------------------------------------------- a browser's view of a form


class _Forms(HTMLParser):
    """The fields a browser would submit for each form of a page (checked boxes, selected options, text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: dict[str, dict] = {}
        self.current: str | None = None
        self.textarea: list[str] | None = None
        self.select: list | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "form":
            self.current = a.get("id") or a.get("action")
            self.forms[self.current] = {"action": a.get("action"), "fields": []}
        elif self.current is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file") or (kind in ("radio", "checkbox") and "checked" not in a):
                return
            self.forms[self.current]["fields"].append((a["name"], a.get("value", "")))
        elif tag == "textarea" and a.get("name"):
            self.textarea = [a["name"], ""]
        elif tag == "select" and a.get("name"):
            self.select = [a["name"], None, None]
        elif tag == "option" and self.select is not None:
            if self.select[2] is None:
                self.select[2] = a.get("value", "")
            if "selected" in a:
                self.select[1] = a.get("value", "")

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self.textarea is not None:
            name, value = self.textarea
            self.forms[self.current]["fields"].append((name, value.removeprefix("\n")))
            self.textarea = None
        elif tag == "select" and self.select is not None:
            name, chosen, first = self.select
            self.forms[self.current]["fields"].append((name, chosen if chosen is not None else first))
            self.select = None
        elif tag == "form":
            self.current = None


def form_fields(page: str, form_id: str) -> list[tuple[str, str]]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms[form_id]["fields"]


def as_data(fields: list[tuple[str, str]], **override: str | list[str]) -> dict[str, list[str]]:
    data: dict[str, list[str]] = {}
    for k, v in fields:
        data.setdefault(k, []).append(v)
    for k, v in override.items():
        data[k.replace("__", ":")] = v if isinstance(v, list) else [v]
    return data


def page_text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


# ---------------------------------------------------------------- API: determinations


@pytest.mark.parametrize("name", PARITY)
def test_api_determination_is_what_the_cli_prints(client, name) -> None:
    path = EXAMPLES / name
    response = client.post("/api/v1/determinations", content=path.read_bytes(),
                           headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.json() == cli_json(path)


def test_api_as_of_is_the_cli_as_of(client) -> None:
    path = EXAMPLES / "industry-trade-2023-inspection.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["rulesets"] = ["industry-trade@2023"]
    response = client.post("/api/v1/determinations?as_of=2026-01-01", json=doc)
    assert response.status_code == 200 and response.json()["as_of"] == "2026-01-01"
    assert response.json()["ruleset"]["version"] == "2023"


def test_api_several_rulesets_give_a_determination_set(mini_client) -> None:
    doc = mini_checklist({"mini/has_tank": True, "mini/alarm": "未设置", "mini-b/pressure": 40},
                         rulesets=["mini", "mini-b"])
    body = mini_client.post("/api/v1/determinations", json=doc).json()
    assert body["verdict"] == "hazard"
    assert [d["ruleset"]["id"] for d in body["determinations"]] == ["mini", "mini-b"]


def test_api_422_lists_every_problem_with_its_json_path(client) -> None:
    doc = json.loads((EXAMPLES / "hazchem-2017-inspection.json").read_text(encoding="utf-8"))
    doc["answers"]["h4_esd"] = "坏了"
    doc["answers"]["h2_uncertified"] = "是"
    doc["answers"]["no_such_question"] = True
    response = client.post("/api/v1/determinations", json=doc)
    assert response.status_code == 422
    body = response.json()
    assert body["error"].startswith("检查表不合格")
    paths = {p["path"] for p in body["problems"]}
    assert paths == {"$.answers.h4_esd", "$.answers.h2_uncertified", "$.answers.no_such_question"}
    assert all(p["message"] for p in body["problems"])

    del doc["enterprise"]["address"]
    doc["enterprise"]["uscc"] = "91320505MA1XYW1230"
    doc["inspection_date"] = "2025-13-01"
    body = client.post("/api/v1/determinations", json=doc).json()
    paths = {p["path"] for p in body["problems"]}
    assert {"$.enterprise.address", "$.enterprise.uscc", "$.inspection_date"} <= paths


def test_api_422_on_malformed_json_and_bad_parameters(client) -> None:
    response = client.post("/api/v1/determinations", content=b'{"schema_version": "1.0",\n  "id": }')
    assert response.status_code == 422
    problem = response.json()["problems"][0]
    assert problem["path"] == "$" and problem["line"] == 2 and "JSON" in problem["message"]
    assert client.post("/api/v1/determinations", content=b"[1, 2]").json()["problems"][0]["path"] == "$"
    assert client.post("/api/v1/determinations", content="\udcff".encode("utf-8", "surrogatepass")).status_code == 422
    bad_date = client.post("/api/v1/determinations?as_of=yesterday", content=b"{}")
    assert bad_date.status_code == 422 and "as_of" in bad_date.json()["error"]
    assert "Traceback" not in bad_date.text


def test_413_on_oversized_bodies(client) -> None:
    big = b'{"pad": "' + b"x" * MAX_BODY + b'"}'
    response = client.post("/api/v1/determinations", content=big)
    assert response.status_code == 413 and "过大" in response.json()["error"]

    def chunks():  # no Content-Length: counted while it streams
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"x" * 65536

    assert client.post("/api/v1/determinations", content=chunks()).status_code == 413
    upload = client.post("/upload", files={"file": ("big.json", big, "application/json")},
                         headers={"accept": "text/html"})
    assert upload.status_code == 413 and "请求体过大" in upload.text


def test_no_stack_traces_anywhere(client, monkeypatch) -> None:
    import engine.service

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(engine.service, "check_text", boom)
    doc = json.loads((EXAMPLES / "hazchem-2017-inspection.json").read_text(encoding="utf-8"))
    response = client.post("/api/v1/determinations", json=doc)
    assert response.status_code == 500
    assert response.json() == {"error": "内部错误（请报告此问题）"}
    assert "secret" not in response.text and "Traceback" not in response.text
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"] == "未找到该地址"
    assert client.delete("/api/v1/rulesets").json()["error"] == "不支持该请求方法"
    page = client.get("/no-such-page", headers={"accept": "text/html"})
    assert page.status_code == 404 and "<html" in page.text and "返回首页" in page.text


# ---------------------------------------------------------------- API: rulesets, template, reports


def test_rulesets_list(client, catalog) -> None:
    items = client.get("/api/v1/rulesets").json()
    assert [x["ref"] for x in items] == [x.ruleset.ref for x in catalog.items]
    hazchem = next(x for x in items if x["ref"] == "hazchem@2017")
    assert hazchem["document"] == "安监总管三〔2017〕121号" and hazchem["effective_from"] == "2017-11-14"
    assert hazchem["coverage_text"] == "20/20" and len(hazchem["sha256"]) == 64
    assert hazchem["sha256"] == next(x.sha256 for x in catalog.items if x.ruleset.ref == "hazchem@2017")
    old = client.get("/api/v1/rulesets?as_of=2020-01-01").json()
    assert {x["ref"]: x["in_force"] for x in old}["industry-trade@2017"] is True
    assert {x["ref"]: x["in_force"] for x in old}["industry-trade@2023"] is False


def test_ruleset_by_id_version_and_date(client) -> None:
    assert client.get("/api/v1/rulesets/industry-trade?as_of=2020-01-01").json()["version"] == "2017"
    assert client.get("/api/v1/rulesets/industry-trade?as_of=2024-01-01").json()["version"] == "2023"
    pinned = client.get("/api/v1/rulesets/industry-trade@2017").json()
    assert pinned["version"] == "2017" and pinned["selected_because"] == "检查表指定版本 industry-trade@2017"
    definition = pinned["definition"]
    assert definition["id"] == "industry-trade" and len(definition["criteria"]) == pinned["criteria"]
    assert client.get("/api/v1/rulesets/hazchem").json()["document"] == "安监总管三〔2017〕121号"
    unknown = client.get("/api/v1/rulesets/no-such")
    assert unknown.status_code == 404 and "未知的规则集" in unknown.json()["error"]
    assert client.get("/api/v1/rulesets/industry-trade@1999").status_code == 404
    assert client.get("/api/v1/rulesets/coal-mines?as_of=2019-01-01").status_code == 404


def test_template_endpoint_is_the_cli_template(client, catalog) -> None:
    response = client.get("/api/v1/rulesets/industry-trade/template",
                          params={"as_of": "2025-06-01", "profile": ["sectors=机械", "dust_explosion=true"]})
    assert response.status_code == 200
    sel = catalog.select("industry-trade", dt.date(2025, 6, 1))
    rs = sel.loaded.ruleset
    expected = blank_checklist(rs, parse_profile(rs, ["sectors=机械", "dust_explosion=true"]),
                               dt.date(2025, 6, 1))
    assert response.json() == expected
    assert response.json()["answers"]["sectors"] == ["机械"]
    bad = client.get("/api/v1/rulesets/industry-trade/template", params={"profile": "nope=1"})
    assert bad.status_code == 422 and "nope" in bad.json()["error"]


@pytest.mark.parametrize("fmt", ["html", "md", "text"])
def test_report_endpoint_renders_like_the_cli(client, catalog, fmt) -> None:
    path = EXAMPLES / "industry-trade-2023-inspection.json"
    response = client.post(f"/api/v1/reports/{fmt}", content=path.read_bytes())
    assert response.status_code == 200
    assert response.text == render(check_file(path, catalog), fmt)
    assert response.headers["content-type"].startswith({"html": "text/html", "md": "text/markdown",
                                                         "text": "text/plain"}[fmt])


def test_report_endpoint_rejects_bad_input_and_formats(client) -> None:
    assert client.post("/api/v1/reports/pdf", content=b"{}").status_code == 422
    response = client.post("/api/v1/reports/html", content=b'{"schema_version": "1.0"}')
    assert response.status_code == 422 and {p["path"] for p in response.json()["problems"]} >= {"$.id", "$.enterprise"}


def test_openapi_and_offline_docs(client) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/api/v1/rulesets", "/api/v1/rulesets/{ref}", "/api/v1/rulesets/{ref}/template",
            "/api/v1/determinations", "/api/v1/reports/{fmt}"} <= set(spec["paths"])
    assert {"Checklist", "Determination", "DeterminationSet"} <= set(spec["components"]["schemas"])
    body = spec["paths"]["/api/v1/determinations"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Checklist"
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text.lower()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", docs.text), "docs must not load anything external"
    for url in re.findall(r"""(?:src|href)=["']([^"']+)""", docs.text):
        assert client.get(url).status_code == 200, url


def test_pages_load_nothing_from_elsewhere(client) -> None:
    for page in (client.get("/"), client.get("/new", params={"ruleset": "hazchem", "inspection_date": "2025-06-12"})):
        assert page.status_code == 200
        assert not re.search(r"""(src|href|action)=["']?(https?:)?//""", page.text)
        assert "script-src 'self'" in page.headers["content-security-policy"]
        for url in re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", page.text):
            assert client.get(url).status_code == 200, url


# ---------------------------------------------------------------- the HTML form flow


def _details_page(client, **params) -> str:
    response = client.get("/new", params={"inspection_date": "2025-06-12", "kind": "inspection", **params})
    assert response.status_code == 200, page_text(response.text)[:2000]
    return response.text


def _enterprise(**more) -> dict:
    return {"id": "WEB-TEST-1", "e__name": "网页填写测试有限公司", "e__uscc": USCC, "e__region_code": "320505",
            "e__industry_code": "C3311", "e__address": "江苏省苏州市工业园区", "i__name": ["张三", ""],
            "i__cert_no": ["32050001", ""], **more}


def test_form_flow_industry_trade(client, catalog) -> None:
    page = _details_page(client, ruleset="industry-trade")
    assert "工贸企业重大事故隐患判定标准" in page and "中华人民共和国应急管理部令第10号" in page
    fields = form_fields(page, "/questions")
    # step 2: the profile questions are there, unanswered (no radio pre-checked but 未检查)
    checked = dict(fields)
    assert checked["a:dust_explosion"] == "" and checked["a:metal_smelting"] == ""
    profile = as_data(fields, **_enterprise(), a__sectors=["机械"], a__dust_explosion="true",
                      a__metal_smelting="false", a__ammonia_refrigeration="false", a__confined_space_toxic="false")
    questions = client.post("/questions", data=profile)
    assert questions.status_code == 200, page_text(questions.text)[:3000]
    assert 'data-section="industry-trade/art11"' in questions.text  # 粉尘防爆: dust_explosion = 是
    assert 'data-section="industry-trade/art12"' not in questions.text  # 液氨制冷: ruled out by the profile

    # step 3: submitting the untouched checklist leaves every question unanswered: incomplete, never clear
    fields = form_fields(questions.text, "checklist")
    untouched = client.post("/download/checklist.json", data=as_data(fields))
    saved = untouched.json()
    assert set(saved["answers"]) == {"sectors", "dust_explosion", "metal_smelting", "ammonia_refrigeration",
                                     "confined_space_toxic"}
    result = client.post("/result", data=as_data(fields))
    assert result.status_code == 200
    assert "检查未完成" in page_text(result.text)

    # answer a dust question so that a hazard follows, and get the official wording back
    example = json.loads((EXAMPLES / "industry-trade-2023-inspection.json").read_text(encoding="utf-8"))
    hazard = next(c for c in engine_json(EXAMPLES / "industry-trade-2023-inspection.json", catalog)["criteria"]
                  if c["outcome"] == "hazard" and c["id"] == "11-6")
    answers = {k: v for k, v in example["answers"].items() if f"a:{k}" in dict(fields)}
    data = as_data(fields)
    for key, value in answers.items():
        data[f"a:{key}"] = [("true" if value else "false") if isinstance(value, bool) else str(value)]
    result = client.post("/result", data=data)
    assert result.status_code == 200, page_text(result.text)[:3000]
    text = page_text(result.text)
    assert "存在重大事故隐患" in text
    assert hazard["text"] in text and hazard["guidance"] in text and hazard["clause"] in text


def test_form_problems_are_shown_with_their_fields(client) -> None:
    page = _details_page(client, ruleset="hazchem")
    data = as_data(form_fields(page, "/questions"), **_enterprise(e__uscc="91320505MA1XYW1230", e__region_code="32"))
    response = client.post("/questions", data=data)
    assert response.status_code == 422
    text = page_text(response.text)
    assert "$.enterprise.uscc" in text and "校验位错误" in text and "$.enterprise.region_code" in text
    # the enterprise details are kept, not lost
    assert 'value="网页填写测试有限公司"' in response.text

    no_inspector = as_data(form_fields(page, "/questions"), **_enterprise(i__name=["", ""], i__cert_no=["", ""]))
    response = client.post("/questions", data=no_inspector)
    assert response.status_code == 422 and "须列出检查人员" in page_text(response.text)


def test_multi_choice_none_of_these_is_an_answer_and_blank_is_not(client) -> None:
    page = _details_page(client, ruleset="hazchem")
    base = as_data(form_fields(page, "/questions"), **_enterprise())
    questions = client.post("/questions", data={**base, "a:p_unit_type": ["__none__"]})
    saved = client.post("/download/checklist.json", data=as_data(form_fields(questions.text, "checklist"))).json()
    assert saved["answers"]["p_unit_type"] == []
    questions = client.post("/questions", data=base)
    saved = client.post("/download/checklist.json", data=as_data(form_fields(questions.text, "checklist"))).json()
    assert "p_unit_type" not in saved["answers"]
    both = client.post("/questions", data={**base, "a:p_unit_type": ["__none__", "化工（含医药）"]})
    assert both.status_code == 422 and "以上均无" in page_text(both.text)


@pytest.mark.parametrize("name", PARITY)
def test_upload_check_gives_the_cli_determination(client, name) -> None:
    path = EXAMPLES / name
    page = client.post("/upload", files={"file": (name, path.read_bytes(), "application/json")},
                       data={"action": "check"})
    assert page.status_code == 200
    expected = cli_json(path)
    text = page_text(page.text)
    assert expected["summary"]["verdict_text"] in text
    for c in expected["criteria"]:
        if c["outcome"] == "hazard":
            assert c["text"] in text and c["guidance"] in text
    fields = form_fields(page.text, "result-form")
    determination = client.post("/download/determination.json", data=as_data(fields))
    assert determination.json() == expected
    assert "attachment" in determination.headers["content-disposition"]
    report = client.post("/download/report.md", data=as_data(fields))
    assert report.text.rstrip("\n") == render(check_file(path, client.app.state.catalog), "md").rstrip("\n")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_uploaded_checklist_comes_back_unchanged(client, catalog, path, tmp_path) -> None:
    """Upload → edit → (details page → checklist page) → save: the same checklist, re-checkable by the CLI."""
    original = json.loads(path.read_text(encoding="utf-8"))
    page = client.post("/upload", files={"file": (path.name, path.read_bytes(), "application/json")},
                       data={"action": "edit"})
    assert page.status_code == 200, page_text(page.text)[:2000]
    details = client.post("/details", data=as_data(form_fields(page.text, "checklist")))
    questions = client.post("/questions", data=as_data(form_fields(details.text, "/questions")))
    assert questions.status_code == 200
    saved = client.post("/download/checklist.json", data=as_data(form_fields(questions.text, "checklist")))
    assert saved.json() == original
    copy = tmp_path / "saved.json"
    copy.write_bytes(saved.content)
    assert engine_json(copy, catalog) == engine_json(path, catalog)


def test_incomplete_items_link_back_to_their_questions(client, catalog) -> None:
    path = EXAMPLES / "industry-trade-2023-incomplete.json"
    page = client.post("/upload", files={"file": (path.name, path.read_bytes(), "application/json")},
                       data={"action": "check"})
    assert page.status_code == 200 and "检查未完成" in page_text(page.text)
    expected = engine_json(path, catalog)
    missing = [m["id"] for c in expected["criteria"] if c["outcome"] == "incomplete" for m in c["missing_questions"]]
    assert missing
    for qid in missing:
        assert f'formaction="/questions#q-{qid}"' in page.text
    back = client.post("/questions", data=as_data(form_fields(page.text, "result-form")))
    assert back.status_code == 200 and f'id="q-{missing[0]}"' in back.text


def test_shared_question_ids_use_ruleset_keys(mini_client) -> None:
    page = mini_client.get("/new", params={"ruleset": ["mini", "mini-b"], "inspection_date": "2025-06-03"}).text
    data = as_data(form_fields(page, "/questions"), **_enterprise())
    data["a:mini/has_tank"] = ["true"]
    data["a:mini-b/has_tank"] = ["false"]
    questions = mini_client.post("/questions", data=data)
    assert questions.status_code == 200, page_text(questions.text)[:2000]
    fields = as_data(form_fields(questions.text, "checklist"))
    fields["a:mini/alarm"] = ["设置但失效"]
    fields["a:mini/pressure"] = ["40"]
    fields["a:mini-b/pressure"] = ["12.5"]
    fields["n:mini/alarm"] = ["报警器<b>损坏</b>"]
    result = mini_client.post("/result", data=fields)
    assert result.status_code == 200
    assert "存在重大事故隐患 2 项" in page_text(result.text)
    assert "报警器&lt;b&gt;损坏&lt;/b&gt;" in result.text  # notes are text, never markup
    saved = mini_client.post("/download/checklist.json", data=fields).json()
    assert saved["answers"] == {"mini/has_tank": True, "mini/alarm": "设置但失效", "mini/pressure": 40,
                                "mini-b/has_tank": False, "mini-b/pressure": 12.5}


def test_invalid_typed_values_are_reported_not_guessed(mini_client) -> None:
    page = mini_client.get("/new", params={"ruleset": "mini", "inspection_date": "2025-06-03"}).text
    data = as_data(form_fields(page, "/questions"), **_enterprise(), a__has_tank="true")
    questions = mini_client.post("/questions", data=data)
    fields = as_data(form_fields(questions.text, "checklist"), a__pressure="三十", a__alarm="正常")
    result = mini_client.post("/result", data=fields)
    assert result.status_code == 422
    assert "$.answers.pressure" in page_text(result.text) and 'href="#q-pressure"' in result.text


# ---------------------------------------------------------------- app.js: the same applicability as the engine


def _random_value(q, literals: list) -> object:
    if q.type == QuestionType.boolean:
        return random.choice([True, False])
    if q.type in (QuestionType.choice, QuestionType.device):
        return random.choice(list(q.options))
    if q.type == QuestionType.multi_choice:
        return random.sample(list(q.options), random.randint(0, len(q.options)))
    if q.type in (QuestionType.number, QuestionType.integer):
        nums = [x for x in literals if isinstance(x, (int, float)) and not isinstance(x, bool)] or [0]
        x = random.choice(nums) + random.choice([-1, 0, 0, 1])
        return int(x) if q.type == QuestionType.integer else float(x)
    if q.type == QuestionType.date:
        return random.choice(["2020-01-01", "2024-06-30", "2026-07-01"])
    return random.choice(["", "说明"])


@pytest.mark.skipif(shutil.which("node") is None, reason="node 未安装：跳过 app.js 与引擎的适用性一致性检查")
def test_app_js_applicability_agrees_with_the_engine(catalog, tmp_path) -> None:
    """Every applicability condition of every ruleset, on random answers: app.js (Kleene) = engine.

    app.js may answer "unknown" only where it leaves arithmetic to the server (the question stays visible)."""
    random.seed(6)
    cases = []
    for x in catalog.items:
        rs = x.ruleset
        for c in rs.criteria:
            if c.applies_if is None:
                continue
            literals = []
            arith = False
            for leaf in leaves(c.applies_if):
                value = leaf.value
                literals.extend(value if isinstance(value, list) else [value])
                arith |= isinstance(value, Arith) or (isinstance(value, list) and any(isinstance(v, Arith) for v in value))
            qids = list(dict.fromkeys(q for leaf in leaves(c.applies_if) for q in
                                      [leaf.q, *[v.q for v in (leaf.value if isinstance(leaf.value, list) else [leaf.value])
                                                 if isinstance(v, QRef)]]))
            for _ in range(6):
                answers = {q: _random_value(rs.question(q), literals) for q in qids if random.random() < 0.8}
                typed = {k: (tuple(v) if isinstance(v, list) else
                             dt.date.fromisoformat(v) if rs.question(k).type == QuestionType.date
                             else v) for k, v in answers.items()}
                cases.append({"cond": c.applies_if.model_dump(mode="json", by_alias=True, exclude_none=True),
                              "answers": answers, "want": evaluate(c.applies_if, typed), "arith": arith,
                              "where": f"{rs.ref} {c.id}"})
    (tmp_path / "cases.json").write_text(json.dumps(cases, ensure_ascii=False), encoding="utf-8")
    script = ("const h = require(process.argv[1]); const cases = require(process.argv[2]);"
              "console.log(JSON.stringify(cases.map(c => h.evaluate(c.cond, c.answers))));")
    out = subprocess.run(["node", "-e", script, str(ROOT / "engine/web/static/app.js"), str(tmp_path / "cases.json")],
                         capture_output=True, text=True, check=True).stdout
    got = json.loads(out)
    assert len(got) == len(cases) > 100
    for case, js in zip(cases, got):
        if case["arith"] and js is None:
            continue
        assert js == case["want"], (case["where"], case["answers"], js, case["want"])


def test_start_page_problems(client) -> None:
    nothing = client.get("/new", params={"inspection_date": "2025-06-12"})
    assert nothing.status_code == 422 and "请至少选择一个判定标准" in page_text(nothing.text)
    too_early = client.get("/new", params={"ruleset": "coal-mines", "inspection_date": "2019-01-01"})
    assert too_early.status_code == 422 and "没有施行中的版本" in page_text(too_early.text)
    pinned = client.get("/new", params={"ruleset": "industry-trade", "version.industry-trade": "2017",
                                        "inspection_date": "2025-06-12"})
    assert pinned.status_code == 200 and "检查表指定版本 industry-trade@2017" in page_text(pinned.text)


def test_upload_problems(client) -> None:
    bad = client.post("/upload", files={"file": ("x.json", b"{not json", "application/json")}, data={"action": "check"})
    assert bad.status_code == 422 and "JSON" in page_text(bad.text)
    doc = json.loads((EXAMPLES / "hazchem-2017-inspection.json").read_text(encoding="utf-8"))
    doc["answers"]["h4_esd"] = "坏了"
    invalid = client.post("/upload", files={"file": ("x.json", json.dumps(doc).encode(), "application/json")},
                          data={"action": "check"})
    assert invalid.status_code == 422
    assert "$.answers.h4_esd" in page_text(invalid.text) and 'href="#q-h4_esd"' in invalid.text


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_hazard_serve_starts_a_local_server() -> None:
    """``hazard serve`` on a free loopback port answers pages and the API, then stops when told."""
    import time
    import urllib.request

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--log-level", "warning"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/rulesets", timeout=5) as response:
                    items = json.loads(response.read())
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "hazard serve did not answer within 60 s"
                time.sleep(0.3)
        assert any(x["ref"] == "hazchem@2017" for x in items)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert "新建检查" in response.read().decode("utf-8")
    finally:
        server.terminate()
        try:
            _, err = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
    assert f"http://127.0.0.1:{port}/" in err
