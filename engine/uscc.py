"""统一社会信用代码 (GB 32100-2015) check character."""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [pow(3, i, 31) for i in range(17)]


def check_char(first17: str) -> str:
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """Chinese description of what is wrong with a code, or None if it is valid."""
    if len(code) != 18:
        return f"统一社会信用代码应为18位，实际为{len(code)}位"
    bad = [c for c in code if c not in ALPHABET]
    if bad:
        return f"统一社会信用代码含有不允许的字符：{''.join(dict.fromkeys(bad))}（不使用 I、O、S、V、Z 及小写字母）"
    if not code[2:8].isdigit():
        return "统一社会信用代码第3–8位（登记管理机关行政区划码）应为数字"
    expected = check_char(code[:17])
    if code[17] != expected:
        return f"统一社会信用代码校验位错误（GB 32100-2015）：第18位应为 {expected}，实际为 {code[17]}"
    return None
