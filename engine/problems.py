"""Validation problems: where (file, line, path) and what, reported all at once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        at = f" [{self.path}]" if self.path else ""
        return f"{where}{at}: {self.message}"


class ValidationFailed(Exception):
    """Raised with every problem found in one input (a ruleset or a checklist)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# pydantic error types → Chinese explanations a regulator or inspector understands
PYDANTIC_MESSAGES: dict[str, str] = {
    "missing": "缺少必填字段",
    "extra_forbidden": "未知字段（可能是拼写错误）",
    "string_type": "应为文本",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数（不能带小数）",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "date_type": "应为日期（YYYY-MM-DD）",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "list_type": "应为列表",
    "dict_type": "应为键值映射",
    "model_type": "应为键值映射",
    "too_short": "不能为空",
    "string_too_short": "不能为空",
    "string_pattern_mismatch": "格式不符合要求",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "greater_than_equal": "数值过小",
}


def pydantic_message(err: dict) -> str:
    """Translate one pydantic error dict to Chinese (keeping pydantic's detail where useful)."""
    kind = err.get("type", "")
    msg = str(err.get("msg", ""))
    if kind in ("value_error", "assertion_error"):
        return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "condition_shape":
        return msg
    zh = PYDANTIC_MESSAGES.get(kind)
    if zh is None:
        return msg
    ctx = err.get("ctx") or {}
    if kind in ("literal_error", "enum") and "expected" in ctx:
        return f"{zh}：应为 {ctx['expected']}"
    if kind == "string_pattern_mismatch" and "pattern" in ctx:
        return f"{zh}（应匹配 {ctx['pattern']}）"
    return zh
