"""Project-level guards: schemas in sync, README commands true, wording verbatim, one durable module."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.schemas import drift
from tests.conftest import ROOT

SHARED = ROOT.parent / "shared"


def test_schemas_match_models() -> None:
    assert drift() == [], "schemas/ is stale: run `hazard schemas`"


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```(?:bash|sh)\n(.+?)\n```", text, flags=re.S)[:2]


def test_readme_test_command_is_what_ci_runs() -> None:
    _, test_cmd = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_cmd.strip() in ci


def test_readme_main_command_uses_a_bundled_example() -> None:
    main_cmd, _ = _readme_commands()
    example = re.search(r"(examples/\S+\.json)", main_cmd)
    assert example and (ROOT / example.group(1)).is_file()
    assert "hazard check" in main_cmd


def test_only_one_module_imports_durable() -> None:
    importers = [p.relative_to(ROOT).as_posix() for p in (ROOT / "engine").rglob("*.py")
                 if re.search(r"^\s*(import|from)\s+durable", p.read_text(encoding="utf-8"), flags=re.M)]
    assert importers == ["engine/backend_durable.py"]


@pytest.mark.skipif(not (SHARED / "tools" / "check_wording.py").is_file(), reason="shared/ not beside the checkout")
def test_official_wording_is_verbatim() -> None:
    result = subprocess.run([sys.executable, str(SHARED / "tools" / "check_wording.py"), str(ROOT / "rulesets"),
                             str(SHARED / "standards")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 not found" in result.stdout
