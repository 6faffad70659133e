"""rulesets/MANIFEST.json: the content hash of every published (locked) ruleset version.

A published version must never change: past determinations carry its hash and must stay reproducible.
A changed standard gets a new version file. ``lock`` records the current hashes; validation (and every
catalog load) fails when a locked version's content no longer has its recorded hash. A version not yet
in the manifest is a draft: allowed, but ``validate`` says it is unlocked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.problems import Problem

if TYPE_CHECKING:
    from engine.catalog import Loaded

MANIFEST_NAME = "MANIFEST.json"
MANIFEST_FORMAT = 1
IMMUTABLE = "已发布版本不可修改：内容变更须发布新版本"


class ManifestError(Exception):
    """The manifest file exists but cannot be read (bad JSON or bad shape)."""


@dataclass(frozen=True)
class Entry:
    """One locked version."""

    id: str
    version: str
    title: str
    document: str
    effective_from: str
    effective_until: str | None
    sha256: str
    file: str

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


def manifest_path(root: Path) -> Path:
    return root / MANIFEST_NAME


def entry_of(item: Loaded, root: Path) -> Entry:
    rs = item.ruleset
    try:
        rel = item.path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = f"{rs.id}/{item.path.name}"
    return Entry(rs.id, rs.version, rs.title, rs.document, rs.effective_from.isoformat(),
                 rs.effective_until.isoformat() if rs.effective_until else None, item.sha256, rel)


def render(entries: Iterable[Entry]) -> str:
    """Stable JSON: entries sorted by id and version, keys sorted, indent 2, trailing newline."""
    rows = [e.__dict__ for e in sorted(entries, key=lambda e: (e.id, e.version))]
    doc = {"format": MANIFEST_FORMAT, "rulesets": rows}
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def read(root: Path) -> dict[str, Entry] | None:
    """Locked versions by ``id@version``; None when the folder has no manifest (nothing locked yet)."""
    path = manifest_path(root)
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"无法读取 {MANIFEST_NAME}：{exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT or not isinstance(doc.get("rulesets"), list):
        raise ManifestError(f"{MANIFEST_NAME} 格式不正确：应为 {{\"format\": 1, \"rulesets\": [...]}}")
    out: dict[str, Entry] = {}
    names = set(Entry.__dataclass_fields__)
    for i, row in enumerate(doc["rulesets"]):
        if not isinstance(row, dict) or set(row) != names:
            raise ManifestError(f"{MANIFEST_NAME} 第 {i + 1} 条记录的字段应为：{'、'.join(sorted(names))}")
        entry = Entry(**row)
        if entry.ref in out:
            raise ManifestError(f"{MANIFEST_NAME} 中 {entry.ref} 重复")
        out[entry.ref] = entry
    return out


def changed_message(ref: str, file: str, recorded: str, current: str) -> str:
    return (f"{IMMUTABLE}。{ref}（{file}）已锁定，记录的 sha256 为 {recorded}，"
            f"当前内容的 sha256 为 {current}")


def check_one(locked: dict[str, Entry] | None, ref: str, sha256: str, file: str) -> str | None:
    """The error message when a locked version's content changed, else None."""
    if not locked or ref not in locked or locked[ref].sha256 == sha256:
        return None
    return changed_message(ref, file, locked[ref].sha256, sha256)


def problems(root: Path, items: Sequence[Loaded]) -> list[Problem]:
    """Every locked version must still exist with exactly its recorded hash."""
    where = str(manifest_path(root))
    try:
        locked = read(root)
    except ManifestError as exc:
        return [Problem(where, None, "", str(exc))]
    if not locked:
        return []
    found: list[Problem] = []
    present = {x.ruleset.ref for x in items}
    for x in items:
        message = check_one(locked, x.ruleset.ref, x.sha256, str(x.path))
        if message:
            found.append(Problem(str(x.path), None, "", message))
    for ref, entry in sorted(locked.items()):
        if ref not in present and not (root / entry.file).is_file():
            found.append(Problem(where, None, ref, missing_message(ref, entry.file)))
    return found


def missing_message(ref: str, file: str) -> str:
    return (f"{IMMUTABLE}。已锁定的 {ref} 的文件 {file} 不存在"
            "（已发布版本不能删除；确需移除请运行 hazard rulesets lock --force）")


@dataclass
class LockPlan:
    """What ``lock`` would do: new, unchanged, changed (refused without --force) and removed versions."""

    added: list[Entry] = field(default_factory=list)
    unchanged: list[Entry] = field(default_factory=list)
    changed: list[tuple[Entry, Entry]] = field(default_factory=list)  # (recorded, current)
    removed: list[Entry] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return bool(self.changed or self.removed)

    def entries(self) -> list[Entry]:
        """The manifest after a (forced) lock."""
        return [*self.unchanged, *self.added, *(new for _, new in self.changed)]


def plan(root: Path, items: Sequence[Loaded]) -> LockPlan:
    """Compare the current rulesets with the manifest (raises ``ManifestError`` on a broken manifest)."""
    locked = read(root) or {}
    out = LockPlan()
    current = {x.ruleset.ref: entry_of(x, root) for x in items}
    for ref, entry in sorted(current.items()):
        old = locked.get(ref)
        if old is None:
            out.added.append(entry)
        elif old.sha256 != entry.sha256:
            out.changed.append((old, entry))
        else:
            out.unchanged.append(entry)
    out.removed = [e for ref, e in sorted(locked.items()) if ref not in current]
    return out


def write(root: Path, entries: Iterable[Entry]) -> bool:
    """Write the manifest; False when the file already had exactly this content."""
    text = render(entries)
    path = manifest_path(root)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


class FileCheck:
    """Manifest checks for ``validate``, one file at a time (manifests read once per rulesets folder)."""

    def __init__(self) -> None:
        self._cache: dict[Path, dict[str, Entry] | None | ManifestError] = {}

    def locked(self, root: Path) -> dict[str, Entry] | None:
        key = root.resolve()
        if key not in self._cache:
            try:
                self._cache[key] = read(root)
            except ManifestError as exc:
                self._cache[key] = exc
        found = self._cache[key]
        if isinstance(found, ManifestError):
            raise found
        return found

    def check(self, path: Path, ref: str, sha256: str) -> tuple[Problem | None, str | None]:
        """(error, note) for one valid ruleset file at ``<root>/<id>/<version>.yaml``."""
        root = path.parent.parent
        try:
            locked = self.locked(root)
        except ManifestError as exc:
            return Problem(str(manifest_path(root)), None, "", str(exc)), None
        message = check_one(locked, ref, sha256, str(path))
        if message:
            return Problem(str(path), None, "", message), None
        if not locked or ref not in locked:
            return None, (f"{ref} 尚未锁定（{manifest_path(root)} 中没有记录，视为草稿）；"
                          "发布时运行 hazard rulesets lock 记录其内容哈希")
        return None, None

    def missing(self, root: Path, present: set[str]) -> list[Problem]:
        """Locked versions of ``root`` whose files are gone."""
        try:
            locked = self.locked(root) or {}
        except ManifestError:
            return []
        return [Problem(str(manifest_path(root)), None, ref, missing_message(ref, e.file))
                for ref, e in sorted(locked.items()) if ref not in present and not (root / e.file).is_file()]
