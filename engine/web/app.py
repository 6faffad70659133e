"""The web application: ``create_app()`` wires the API, the pages, the static files and the error handling.

Every response is Chinese and free of stack traces; request bodies are limited (2 MB by default); every
page, script, style sheet and font comes from this process (a Content-Security-Policy enforces it), so the
app works on a disconnected network and leaks nothing to third parties.
"""

from __future__ import annotations

import html
import logging
import threading
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine import __version__
from engine.catalog import Catalog
from engine.checklist import Checklist, json_path
from engine.compiler import CompileError
from engine.determination import Determination, DeterminationSet
from engine.evaluator import EngineInconsistency
from engine.problems import pydantic_message
from engine.report import environment

log = logging.getLogger("hazard.web")

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY = 2 * 1024 * 1024  # bytes
STATUS_ZH = {
    400: "请求格式错误", 404: "未找到该地址", 405: "不支持该请求方法", 406: "不支持请求的格式",
    413: "请求体过大", 415: "不支持的内容类型", 422: "输入不合格", 500: "内部错误（请报告此问题）",
}
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
CSP_DOCS = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")


def _wants_html(scope_or_request: Any) -> bool:
    """A browser page (not an API client): errors are shown as a small Chinese HTML page."""
    if isinstance(scope_or_request, Request):
        path, accept = scope_or_request.url.path, scope_or_request.headers.get("accept", "")
    else:
        path = scope_or_request.get("path", "")
        accept = next((v.decode("latin-1") for k, v in scope_or_request.get("headers", []) if k == b"accept"), "")
    return not path.startswith(("/api/", "/openapi")) and "text/html" in accept


def error_page(status: int, message: str) -> str:
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{status} {html.escape(STATUS_ZH.get(status, "错误"))}</title>'
            f'<link rel="stylesheet" href="/static/app.css"></head><body><main class="page">'
            f'<h1>{html.escape(STATUS_ZH.get(status, "错误"))}</h1><p class="problem">{html.escape(message)}</p>'
            f'<p><a class="button" href="/">返回首页</a></p></main></body></html>')


def error_response(request_or_scope: Any, status: int, message: str, **extra: Any) -> Response:
    if _wants_html(request_or_scope):
        return HTMLResponse(error_page(status, message), status_code=status)
    return JSONResponse({"error": message, **extra}, status_code=status)


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 (Content-Length, or counted while streaming)."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = f"请求体过大：上限为 {self.limit // 1024} KB（{self.limit / 1024 / 1024:g} MB）"
        length = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                await error_response(scope, 400, "Content-Length 请求头无效")(scope, receive, send)
                return
            if size > self.limit:
                await error_response(scope, 413, too_big, limit_bytes=self.limit)(scope, receive, send)
                return
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body.extend(message.get("body", b""))
            if len(body) > self.limit:
                await error_response(scope, 413, too_big, limit_bytes=self.limit)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class SecurityHeaders:
    """No external resources (CSP), no MIME sniffing, no framing."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = (CSP_DOCS if scope.get("path") == "/docs" else CSP).encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", csp), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the checklist and determination contracts (the API reads its body itself)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    _, defs = models_json_schema([(Checklist, "validation"), (Determination, "serialization"),
                                  (DeterminationSet, "serialization")],
                                 ref_template="#/components/schemas/{model}")
    schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
    app.openapi_schema = schema
    return schema


def create_app(catalog_dir: Path | None = None, *, catalog: Catalog | None = None, max_body: int = MAX_BODY) -> FastAPI:
    """The app for the rulesets under ``catalog_dir`` (default: the project's ``rulesets/`` or ``$HAZARD_RULESETS``).

    Raises ``ValidationFailed`` when a ruleset file is invalid (``hazard serve`` prints every problem).
    """
    from engine.service import shared_engine
    from engine.web import api, pages

    app = FastAPI(
        title="Hazard Engine 重大事故隐患判定 API",
        version=__version__,
        description="按判定标准规则集判定检查表中的重大事故隐患。检查表与 `hazard check` 读取的 JSON 相同，"
                    "判定结果与 `hazard check -f json` 输出相同。输入不合格时返回 422，列出每个问题及其 JSON 路径。",
        docs_url=None, redoc_url=None,
    )
    app.state.catalog = catalog or Catalog.from_dir(catalog_dir)
    app.state.engine = shared_engine()
    app.state.lock = threading.Lock()  # one determination at a time (durable_rules holds the GIL anyway)
    app.state.env = environment("html")
    app.state.max_body = max_body
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    docs_dir = _swagger_dir()
    if docs_dir is not None:
        app.mount("/docs-static", StaticFiles(directory=docs_dir), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        if docs_dir is None:
            return HTMLResponse(_plain_docs(app))
        return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title,
                                   swagger_js_url="/docs-static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-static/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg",
                                   swagger_ui_parameters={"validatorUrl": None, "defaultModelsExpandDepth": 0})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) and exc.detail not in (
            HTTPStatus(exc.status_code).phrase,) else STATUS_ZH.get(exc.status_code, "请求错误")
        return error_response(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def request_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [{"path": _param_path(e.get("loc", ())), "message": pydantic_message(e)} for e in exc.errors()]
        text = "；".join(f"{p['path']}：{p['message']}" for p in problems)
        return error_response(request, 422, f"请求参数不合格：{text}", problems=problems)

    @app.exception_handler(EngineInconsistency)
    async def inconsistent(request: Request, exc: EngineInconsistency) -> Response:
        log.error("判定引擎复核不一致：%s", exc)
        return error_response(request, 500, "内部错误：判定引擎复核不一致，未输出判定结果（请报告此问题）")

    @app.exception_handler(CompileError)
    async def compile_error(request: Request, exc: CompileError) -> Response:
        log.error("规则集无法编译：%s", exc)
        return error_response(request, 500, f"内部错误：规则集无法编译（{exc}）")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        # the server's log gets the traceback (Starlette re-raises it to uvicorn); the client never does
        return error_response(request, 500, STATUS_ZH[500])

    app.add_middleware(BodyLimit, limit=max_body)
    app.add_middleware(SecurityHeaders)
    return app


def _param_path(loc: Any) -> str:
    parts = list(loc)
    where = {"query": "查询参数", "path": "路径参数", "body": "请求体", "header": "请求头"}.get(str(parts[0]) if parts else "")
    if where and len(parts) > 1:
        return f"{where} " + ".".join(str(p) for p in parts[1:])
    return json_path(tuple(parts))


def _swagger_dir() -> Path | None:
    """Swagger UI's files, shipped by the ``fastapi-offline`` package (never loaded from a CDN)."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    path = Path(fastapi_offline.__file__).resolve().parent / "static"
    return path if (path / "swagger-ui-bundle.js").is_file() else None


def _plain_docs(app: FastAPI) -> str:
    """A Swagger-free /docs: each operation with its summary (the full contract is /openapi.json)."""
    schema = app.openapi()
    rows = []
    for path, ops in schema.get("paths", {}).items():
        for method, op in ops.items():
            rows.append(f"<li><code>{method.upper()} {html.escape(path)}</code> — {html.escape(op.get('summary', ''))}"
                        f"<br><span class='muted'>{html.escape(op.get('description', ''))}</span></li>")
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(app.title)}</title>'
            f'<link rel="stylesheet" href="/static/app.css"></head><body><main class="page">'
            f'<h1>{html.escape(app.title)}</h1><p>OpenAPI：<a href="/openapi.json">/openapi.json</a></p>'
            f'<ul>{"".join(rows)}</ul></main></body></html>')
