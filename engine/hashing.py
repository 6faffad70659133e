"""Canonical content hashes: stable across formatting, changing with any change of meaning."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from engine.model import Ruleset


def canonical_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def sha256_of(data: Any) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def ruleset_sha256(rs: Ruleset) -> str:
    """Hash of the validated model (YAML comments, key order and quoting do not change it); cached.

    ``effective_until`` is left out: closing a published version when its successor takes over is the
    only change a locked version may receive, and it changes nothing a determination decided.
    Defaults are left out too, so a new optional key in the format does not change existing hashes.
    """
    cached = rs.__pydantic_private__.get("_sha256") if rs.__pydantic_private__ else None
    if cached is None:
        cached = sha256_of(rs.model_dump(mode="json", by_alias=True, exclude={"effective_until"}, exclude_defaults=True))
        rs._sha256 = cached
    return cached
