"""``hazard serve`` end to end in a real headless Chromium (Debian ``chromium``, driven by Playwright).

A real server process on a free loopback port; the browser chooses the standard, types the enterprise details,
clicks every answer of a whole checklist, submits, and reads the determination page. One test takes a phone-width
(375 px) screenshot and checks nothing overflows sideways. Playwright's own browser download is never used: the
browser is the system's ``/usr/bin/chromium``. Without it (or without the ``playwright`` module) these tests skip
with the reason; ``.ci/run`` installs Chromium with apt-get where it can.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from engine.service import as_document, check_file
from engine.uscc import check_char
from tests.conftest import EXAMPLES, ROOT

CHROMIUM = os.environ.get("HAZARD_E2E_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
USCC = "91320505MA1XYW123" + check_char("91320505MA1XYW123")
PHONE = {"width": 375, "height": 812}
TIMEOUT_MS = 30_000

sync_api = pytest.importorskip("playwright.sync_api",
                               reason="浏览器端到端测试跳过：未安装 Python 包 playwright（pip install -e '.[test]'）")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"浏览器端到端测试跳过：找不到 Chromium（{CHROMIUM}；Debian：apt-get install chromium）",
                allow_module_level=True)

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server() -> str:
    """``hazard serve`` on a free 127.0.0.1 port; its base URL."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--log-level", "warning"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/v1/rulesets", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"hazard serve exited: {proc.communicate()[1][-2000:]}")
                if time.monotonic() > deadline:
                    pytest.fail("hazard serve did not answer within 60 s")
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


@pytest.fixture(scope="module")
def browser():
    try:
        pw = sync_api.sync_playwright().start()
    except Exception as exc:  # noqa: BLE001 - the driver itself could not start
        pytest.skip(f"浏览器端到端测试跳过：Playwright 无法启动（{exc}）")
    try:
        try:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        except Exception as exc:  # noqa: BLE001 - e.g. a chromium that cannot run here
            pytest.skip(f"浏览器端到端测试跳过：无法启动 Chromium（{CHROMIUM}）：{str(exc)[:500]}")
        yield b
        b.close()
    finally:
        pw.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield p
    context.close()
    assert not errors, f"browser errors: {errors}"


def _example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def _cli_determination(name: str, catalog) -> dict:
    return as_document(check_file(EXAMPLES / name, catalog)).model_dump(mode="json")


# ---------------------------------------------------------------- filling the pages like an inspector


def _start(page, base: str, ruleset: str, version: str | None = None, day: str = "2025-06-12") -> None:
    """Step 1: inspection date, kind, one standard (optionally pinned), 下一步."""
    page.goto(base + "/")
    page.fill('input[name="inspection_date"]', day)
    page.select_option('select[name="kind"]', "inspection")
    sector = page.locator(f'.sector[data-sector="{ruleset}"]')
    sector.locator("label.sector-pick").click()
    assert sector.locator('input[name="ruleset"]').is_checked()
    if version:
        sector.locator("details.pin summary").click()
        sector.locator(f'select[name="version.{ruleset}"]').select_option(version)
    page.get_by_role("button", name="下一步：单位信息").click()
    page.wait_for_selector("h1:has-text('单位信息与企业情况')")


def _enterprise(page, name: str) -> None:
    """Step 2: the enterprise and the inspector, typed key by key."""
    for field, text in [("e:name", name), ("e:uscc", USCC), ("e:region_code", "320505"),
                        ("e:industry_code", "C2614"), ("e:address", "江苏省苏州市工业园区示例路1号")]:
        box = page.locator(f'input[name="{field}"]')
        box.click()
        box.press_sequentially(text)
    page.locator('input[name="i:name"]').first.press_sequentially("张三")
    page.locator('input[name="i:cert_no"]').first.press_sequentially("32050001")
    page.locator('input[name="place"]').fill("生产装置区")


def _answer(page, qid: str, value) -> None:
    q = page.locator(f'.q[data-qid="{qid}"]')
    kind = q.get_attribute("data-type")
    if kind == "boolean":
        q.locator(f'label.opt:has(input[value="{"true" if value else "false"}"])').click()
    elif kind in ("device", "choice"):
        q.locator(f'label.opt:has(input[value="{value}"])').click()
    elif kind == "multi_choice":
        for item in value or ["__none__"]:
            q.locator(f'label.opt:has(input[value="{item}"])').click()
    elif kind in ("number", "integer", "date"):
        q.locator('input[name^="a:"]').fill(str(value))
    else:
        q.locator('textarea[name^="a:"]').fill(str(value))


def _fill_visible(page, answers: dict, notes: dict | None = None) -> set[str]:
    """Answer every visible question the answers cover, in page order, until no new one appears."""
    done: set[str] = set()
    for _ in range(10):
        shown = [qid for qid in page.eval_on_selector_all(".q[data-qid]", "els => els.filter(e => "
                 "!e.hidden && e.offsetParent !== null).map(e => e.dataset.qid)") if qid in answers and qid not in done]
        if not shown:
            break
        for qid in shown:
            _answer(page, qid, answers[qid])
            if notes and qid in notes:
                q = page.locator(f'.q[data-qid="{qid}"]')
                q.locator("details.note summary").click()
                q.locator("details.note textarea").fill(notes[qid])
            done.add(qid)
    return done


def _fill_checklist(page, base: str, example: dict, ruleset: str, version: str | None) -> set[str]:
    _start(page, base, ruleset, version)
    _enterprise(page, example["enterprise"]["name"])
    answered = _fill_visible(page, example["answers"])
    page.get_by_role("button", name="下一步：填写检查表").click()
    page.wait_for_selector("form#checklist")
    answered |= _fill_visible(page, example["answers"], example.get("notes"))
    return answered


def _submit(page) -> str:
    page.get_by_role("button", name="提交判定").click()
    page.wait_for_selector("#verdict")
    return page.inner_text("body")


# ---------------------------------------------------------------- the tests


def test_hazchem_2017_whole_checklist_in_the_browser(server, page, catalog) -> None:
    name = "hazchem-2017-inspection.json"
    example = _example(name)
    expected = _cli_determination(name, catalog)
    answered = _fill_checklist(page, server, example, "hazchem", "2017")
    assert answered == set(example["answers"]), "every question of the example was on the pages and answered"
    assert "hazchem@2017" in page.inner_text("form#checklist")

    text = _submit(page)
    assert "存在重大事故隐患" in page.inner_text("#verdict")
    assert example["enterprise"]["name"] in text and USCC in text
    hazards = [c for c in expected["criteria"] if c["outcome"] == "hazard"]
    assert hazards
    shown = page.locator("article.finding")
    assert shown.count() == len(hazards)
    for c in hazards:
        finding = page.locator(f'article.finding[id="hazard-hazchem-{c["id"]}"]')
        assert c["text"] in finding.locator("blockquote.official").inner_text()
        assert c["clause"] in finding.inner_text() and c["guidance"] in finding.inner_text()
    assert "尚不能判定的项目（0 项）" in text  # every question answered: nothing left undecided
    # what the inspector saw on site is on the page
    assert example["notes"]["h12_flammable_gas_detection"][:20] in text


def test_industry_trade_2023_small_profile_in_the_browser(server, page, catalog) -> None:
    name = "industry-trade-2023-inspection.json"
    example = _example(name)
    # a small profile: 机械, dust explosion only; the other special hazards ruled out
    profile = {"sectors": ["机械"], "dust_explosion": True, "metal_smelting": False,
               "ammonia_refrigeration": False, "confined_space_toxic": False}
    answers = {**example["answers"], **profile}
    hazard = next(c for c in _cli_determination(name, catalog)["criteria"]
                  if c["outcome"] == "hazard" and c["id"] == "11-6")

    _start(page, server, "industry-trade")
    _enterprise(page, "网页填写测试机械有限公司")
    assert _fill_visible(page, profile) == set(profile)
    page.get_by_role("button", name="下一步：填写检查表").click()
    page.wait_for_selector("form#checklist")
    assert "industry-trade@2023" in page.inner_text("form#checklist")
    assert page.locator('section[data-section="industry-trade/art11"]').count() == 1  # 粉尘防爆
    assert page.locator('section[data-section="industry-trade/art12"]').count() == 0  # 液氨制冷: ruled out
    answered = _fill_visible(page, answers)
    assert {q for q in answered if q.startswith("a11_")}
    # questions the profile rules out (e.g. confined space) are not there to answer
    assert not page.locator('.q[data-qid="a13_no_supervisor"]').is_visible()

    text = _submit(page)
    assert "存在重大事故隐患" in page.inner_text("#verdict")
    finding = page.locator('article.finding[id="hazard-industry-trade-11-6"]')
    assert hazard["text"] in finding.locator("blockquote.official").inner_text()
    assert hazard["clause"] in text and hazard["guidance"] in text
    assert "网页填写测试机械有限公司" in text


def _no_horizontal_overflow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width} px wide on a {PHONE['width']} px screen"


def test_phone_width_screenshots(server, page, catalog, tmp_path) -> None:
    """At 375 px nothing scrolls sideways on any step, and the screenshots are real pictures."""
    example = _example("hazchem-2017-inspection.json")
    page.goto(server + "/")
    _no_horizontal_overflow(page)
    _fill_checklist(page, server, example, "hazchem", None)
    _no_horizontal_overflow(page)
    form_png = tmp_path / "form-phone.png"
    page.screenshot(path=str(form_png), full_page=False)
    _submit(page)
    _no_horizontal_overflow(page)
    result_png = tmp_path / "result-phone.png"
    page.screenshot(path=str(result_png), full_page=True)
    for png in (form_png, result_png):
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width == PHONE["width"] and height >= 600
        assert len(data) > 20_000, f"{png.name} is only {len(data)} bytes: a blank page?"
