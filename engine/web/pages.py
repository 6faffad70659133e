"""The server-rendered pages: choose the standards → enterprise details and profile → the checklist → the
determination, with downloads and upload. Stateless: the checklist travels in the form (see ``formstate``).

Templates: ``reports/web/*.html.j2`` (autoescaped); script and styles: ``engine/web/static/``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from engine import __version__
from engine.catalog import Catalog, SelectionError
from engine.checklist import json_path
from engine.problems import Problem
from engine.web import formstate as fs
from engine.web.formstate import FILE, FormData

router = APIRouter(include_in_schema=False)

KINDS = {"inspection": "监管检查", "self_assessment": "企业自查"}
DOWNLOADS = {  # what → (media type, file name, ASCII fallback name)
    "report.html": ("text/html; charset=utf-8", "判定报告.html", "report.html"),
    "report.md": ("text/markdown; charset=utf-8", "判定报告.md", "report.md"),
    "determination.json": ("application/json", "判定结果.json", "determination.json"),
    "checklist.json": ("application/json", "检查表.json", "checklist.json"),
}


def _catalog(request: Request) -> Catalog:
    return request.app.state.catalog


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    env = request.app.state.env
    text = env.get_template(f"web/{template}").render(engine_version=__version__, kinds=KINDS, **context)
    return HTMLResponse(text, status_code=status)


async def _form(request: Request) -> tuple[FormData, list[UploadFile]]:
    limit = request.app.state.max_body
    form = await request.form(max_files=4, max_fields=50_000, max_part_size=limit)
    files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
    return FormData((k, v) for k, v in form.multi_items() if isinstance(v, str)), files


# ---------------------------------------------------------------- step 1: choose the standards


def _sectors(catalog: Catalog, day: dt.date, chosen: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Each ruleset id with its versions and the one in force on ``day``."""
    chosen = chosen or {}
    out = []
    for rid in catalog.ids():
        versions = catalog.versions(rid)
        try:
            current = catalog.select(rid, day).loaded.ruleset
        except SelectionError:
            current = None
        latest = versions[-1].ruleset
        ref = chosen.get(rid)
        out.append({
            "id": rid, "title": (current or latest).title, "current": current, "chosen": ref is not None,
            "pinned": ref.partition("@")[2] if ref else "",
            "versions": [{"version": x.ruleset.version, "title": x.ruleset.title, "document": x.ruleset.document,
                          "from": x.ruleset.effective_from.isoformat(),
                          "until": x.ruleset.effective_until.isoformat() if x.ruleset.effective_until else None,
                          "coverage": x.ruleset.coverage_ratio} for x in versions],
        })
    return out


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    today = dt.date.today()
    return _page(request, "index.html.j2", sectors=_sectors(_catalog(request), today), day=today.isoformat(),
                 kind="inspection", problems=[])


@router.get("/new", response_class=HTMLResponse)
def new(request: Request) -> HTMLResponse:
    """Step 1 → 2: a fresh checklist for the chosen standards."""
    q = request.query_params
    catalog = _catalog(request)
    problems: list[Problem] = []
    try:
        day = dt.date.fromisoformat(q.get("inspection_date", ""))
    except ValueError:
        day = dt.date.today()
        problems.append(Problem(FILE, None, "$.inspection_date", "请填写检查日期（YYYY-MM-DD）"))
    kind = q.get("kind", "inspection")
    if kind not in KINDS:
        problems.append(Problem(FILE, None, "$.kind", "请选择检查类型"))
        kind = "inspection"
    refs = []
    for rid in q.getlist("ruleset"):
        version = q.get(f"version.{rid}", "")
        refs.append(f"{rid}@{version}" if version else rid)
    state = fs.new_state(refs, day, kind)
    selected = fs.select(catalog, state)
    problems += selected.problems
    if problems:
        chosen = {r.partition("@")[0]: r for r in refs}
        return _page(request, "index.html.j2", 422, sectors=_sectors(catalog, day, chosen), day=day.isoformat(),
                     kind=kind, problems=problems)
    return _details(request, state, [])


# ---------------------------------------------------------------- step 2: enterprise details and profile


def _details(request: Request, state: dict[str, Any], problems: list[Problem], status: int = 200) -> HTMLResponse:
    catalog = _catalog(request)
    selected = fs.select(catalog, state)
    day = fs.state_date(state) or dt.date.today()
    refs = fs.refs_of(state)
    chosen = {r.partition("@")[0]: r for r in refs}
    unknown = [r for r in refs if r.partition("@")[0] not in catalog.ids()]
    inspectors = [p for p in state.get("inspectors", []) if isinstance(p, dict)] \
        if isinstance(state.get("inspectors"), list) else []
    rows = inspectors + [{}] * max(1, 2 - len(inspectors))
    all_problems = _dedupe(selected.problems + problems)
    return _page(request, "details.html.j2", status, state=state, state_json=fs.to_json(state, indent=None),
                 enterprise=fs.dict_of(state, "enterprise"), inspectors=rows,
                 forms=fs.build_forms(selected, state, profile=True, problems=all_problems),
                 sectors=_sectors(catalog, day, chosen), unknown_refs=unknown,
                 rulesets_open=bool(unknown) or any(p.path.startswith("$.rulesets") for p in all_problems),
                 problems=all_problems, errors=_errors(all_problems))


@router.post("/details", response_class=HTMLResponse)
async def details(request: Request) -> HTMLResponse:
    form, _ = await _form(request)
    state, problems = fs.apply_form(_catalog(request), form)
    return _details(request, state, problems, 422 if problems else 200)


# ---------------------------------------------------------------- step 3: the checklist


def _questions(request: Request, state: dict[str, Any], problems: list[Problem], status: int = 200) -> HTMLResponse:
    selected = fs.select(_catalog(request), state)
    forms = fs.build_forms(selected, state, profile=False, problems=problems)
    profile_forms = fs.build_forms(selected, state, profile=True)
    profile_keys = {s.key for s in selected.slots if s.question.profile}
    anchors = {json_path(("answers", s.key)): s.anchor for s in selected.slots}
    anchors.update({json_path(("notes", s.key)): s.anchor for s in selected.slots})
    detail = fs.detail_problems(problems, profile_keys)
    return _page(request, "questions.html.j2", status, state=state, state_json=fs.to_json(state, indent=None),
                 forms=forms, profile_forms=profile_forms, problems=problems, anchors=anchors,
                 detail_problems=detail, checklist=fs.checklist_model(state),
                 config={"rulesets": [f.config for f in forms]})


@router.post("/questions", response_class=HTMLResponse)
async def questions(request: Request) -> HTMLResponse:
    """Step 2 → 3 (details checked first), or the checklist again (applicability refreshed, or back from the result)."""
    catalog = _catalog(request)
    form, _ = await _form(request)
    state, problems = fs.apply_form(catalog, form)
    if form.get("step") == "details":
        selected = fs.select(catalog, state)
        profile_keys = {s.key for s in selected.slots if s.question.profile}
        detail = fs.detail_problems(problems + fs.problems_of(catalog, state), profile_keys)
        if detail or selected.problems:
            return _details(request, state, detail, 422)
        problems = []
    return _questions(request, state, problems, 422 if problems else 200)


# ---------------------------------------------------------------- step 4: the determination


def _determine(request: Request, state: dict[str, Any]) -> list:
    from engine.service import check_text

    with request.app.state.lock:
        return check_text(json.dumps(state, ensure_ascii=False), _catalog(request), FILE)


async def _judge(request: Request, state: dict[str, Any], problems: list[Problem]) -> Response:
    from engine.problems import ValidationFailed

    if problems:
        return _questions(request, state, problems, 422)
    try:
        dets = await run_in_threadpool(_determine, request, state)
    except ValidationFailed as exc:
        return _questions(request, state, exc.problems, 422)
    return _result(request, state, dets)


def _result(request: Request, state: dict[str, Any], dets: list) -> HTMLResponse:
    from engine.report import build_view

    selected = fs.select(_catalog(request), state)
    anchors = {(s.rid, s.question.id): s.anchor for s in selected.slots}
    return _page(request, "result.html.j2", r=build_view(dets), state_json=fs.to_json(state, indent=None),
                 anchors=anchors)


@router.post("/result", response_class=HTMLResponse)
async def result(request: Request) -> Response:
    form, _ = await _form(request)
    state, problems = fs.apply_form(_catalog(request), form)
    return await _judge(request, state, problems)


@router.post("/download/{what}")
async def download(request: Request, what: str) -> Response:
    """The report (HTML / Markdown), the determination JSON, or the filled checklist JSON."""
    from engine.problems import ValidationFailed
    from engine.report import render
    from engine.service import as_document

    if what not in DOWNLOADS:
        return _error(request, 404, f"没有这种下载：{what}")
    form, _ = await _form(request)
    state, problems = fs.apply_form(_catalog(request), form)
    if problems:
        return _questions(request, state, problems, 422)
    media, name, ascii_name = DOWNLOADS[what]
    if what == "checklist.json":
        text = fs.to_json(state, fs.select(_catalog(request), state).slots)
    else:
        try:
            dets = await run_in_threadpool(_determine, request, state)
        except ValidationFailed as exc:
            return _questions(request, state, exc.problems, 422)
        if what == "determination.json":
            text = json.dumps(as_document(dets).model_dump(mode="json"), ensure_ascii=False, indent=2)
        else:
            text = render(dets, "html" if what == "report.html" else "md")
    record = re.sub(r"[^\w.\-]+", "_", str(state.get("id") or "")).strip("_")
    filename = f"{record}-{name}" if record else name
    inline = what == "report.html" and form.get("inline") == "1"
    disposition = "inline" if inline else \
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{_quote(filename)}"
    return Response(text if text.endswith("\n") else text + "\n", media_type=media,
                    headers={"content-disposition": disposition})


@router.post("/upload", response_class=HTMLResponse)
async def upload(request: Request) -> Response:
    """A filled checklist JSON: continue filling it (edit) or judge it at once (check)."""
    catalog = _catalog(request)
    form, files = await _form(request)
    problems: list[Problem] = []
    state: dict[str, Any] = {}
    upload_file = next((f for f in files if f.filename), None)
    if upload_file is None:
        problems.append(Problem(FILE, None, "$", "请选择要上传的检查表 JSON 文件"))
    else:
        data = await upload_file.read()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = ""
            problems.append(Problem(FILE, None, "$", "文件不是 UTF-8 编码的 JSON"))
        if not problems:
            state, problems = fs.load_state(text)
    if problems:
        today = dt.date.today()
        return _page(request, "index.html.j2", 422, sectors=_sectors(catalog, today), day=today.isoformat(),
                     kind="inspection", problems=problems)
    if form.get("action") == "check":
        return await _judge(request, state, [])
    selected = fs.select(catalog, state)
    profile_keys = {s.key for s in selected.slots if s.question.profile}
    all_problems = fs.problems_of(catalog, state)
    detail = fs.detail_problems(all_problems, profile_keys)
    if detail or selected.problems:
        return _details(request, state, detail, 422)
    return _questions(request, state, all_problems, 422 if all_problems else 200)


@router.get("/details")
@router.get("/questions")
@router.get("/result")
def restart() -> RedirectResponse:
    """The steps are form posts; a bookmarked or reloaded step starts again at the first page."""
    return RedirectResponse("/", status_code=303)


# ---------------------------------------------------------------- helpers


def _errors(problems: list[Problem]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in problems:
        out.setdefault(p.path, p.message)
    return out


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            out.append(p)
    return out


def _error(request: Request, status: int, message: str) -> Response:
    from engine.web.app import error_response

    return error_response(request, status, message)


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
