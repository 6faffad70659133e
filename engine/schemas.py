"""JSON Schema files generated from the pydantic contracts (kept in ``schemas/``; a test checks drift)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.checklist import Checklist
from engine.determination import Determination, DeterminationSet
from engine.model import Ruleset

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"
BASE_URL = "https://hazard-engine.invalid/schemas/"

CONTRACTS: dict[str, Any] = {
    "ruleset.schema.json": (Ruleset, "validation", "Hazard Engine ruleset (重大事故隐患判定标准规则集)"),
    "checklist.schema.json": (Checklist, "validation", "Hazard Engine inspection checklist (检查表)"),
    "determination.schema.json": (Determination, "serialization", "Hazard Engine determination (判定结果)"),
    "determination-set.schema.json": (DeterminationSet, "serialization",
                                      "Hazard Engine determinations of one checklist against several rulesets"),
}


def generate() -> dict[str, str]:
    """File name → schema text (stable: sorted keys, trailing newline)."""
    out = {}
    for name, (model, mode, title) in CONTRACTS.items():
        schema = model.model_json_schema(mode=mode, by_alias=True)
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": BASE_URL + name,
                  **schema, "title": title}
        out[name] = json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return out


def write(directory: Path = SCHEMAS_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in generate().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def drift(directory: Path = SCHEMAS_DIR) -> list[str]:
    """Names of schema files that are missing or differ from the models."""
    return [name for name, text in generate().items()
            if not (directory / name).is_file() or (directory / name).read_text(encoding="utf-8") != text]
