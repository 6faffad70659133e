"""Shared fixtures: the real catalog, one engine per test session, and a tiny ruleset writer."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.catalog import Catalog
from engine.evaluator import Engine

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

MINI = """\
format: 1
id: mini
version: "1"
title: 测试标准
document: 测试〔2024〕1号
issuer: 测试机关
effective_from: 2024-01-01
scope: 测试
source: tests
coverage: {items_total: 2}
sections:
  - {id: profile, title: 基本情况}
  - {id: main, title: 主要}
questions:
  - {id: has_tank, section: profile, profile: true, text: 是否有储罐？, type: boolean}
  - {id: alarm, section: main, text: 报警装置, type: device}
  - {id: pressure, section: main, text: 压力, type: number, unit: kPa}
criteria:
  - id: "1"
    clause: 第一项
    section: main
    text: 储罐未设置报警装置的
    applies_if: {q: has_tank, eq: true}
    hazard_if: {q: alarm, ne: 正常}
    guidance: 设置报警装置。
  - id: "2"
    clause: 第二项
    section: main
    text: 压力小于30kPa的
    hazard_if: {q: pressure, lt: 30}
    guidance: 调整压力。
tests:
  - name: 无报警
    answers: {has_tank: true, alarm: 未设置}
    expect: {"1": hazard}
  - name: 报警正常
    answers: {has_tank: true, alarm: 正常, pressure: 30}
    expect: {"1": clear, "2": clear}
  - name: 压力低
    answers: {pressure: 29.9}
    expect: {"2": hazard}
"""


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.from_dir(ROOT / "rulesets")


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine()


@pytest.fixture
def write_ruleset(tmp_path: Path):
    """Write YAML text as <tmp>/rulesets/<id>/<version>.yaml and return its path."""

    def write(text: str, rid: str = "mini", version: str = "1") -> Path:
        path = tmp_path / "rulesets" / rid / f"{version}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write
