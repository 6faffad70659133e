"""The inspection checklist submitted as JSON: its model and its structural validation."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator

from engine.model import Strict
from engine.problems import Problem, ValidationFailed, pydantic_message
from engine.uscc import uscc_problem

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(v: Any) -> Any:
    if isinstance(v, str) and not _ISO.match(v):
        raise ValueError("日期格式应为 YYYY-MM-DD")
    if not isinstance(v, (str, dt.date)):
        raise ValueError("日期应为 YYYY-MM-DD 格式的字符串")
    return v


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


def _uscc(v: str) -> str:
    problem = uscc_problem(v)
    if problem:
        raise ValueError(problem)
    return v


class Enterprise(Strict):
    """被检查单位."""

    name: str = Field(min_length=1, description="单位名称")
    uscc: Annotated[str, AfterValidator(_uscc)] | None = Field(None, description="统一社会信用代码（GB 32100-2015）")
    no_uscc_reason: str | None = Field(None, description="无统一社会信用代码的原因（未登记等）")
    region_code: str = Field(pattern=r"^\d{6}$", description="行政区划代码（6位，GB/T 2260）")
    industry_code: str = Field(pattern=r"^[A-T]?\d{2,4}$", description="国民经济行业代码（GB/T 4754-2017），如 C3110")
    address: str = Field(min_length=1, description="生产经营地址")

    @model_validator(mode="after")
    def _needs_uscc(self) -> Enterprise:
        if not self.uscc and not self.no_uscc_reason:
            raise ValueError("缺少统一社会信用代码（uscc）；确无代码的，请在 no_uscc_reason 中说明原因")
        return self


class Inspector(Strict):
    name: str = Field(min_length=1)
    cert_no: str | None = Field(None, description="执法证号")
    org: str | None = None


class Evidence(Strict):
    """A photo, document or record supporting an answer."""

    kind: Literal["photo", "video", "document", "record", "sensor", "bodycam", "other"]
    uri: str | None = None
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    description: str | None = None
    captured_at: str | None = None


class Checklist(Strict):
    """A filled inspection checklist (检查表) or self-assessment (自查表)."""

    schema_version: Literal["1.0"]
    id: str = Field(min_length=1, description="检查记录编号")
    kind: Literal["inspection", "self_assessment"] = Field(description="inspection = 监管检查；self_assessment = 企业自查")
    inspection_date: IsoDate
    enterprise: Enterprise
    inspectors: list[Inspector] = Field(default_factory=list)
    place: str | None = Field(None, description="检查场所")
    rulesets: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*(@[0-9A-Za-z.\-]+)?$")]] = Field(
        min_length=1, description="判定标准：id（检查日有效的版本）或 id@version（指定版本）")
    answers: dict[str, Any] = Field(default_factory=dict, description="问题编号 → 回答；多个规则集时可写作 规则集/问题编号")
    notes: dict[str, str] = Field(default_factory=dict, description="问题编号 → 现场情况说明")
    evidence: dict[str, list[Evidence]] = Field(default_factory=dict, description="问题编号 → 证据")
    remarks: str | None = None
    guide: dict[str, str] | None = Field(None, description="问题编号 → 问题说明（由 hazard template 生成，供填写参考；引擎不读取）")

    @model_validator(mode="after")
    def _inspection_needs_inspectors(self) -> Checklist:
        if self.kind == "inspection" and not self.inspectors:
            raise ValueError("监管检查（kind = inspection）须列出检查人员 inspectors")
        return self


def json_path(loc: tuple[Any, ...]) -> str:
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if re.fullmatch(r"[A-Za-z_][\w]*", str(part))
                                                          else f"[{json.dumps(str(part), ensure_ascii=False)}]")
    return out


def read_checklist(path: Path) -> tuple[Checklist, dict[str, Any]]:
    """Parse and structurally validate a checklist file; raise ``ValidationFailed`` with all problems."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed([Problem(file, None, "", f"无法读取检查表：{exc}")]) from None
    return parse_checklist(text, file)


def parse_checklist(text: str, file: str = "<checklist>") -> tuple[Checklist, dict[str, Any]]:
    try:
        raw = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValidationFailed([Problem(file, exc.lineno, f"第{exc.colno}列", f"JSON 语法错误：{exc.msg}")]) from None
    except ValueError as exc:
        raise ValidationFailed([Problem(file, None, "", str(exc))]) from None
    if not isinstance(raw, dict):
        raise ValidationFailed([Problem(file, 1, "$", "检查表的顶层必须是 JSON 对象")])
    try:
        return Checklist.model_validate(raw), raw
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if p not in ("function-after[_uscc(), str]",))
            loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
            problems.append(Problem(file, None, json_path(loc), pydantic_message(err)))
        raise ValidationFailed(problems) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON 中不允许 {name}（非有限数）")
