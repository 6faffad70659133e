"""JUnit XML for ``hazard rulesets test --junit FILE``, so CI systems (GitLab, Jenkins, GitHub) show results.

One ``<testsuite>`` per ruleset version, one ``<testcase>`` per embedded test (``<failure>`` when an
expectation is wrong), and one failed ``<testcase>`` per criterion lacking a passing hazard or clear
test. Attributes follow the Ant/Jenkins JUnit schema (testsuite: name, tests, failures, errors,
skipped, time, timestamp, hostname; properties, system-out, system-err).
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from engine.model import Ruleset
from engine.ruleset_tests import TestReport

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    """XML 1.0 cannot carry control characters: drop them."""
    return _INVALID_XML.sub("", text)


def _seconds(x: float) -> str:
    return f"{x:.6f}"


def suite(rs: Ruleset, sha256: str, report: TestReport, index: int, timestamp: dt.datetime,
          hostname: str) -> ET.Element:
    """The ``<testsuite>`` of one ruleset version."""
    failed_tests = {f.index for f in report.failures}
    cases: list[ET.Element] = []
    seen: dict[str, int] = {}
    for i, t in enumerate(rs.tests):
        seen[t.name] = seen.get(t.name, 0) + 1
        name = t.name if seen[t.name] == 1 else f"{t.name} [#{seen[t.name]}]"
        duration = report.durations[i] if i < len(report.durations) else 0.0
        case = ET.Element("testcase", name=_clean(name), classname=rs.ref, time=_seconds(duration))
        if i in failed_tests:
            wrong = [f for f in report.failures if f.index == i]
            details = "\n".join(f"判定项 {f.criterion}：预期 {f.expected}，实际 {f.got}" for f in wrong)
            failure = ET.SubElement(case, "failure", type="expectation",
                                    message=_clean(f"{len(wrong)} 项预期不符：" + "；".join(
                                        f"{f.criterion} 预期 {f.expected} 实际 {f.got}" for f in wrong)))
            failure.text = _clean(details)
        cases.append(case)
    for c in report.uncovered:
        lacking = "、".join(sorted({"hazard", "clear"} - c.outcomes))
        case = ET.Element("testcase", name=_clean(f"覆盖：判定项 {c.id}（{c.clause}）"),
                          classname=f"{rs.ref}.coverage", time=_seconds(0))
        failure = ET.SubElement(case, "failure", type="coverage",
                                message=_clean(f"判定项 {c.id}（{c.clause}）没有通过的 {lacking} 用例"))
        failure.text = _clean(f"每个判定项至少需要一个通过的 hazard 用例和一个通过的 clear 用例；缺少：{lacking}")
        cases.append(case)
    failures = len(failed_tests) + len(report.uncovered)
    el = ET.Element("testsuite", {
        "name": rs.ref, "id": str(index), "package": f"rulesets.{rs.id}",
        "tests": str(len(cases)), "failures": str(failures), "errors": "0", "skipped": "0",
        "time": _seconds(sum(report.durations)),
        "timestamp": timestamp.replace(microsecond=0, tzinfo=None).isoformat(), "hostname": hostname,
    })
    props = ET.SubElement(el, "properties")
    for key, value in (("title", rs.title), ("document", rs.document), ("version", rs.version),
                       ("sha256", sha256), ("checks", str(report.checks))):
        ET.SubElement(props, "property", name=key, value=_clean(value))
    el.extend(cases)
    ET.SubElement(el, "system-out").text = ""
    ET.SubElement(el, "system-err").text = ""
    return el


def junit_xml(results: Sequence[tuple[Ruleset, str, TestReport]], timestamp: dt.datetime | None = None,
              hostname: str | None = None) -> str:
    """The whole document for (ruleset, sha256, report) triples."""
    when = timestamp or dt.datetime.now()
    host = hostname or socket.gethostname() or "localhost"
    root = ET.Element("testsuites", name="hazard rulesets test")
    suites = [suite(rs, sha, report, i, when, host) for i, (rs, sha, report) in enumerate(results)]
    root.extend(suites)
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    root.set("time", _seconds(sum(float(s.get("time", "0")) for s in suites)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: Path, results: Sequence[tuple[Ruleset, str, TestReport]]) -> None:
    path.write_text(junit_xml(results), encoding="utf-8")
