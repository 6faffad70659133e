"""The rulesets folder: every version of every standard, and the choice of the version in force."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from engine.hashing import ruleset_sha256
from engine.manifest import problems as manifest_problems
from engine.model import Ruleset
from engine.problems import Problem, ValidationFailed
from engine.ruleset_loader import check_ruleset_file

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_rulesets_dir() -> Path:
    return Path(os.environ.get("HAZARD_RULESETS", PROJECT_ROOT / "rulesets"))


@dataclass(frozen=True)
class Loaded:
    ruleset: Ruleset
    path: Path
    sha256: str


@dataclass(frozen=True)
class Selection:
    loaded: Loaded
    reason: str  # Chinese: why this version was chosen


class SelectionError(Exception):
    """No version fits (unknown id, unknown version, or no version in force on the date)."""


def period_problems(items: list[Loaded]) -> list[Problem]:
    """Versions of one ruleset id must follow each other without overlap or gap."""
    problems: list[Problem] = []
    by_id: dict[str, list[Loaded]] = {}
    for x in items:
        by_id.setdefault(x.ruleset.id, []).append(x)
    for rid, versions in by_id.items():
        versions.sort(key=lambda x: x.ruleset.effective_from)
        seen: set[str] = set()
        for x in versions:
            if x.ruleset.version in seen:
                problems.append(Problem(str(x.path), None, "version", f"规则集 {rid} 的版本 {x.ruleset.version} 重复"))
            seen.add(x.ruleset.version)
        for prev, nxt in zip(versions, versions[1:]):
            end = prev.ruleset.effective_until
            start = nxt.ruleset.effective_from
            if end is None or end >= start:
                problems.append(Problem(str(prev.path), None, "effective_until",
                                        f"{prev.ruleset.ref} 的施行期间与 {nxt.ruleset.ref}（{start} 起）重叠："
                                        f"应设置 effective_until: {start - dt.timedelta(days=1)}"))
            elif end + dt.timedelta(days=1) != start:
                problems.append(Problem(str(nxt.path), None, "effective_from",
                                        f"{prev.ruleset.ref}（至 {end}）与 {nxt.ruleset.ref}（{start} 起）之间有空档："
                                        f"{end + dt.timedelta(days=1)} 至 {start - dt.timedelta(days=1)} 没有施行中的版本"))
    return problems


def load_items(root: Path, ids: set[str] | None = None) -> tuple[list[Loaded], list[Problem]]:
    """Every valid ``<id>/<version>.yaml`` under ``root`` (only the given ruleset ids, if any) and the
    problems of the invalid ones."""
    items: list[Loaded] = []
    problems: list[Problem] = []
    paths = sorted(root.glob("*/*.yaml")) if ids is None else sorted(p for i in ids for p in root.glob(f"{i}/*.yaml"))
    for path in paths:
        rs, found = check_ruleset_file(path)
        problems.extend(found)
        if rs is not None and not found:
            items.append(Loaded(rs, path, ruleset_sha256(rs)))
    return items, problems


class Catalog:
    """All ruleset files under a folder, validated on load."""

    def __init__(self, items: list[Loaded]):
        self.items = sorted(items, key=lambda x: (x.ruleset.id, x.ruleset.effective_from))

    @classmethod
    def from_dir(cls, root: Path | None = None, ids: set[str] | None = None) -> Catalog:
        """Load every ``<id>/<version>.yaml`` (or only those of ``ids``, e.g. the rulesets one checklist
        names); raise ``ValidationFailed`` with every problem in every file loaded.

        Locked versions (rulesets/MANIFEST.json) must still have their recorded content hash.
        """
        root = root or default_rulesets_dir()
        if not root.is_dir():
            raise ValidationFailed([Problem(str(root), None, "", "规则集目录不存在")])
        items, problems = load_items(root, ids)
        problems.extend(period_problems(items))
        problems.extend(manifest_problems(root, items))
        if problems:
            raise ValidationFailed(problems)
        return cls(items)

    def ids(self) -> list[str]:
        return list(dict.fromkeys(x.ruleset.id for x in self.items))

    def versions(self, rid: str) -> list[Loaded]:
        return [x for x in self.items if x.ruleset.id == rid]

    def select(self, ref: str, as_of: dt.date) -> Selection:
        """``id@version`` pins a version; ``id`` alone takes the version in force on ``as_of``."""
        rid, _, version = ref.partition("@")
        versions = self.versions(rid)
        if not versions:
            known = "、".join(self.ids()) or "（无）"
            raise SelectionError(f"未知的规则集 {rid!r}（已有：{known}）")
        if version:
            for x in versions:
                if x.ruleset.version == version:
                    return Selection(x, f"检查表指定版本 {ref}")
            have = "、".join(x.ruleset.version for x in versions)
            raise SelectionError(f"规则集 {rid!r} 没有版本 {version!r}（已有：{have}）")
        for x in versions:
            if x.ruleset.in_force(as_of):
                until = x.ruleset.effective_until.isoformat() if x.ruleset.effective_until else "今"
                return Selection(x, f"{as_of.isoformat()} 在该版本施行期间（{x.ruleset.effective_from.isoformat()} 至 {until}）")
        spans = "；".join(f"{x.ruleset.version}: {x.ruleset.effective_from}–{x.ruleset.effective_until or '今'}"
                         for x in versions)
        raise SelectionError(f"规则集 {rid!r} 在 {as_of.isoformat()} 没有施行中的版本（{spans}）；可用 {rid}@版本 指定")
