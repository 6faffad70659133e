"""Read YAML with ``safe_load`` semantics while remembering the line of every node.

Duplicate keys are errors here (plain ``safe_load`` keeps the last one silently).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.problems import Problem

PathKey = tuple[Any, ...]


@dataclass
class SourceDoc:
    """Parsed data plus a map from data path (keys and list indices) to 1-based line numbers."""

    file: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: PathKey) -> int | None:
        """Line of the deepest existing node along ``path`` (pydantic locations may add tag names)."""
        node = self.data
        best: PathKey = ()
        walked: list[Any] = []
        for part in path:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, dict) and part in ("not_", "in_", "from_") and part[:-1] in node:
                node, part = node[part[:-1]], part[:-1]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                continue
            walked.append(part)
            if tuple(walked) in self.lines:
                best = tuple(walked)
        return self.lines.get(best)

    def data_path(self, path: PathKey) -> PathKey:
        """Drop pydantic's union tag names from a location so it names real keys only."""
        node = self.data
        out: list[Any] = []
        for part in path:
            if part in ("not_", "in_", "from_"):
                part = part[:-1]
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            elif part in _TAGS:
                continue
            else:
                node = None
            out.append(part)
        return tuple(out)


_TAGS = {"all", "any", "not", "at_least", "compare", "qref", "arith", "literal",
         "bool", "int", "float", "str", "date", "function-after", "function-before", "function-wrap"}


def _walk(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], problems: list[Problem], file: str) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
            kline = key_node.start_mark.line + 1
            if key in seen:
                problems.append(Problem(file, kline, _fmt(path + (key,)),
                                        f"重复的键 {key!r}（第 {seen[key]} 行已出现）；YAML 会静默丢弃前一个值"))
            seen[key] = kline
            _walk(value_node, path + (key,), lines, problems, file)
            lines[path + (key,)] = kline
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines, problems, file)


def _fmt(path: PathKey) -> str:
    return format_path(path)


def format_path(path: PathKey) -> str:
    """``('criteria', 3, 'hazard_if')`` → ``criteria[3].hazard_if``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "（文件顶层）"


def read_yaml(path: Path) -> tuple[SourceDoc | None, list[Problem]]:
    """Parse one YAML file. Returns the document (None if unreadable) and every problem found."""
    file = str(path)
    problems: list[Problem] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(file, None, "", f"无法读取文件：{exc}")]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        return None, [Problem(file, line, "", f"YAML 语法错误：{getattr(exc, 'problem', None) or exc}")]
    if node is None:
        return None, [Problem(file, 1, "", "文件为空")]
    lines: dict[PathKey, int] = {}
    _walk(node, (), lines, problems, file)
    return SourceDoc(file, data, lines), problems
