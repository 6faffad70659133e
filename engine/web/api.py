"""The JSON HTTP API (``/api/v1``): rulesets, blank checklists, determinations and reports.

``POST /api/v1/determinations`` returns exactly what ``hazard check -f json`` prints for the same
checklist: both call ``engine.service`` on the same JSON text. Bad input is a 422 listing every problem
with its JSON path, as the CLI's exit status 2 does.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from engine.catalog import Catalog, Loaded, SelectionError
from engine.determination import Determination
from engine.problems import Problem, ValidationFailed

router = APIRouter(prefix="/api/v1", tags=["API v1"])

RULESET_REF = r"^[a-z][a-z0-9-]*(@[0-9A-Za-z.\-]+)?$"
MEDIA = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8", "text": "text/plain; charset=utf-8"}


# ---------------------------------------------------------------- documented response shapes


class ApiProblem(BaseModel):
    path: str = Field(description="JSON 路径，如 $.answers.h4_esd；JSON 语法错误时为 $")
    line: int | None = Field(None, description="JSON 语法错误所在行")
    position: str | None = Field(None, description="JSON 语法错误所在位置（第N列）")
    message: str


class ApiError(BaseModel):
    error: str
    problems: list[ApiProblem] | None = None


class RulesetSummary(BaseModel):
    id: str
    version: str
    ref: str = Field(description="id@version")
    title: str
    document: str = Field(description="文号")
    issuer: str
    effective_from: dt.date
    effective_until: dt.date | None
    in_force: bool = Field(description="在 as_of（默认今天）施行")
    criteria: int = Field(description="收录的判定项数")
    items_total: int | None = Field(description="标准的条目总数（未知时为 null）")
    coverage_text: str
    partial: bool
    not_encoded: list[str]
    sha256: str


class RulesetDetail(RulesetSummary):
    selected_because: str
    definition: dict[str, Any] = Field(description="规则集全文（与 YAML 文件内容相同的结构）")


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ApiError, "description": "未知的规则集或版本，或该日期没有施行中的版本"},
    413: {"model": ApiError, "description": "请求体过大"},
    422: {"model": ApiError, "description": "输入不合格：列出每个问题及其 JSON 路径"},
}
CHECKLIST_BODY = {"requestBody": {"required": True, "description": "检查表 JSON（与 hazard check 读取的文件相同）",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Checklist"}}}}}
DETERMINATION_OUT = {"application/json": {"schema": {"anyOf": [
    {"$ref": "#/components/schemas/Determination"}, {"$ref": "#/components/schemas/DeterminationSet"}]}}}


# ---------------------------------------------------------------- helpers


def catalog_of(request: Request) -> Catalog:
    return request.app.state.catalog


def summary(x: Loaded, day: dt.date) -> dict[str, Any]:
    rs = x.ruleset
    return {
        "id": rs.id, "version": rs.version, "ref": rs.ref, "title": rs.title, "document": rs.document,
        "issuer": rs.issuer, "effective_from": rs.effective_from.isoformat(),
        "effective_until": rs.effective_until.isoformat() if rs.effective_until else None,
        "in_force": rs.in_force(day), "criteria": len(rs.criteria), "items_total": rs.coverage.items_total,
        "coverage_text": rs.coverage_ratio, "partial": rs.is_partial,
        "not_encoded": [f"{n.item}：{n.reason}" for n in rs.coverage.not_encoded], "sha256": x.sha256,
    }


def problem_json(p: Problem) -> dict[str, Any]:
    if p.path.startswith("$"):
        return {"path": p.path, "line": p.line, "message": p.message}
    return {"path": "$", "line": p.line, "position": p.path or None, "message": p.message}


def invalid(exc: ValidationFailed) -> JSONResponse:
    problems = [problem_json(p) for p in exc.problems]
    return JSONResponse({"error": f"检查表不合格，共 {len(problems)} 个问题", "problems": problems}, status_code=422)


def not_found(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=404)


async def body_text(request: Request) -> str:
    raw = await request.body()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed([Problem("<请求>", None, "$", "请求体不是 UTF-8 编码的文本")]) from None


def judge(request: Request, text: str, as_of: dt.date | None) -> list[Determination]:
    """``engine.service.check_text`` under the app's lock (raises ``ValidationFailed``)."""
    from engine.service import check_text

    with request.app.state.lock:
        return check_text(text, catalog_of(request), "<请求>", as_of)


AsOf = Annotated[dt.date | None, Query(description="按此日期选用规则集版本（默认：检查表的检查日期；列表与查询默认今天）")]
Ref = Annotated[str, Path(description="规则集 id（取 as_of 日施行的版本）或 id@version", pattern=RULESET_REF)]


# ---------------------------------------------------------------- routes


@router.get("/rulesets", summary="列出全部规则集版本", response_model=list[RulesetSummary],
            description="每个版本的标准名称、文号、施行期间、收录项数和内容哈希；in_force 表示在 as_of（默认今天）施行。")
def list_rulesets(request: Request, as_of: AsOf = None) -> JSONResponse:
    day = as_of or dt.date.today()
    return JSONResponse([summary(x, day) for x in catalog_of(request).items])


@router.get("/rulesets/{ref}", summary="查看一个规则集版本", response_model=RulesetDetail, responses=ERRORS,
            description="id 取 as_of 日（默认今天）施行的版本；id@version 指定版本。返回标识信息和规则集全文。")
def get_ruleset(request: Request, ref: Ref, as_of: AsOf = None) -> JSONResponse:
    day = as_of or dt.date.today()
    try:
        sel = catalog_of(request).select(ref, day)
    except SelectionError as exc:
        return not_found(str(exc))
    rs = sel.loaded.ruleset
    return JSONResponse({**summary(sel.loaded, day), "selected_because": sel.reason,
                         "definition": rs.model_dump(mode="json", by_alias=True, exclude_none=True)})


@router.get("/rulesets/{ref}/template", summary="空白检查表（JSON）", responses=ERRORS,
            description="与 hazard template -f json 相同：只列出可能适用的问题；profile 预先填写企业情况，"
                        "如 ?profile=sectors=机械,轻工&profile=dust_explosion=true。")
def get_template(request: Request, ref: Ref, as_of: AsOf = None,
                 profile: Annotated[list[str], Query(description="问题编号=值（可重复）")] = []) -> JSONResponse:  # noqa: B006
    from engine.blank import ProfileError, blank_checklist, parse_profile

    day = as_of or dt.date.today()
    try:
        sel = catalog_of(request).select(ref, day)
    except SelectionError as exc:
        return not_found(str(exc))
    rs = sel.loaded.ruleset
    try:
        known = parse_profile(rs, profile)
    except ProfileError as exc:
        return JSONResponse({"error": str(exc), "problems": [{"path": "profile", "message": str(exc)}]},
                            status_code=422)
    return JSONResponse(blank_checklist(rs, known, day))


@router.post("/determinations", summary="判定一份检查表", openapi_extra=CHECKLIST_BODY,
             responses={200: {"description": "判定结果（与 hazard check -f json 输出相同）；检查表列出多个规则集时为 "
                                             "DeterminationSet", "content": DETERMINATION_OUT}, **ERRORS},
             description="请求体为检查表 JSON。返回与 hazard check -f json 相同的判定结果。"
                         "输入不合格时返回 422，列出每个问题及其 JSON 路径。")
async def post_determination(request: Request, as_of: AsOf = None) -> Response:
    from engine.service import as_document

    try:
        dets = await run_in_threadpool(judge, request, await body_text(request), as_of)
    except ValidationFailed as exc:
        return invalid(exc)
    return JSONResponse(as_document(dets).model_dump(mode="json"))


@router.post("/reports/{fmt}", summary="判定并生成报告（HTML / Markdown / 文本）", openapi_extra=CHECKLIST_BODY,
             responses={200: {"description": "重大事故隐患判定报告", "content": {
                 "text/html": {"schema": {"type": "string"}}, "text/markdown": {"schema": {"type": "string"}},
                 "text/plain": {"schema": {"type": "string"}}}}, **ERRORS},
             description="请求体为检查表 JSON；返回与 hazard check -f html|md|text 相同的报告。")
async def post_report(request: Request, fmt: Annotated[Literal["html", "md", "text"], Path(description="报告格式")],
                      as_of: AsOf = None) -> Response:
    from engine.report import render

    try:
        dets = await run_in_threadpool(judge, request, await body_text(request), as_of)
    except ValidationFailed as exc:
        return invalid(exc)
    return Response(render(dets, fmt), media_type=MEDIA[fmt])
