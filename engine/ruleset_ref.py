"""Resolve what a regulator names on the command line: ``id@version`` from the catalog, or a YAML file.

A file may be an unpublished draft anywhere on disk (``draft.yaml``): it is validated like any ruleset,
except that its file name and folder need not follow ``<id>/<version>.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.catalog import Catalog, Loaded
from engine.hashing import ruleset_sha256
from engine.problems import Problem, ValidationFailed
from engine.ruleset_loader import check_ruleset_file


class RefError(Exception):
    """The ref names no ruleset (unknown id or version, missing file, bad syntax)."""


def looks_like_path(text: str) -> bool:
    return text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text or Path(text).is_file()


def _layout_problem(p: Problem) -> bool:
    """The two checks that tie a published file to ``<id>/<version>.yaml`` (irrelevant for a draft)."""
    return (p.path == "version" and "文件名" in p.message) or (p.path == "id" and "所在目录" in p.message)


def load_file(path: Path) -> Loaded:
    """Load and validate one ruleset file wherever it lies; raise ``ValidationFailed`` on any problem."""
    if not path.is_file():
        raise RefError(f"找不到规则集文件：{path}")
    rs, problems = check_ruleset_file(path)
    problems = [p for p in problems if not _layout_problem(p)]
    if problems or rs is None:
        raise ValidationFailed(problems)
    return Loaded(rs, path, ruleset_sha256(rs))


def resolve(text: str, catalog: Callable[[], Catalog]) -> Loaded:
    """``id@version`` (looked up in the catalog, loaded only when needed) or a path to a YAML file."""
    if looks_like_path(text):
        return load_file(Path(text))
    rid, at, version = text.partition("@")
    if not at or not rid or not version:
        raise RefError(f"无法识别 {text!r}：请写作 <规则集编号>@<版本>（如 industry-trade@2023）或 YAML 文件路径")
    cat = catalog()
    versions = cat.versions(rid)
    if not versions:
        raise RefError(f"未知的规则集 {rid!r}（已有：{'、'.join(cat.ids()) or '（无）'}）")
    for x in versions:
        if x.ruleset.version == version:
            return x
    have = "、".join(x.ruleset.version for x in versions)
    raise RefError(f"规则集 {rid!r} 没有版本 {version!r}（已有：{have}）")
