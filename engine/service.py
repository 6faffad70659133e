"""The Python API the CLI (and later the web app) is a thin layer over."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine.binding import bind
from engine.catalog import Catalog
from engine.checklist import Checklist, parse_checklist, read_checklist
from engine.determination import Determination, DeterminationSet, combine_verdicts
from engine.evaluator import Engine
from engine.hashing import sha256_of

_ENGINE: Engine | None = None


def shared_engine() -> Engine:
    """One engine per process: durable_rules rulesets are registered once and reused."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Engine()
    return _ENGINE


def determine(checklist: Checklist, raw: dict, catalog: Catalog, file: str,
              as_of: dt.date | None = None, engine: Engine | None = None) -> list[Determination]:
    """Judge a validated checklist against every ruleset it names (raises ``ValidationFailed``)."""
    day = as_of or checklist.inspection_date
    bound = bind(checklist, catalog, day, file)
    eng = engine or shared_engine()
    digest = sha256_of(raw)
    return [eng.determine(b, checklist, digest, day) for b in bound]


def check_file(path: Path, catalog: Catalog | None = None, as_of: dt.date | None = None,
               rulesets_dir: Path | None = None) -> list[Determination]:
    """Judge one checklist file; without a catalog, only the rulesets the checklist names are loaded."""
    checklist, raw = read_checklist(path)
    if catalog is None:
        catalog = Catalog.from_dir(rulesets_dir, ids={ref.partition("@")[0] for ref in checklist.rulesets})
    return determine(checklist, raw, catalog, str(path), as_of)


def check_text(text: str, catalog: Catalog, file: str = "<checklist>",
               as_of: dt.date | None = None) -> list[Determination]:
    checklist, raw = parse_checklist(text, file)
    return determine(checklist, raw, catalog, file, as_of)


def as_document(dets: list[Determination]) -> Determination | DeterminationSet:
    """One Determination, or a set when the checklist named several rulesets."""
    if len(dets) == 1:
        return dets[0]
    return DeterminationSet(verdict=combine_verdicts([d.verdict for d in dets]), determinations=dets)
