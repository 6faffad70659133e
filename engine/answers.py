"""Check one answer against its question's type. Nothing is coerced silently: a wrong type is an error."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from engine.model import Question, QuestionType

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
Answer = bool | float | int | str | dt.date | tuple[str, ...]


def check_answer(q: Question, value: Any) -> tuple[Answer | None, str | None]:
    """Return (normalised value, None) or (None, Chinese error message). ``None`` input = not answered."""
    if value is None:
        return None, None
    t = q.type
    if t == QuestionType.boolean:
        if isinstance(value, bool):
            return value, None
        return None, f"应为 true 或 false，实际为 {_show(value)}"
    if t in (QuestionType.number, QuestionType.integer):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f"应为数字{_unit(q)}，实际为 {_show(value)}"
        if isinstance(value, float) and not math.isfinite(value):
            return None, "数值必须是有限数"
        if t == QuestionType.integer and not isinstance(value, int):
            return None, f"应为整数{_unit(q)}，实际为 {_show(value)}"
        if q.min is not None and value < q.min:
            return None, f"数值 {value} 小于允许的最小值 {q.min:g}{q.unit or ''}"
        if q.max is not None and value > q.max:
            return None, f"数值 {value} 大于允许的最大值 {q.max:g}{q.unit or ''}"
        if abs(value) > 1e15:
            return None, "数值过大"
        return value, None
    if t in (QuestionType.choice, QuestionType.device):
        if isinstance(value, str) and value in q.options:
            return value, None
        return None, f"应为以下之一：{' / '.join(q.options)}，实际为 {_show(value)}"
    if t == QuestionType.multi_choice:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None, f"应为选项列表（可选：{' / '.join(q.options)}），实际为 {_show(value)}"
        bad = [v for v in value if v not in q.options]
        if bad:
            return None, f"选项 {'、'.join(bad)} 不在允许范围内（可选：{' / '.join(q.options)}）"
        if len(set(value)) != len(value):
            return None, "选项重复"
        return tuple(value), None
    if t == QuestionType.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value, None
        if isinstance(value, str) and _DATE.match(value):
            try:
                return dt.date.fromisoformat(value), None
            except ValueError:
                pass
        return None, f"应为日期 YYYY-MM-DD，实际为 {_show(value)}"
    if t == QuestionType.text:
        if isinstance(value, str):
            if _has_lone_surrogate(value):
                return None, "文本含有无效字符（孤立的代理码位）"
            return value, None
        return None, f"应为文本，实际为 {_show(value)}"
    raise AssertionError(t)


def _has_lone_surrogate(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _unit(q: Question) -> str:
    return f"（单位：{q.unit}）" if q.unit else ""


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"“{value}”"
    if isinstance(value, list):
        return "列表"
    if isinstance(value, dict):
        return "对象"
    return str(value)


def display(q: Question, value: Answer | None) -> str:
    """Human-readable Chinese rendering of an answer, with its unit."""
    if value is None:
        return "未填写"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, tuple):
        return "、".join(value) if value else "（无）"
    if isinstance(value, (int, float)):
        text = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{text} {q.unit}" if q.unit else text
    return str(value)
