"""``hazard``: the command line. A thin layer over ``engine.service`` and friends; no tracebacks for users."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path

from engine import __version__

EXIT_CLEAR, EXIT_HAZARD, EXIT_INPUT, EXIT_INCOMPLETE, EXIT_INTERNAL = 0, 1, 2, 3, 4
VERDICT_EXIT = {"clear": EXIT_CLEAR, "hazard": EXIT_HAZARD, "incomplete": EXIT_INCOMPLETE}


class UsageError(Exception):
    """Bad input or usage: printed as one clear message, exit status 2."""


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期应为 YYYY-MM-DD：{text!r}") from None


def _catalog(args: argparse.Namespace):
    from engine.catalog import Catalog

    return Catalog.from_dir(Path(args.rulesets) if args.rulesets else None)


def _write(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text, encoding="utf-8")
        print(f"已写入 {out}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


# ---------------------------------------------------------------- check


def cmd_check(args: argparse.Namespace) -> int:
    from engine.report import render
    from engine.service import as_document, check_file

    fmt = args.format or _format_from_name(args.output) or "text"
    dets = check_file(Path(args.checklist), _catalog(args), args.as_of)
    if fmt == "json":
        doc = as_document(dets)
        text = json.dumps(doc.model_dump(mode="json"), ensure_ascii=False, indent=2)
    else:
        text = render(dets, fmt)
    _write(text, args.output)
    from engine.determination import combine_verdicts

    verdict = combine_verdicts([d.verdict for d in dets])
    if args.output:
        print(f"判定结论：{dets[0].summary.verdict_text if len(dets) == 1 else verdict}", file=sys.stderr)
    return VERDICT_EXIT[verdict]


def _format_from_name(name: str | None) -> str | None:
    if not name:
        return None
    suffix = Path(name).suffix.lower()
    return {".html": "html", ".htm": "html", ".md": "md", ".json": "json", ".txt": "text"}.get(suffix)


# ---------------------------------------------------------------- template


def cmd_template(args: argparse.Namespace) -> int:
    from engine.blank import ProfileError, blank_checklist, form_sections, parse_profile
    from engine.catalog import SelectionError
    from engine.report import environment

    day = args.as_of or dt.date.today()
    try:
        sel = _catalog(args).select(args.ruleset, day)
    except SelectionError as exc:
        raise UsageError(str(exc)) from None
    rs = sel.loaded.ruleset
    try:
        known = parse_profile(rs, args.profile or [])
    except ProfileError as exc:
        raise UsageError(str(exc)) from None
    fmt = args.format or _format_from_name(args.output) or "json"
    if fmt == "json":
        text = json.dumps(blank_checklist(rs, known, day), ensure_ascii=False, indent=2)
    else:
        env = environment("html")
        text = env.get_template("checklist_form.html.j2").render(
            rs=rs, sections=form_sections(rs, known), selected_because=sel.reason, sha256=sel.loaded.sha256,
            profile={k: (("是" if v else "否") if isinstance(v, bool) else "、".join(v) if isinstance(v, tuple) else v)
                     for k, v in known.items()},
            engine_version=__version__)
    _write(text, args.output)
    return 0


# ---------------------------------------------------------------- rulesets


def cmd_list(args: argparse.Namespace) -> int:
    catalog = _catalog(args)
    rows = [("规则集", "版本", "文号", "施行期间", "覆盖", "标准名称")]
    for x in catalog.items:
        rs = x.ruleset
        span = f"{rs.effective_from} 至 {rs.effective_until or '今'}"
        cover = f"{len(rs.criteria)}/{rs.coverage.items_total}" + ("（部分）" if rs.is_partial else "")
        rows.append((rs.id, rs.version, rs.document, span, cover, rs.title))
    if args.json:
        print(json.dumps([{"id": x.ruleset.id, "version": x.ruleset.version, "document": x.ruleset.document,
                           "title": x.ruleset.title, "effective_from": str(x.ruleset.effective_from),
                           "effective_until": str(x.ruleset.effective_until) if x.ruleset.effective_until else None,
                           "criteria": len(x.ruleset.criteria), "items_total": x.ruleset.coverage.items_total,
                           "partial": x.ruleset.is_partial, "sha256": x.sha256} for x in catalog.items],
                         ensure_ascii=False, indent=2))
        return 0
    for row in rows:
        print("  ".join(row))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from engine.catalog import SelectionError
    from engine.conditions import questions_of

    try:
        sel = _catalog(args).select(args.ref, args.as_of or dt.date.today())
    except SelectionError as exc:
        raise UsageError(str(exc)) from None
    rs = sel.loaded.ruleset
    print(f"{rs.title}（{rs.document}）")
    print(f"规则集 {rs.ref}  sha256 {sel.loaded.sha256}")
    print(f"发布机关 {rs.issuer}；施行 {rs.effective_from} 至 {rs.effective_until or '今'}；选用原因：{sel.reason}")
    print(f"适用范围：{rs.scope}")
    print(f"覆盖：{len(rs.criteria)}/{rs.coverage.items_total} 项；问题 {len(rs.questions)} 个；测试用例 {len(rs.tests)} 个")
    for n in rs.coverage.not_encoded:
        print(f"  未收录：{n.item}（{n.reason}）")
    for w in rs.warnings:
        print(f"  提示（{w.from_} 起）：{w.text}")
    section = None
    for c in rs.criteria:
        if c.section != section:
            section = c.section
            print(f"\n[{next(s.title for s in rs.sections if s.id == section)}]")
        print(f"  {c.id:>6}  {c.clause}  {c.text}")
        if args.verbose:
            print(f"          适用问题：{', '.join(questions_of(c.applies_if)) or '（全部适用）'}")
            print(f"          判定问题：{', '.join(questions_of(c.hazard_if))}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from engine.compiler import CompileError, compile_ruleset
    from engine.hashing import ruleset_sha256
    from engine.ruleset_loader import check_ruleset_file

    paths: list[Path] = []
    targets = args.paths or [str(Path(args.rulesets) if args.rulesets else _default_dir())]
    for target in targets:
        p = Path(target)
        if p.is_dir():
            paths.extend(sorted(p.glob("*/*.yaml")) or sorted(p.glob("*.yaml")))
        elif p.is_file():
            paths.append(p)
        else:
            raise UsageError(f"找不到文件或目录：{target}")
    if not paths:
        raise UsageError(f"{', '.join(targets)} 中没有规则集文件（<id>/<version>.yaml）")
    bad = 0
    for path in paths:
        rs, problems = check_ruleset_file(path)
        if rs is not None and not problems:
            try:
                compile_ruleset(rs, ruleset_sha256(rs))
            except CompileError as exc:
                problems = [f"{path}: 无法编译：{exc}"]
        if problems:
            bad += 1
            for problem in problems:
                print(problem)
            print(f"✗ {path}：{len(problems)} 个问题")
        else:
            assert rs is not None
            print(f"✓ {path}：{rs.ref}，{len(rs.criteria)} 个判定项，{len(rs.questions)} 个问题，{len(rs.tests)} 个测试用例")
    return 1 if bad else 0


def _default_dir() -> Path:
    from engine.catalog import default_rulesets_dir

    return default_rulesets_dir()


def cmd_test(args: argparse.Namespace) -> int:
    from engine.ruleset_tests import run_tests
    from engine.service import shared_engine

    catalog = _catalog(args)
    wanted = set(args.ids or [])
    items = [x for x in catalog.items if not wanted or x.ruleset.id in wanted or x.ruleset.ref in wanted]
    if wanted and not items:
        raise UsageError(f"没有找到规则集：{', '.join(sorted(wanted))}")
    ok = True
    for x in items:
        report = run_tests(x.ruleset, shared_engine())
        ok &= report.ok
        mark = "✓" if report.ok else "✗"
        covered = len(report.coverage) - len(report.uncovered)
        print(f"{mark} {report.ruleset}：{report.tests} 个测试用例，{report.checks} 项预期，"
              f"{len(report.failures)} 项失败；判定项覆盖（隐患 + 未发现）{covered}/{len(report.coverage)}")
        if args.verbose:
            for c in report.coverage:
                flag = "✓" if c.covered and not c.failures else "✗"
                print(f"    {flag} {c.id:>6} {c.clause}：{c.tests} 项预期，已验证 {'、'.join(sorted(c.outcomes)) or '无'}")
        for f in report.failures:
            print(f"    失败：测试“{f.test}” 判定项 {f.criterion}：预期 {f.expected}，实际 {f.got}")
        for c in report.uncovered:
            lacking = sorted({"hazard", "clear"} - c.outcomes)
            print(f"    缺少覆盖：判定项 {c.id}（{c.clause}）没有通过的 {'、'.join(lacking)} 用例")
    return 0 if ok else 1


def cmd_schemas(args: argparse.Namespace) -> int:
    from engine.schemas import SCHEMAS_DIR, drift, write

    directory = Path(args.out) if args.out else SCHEMAS_DIR
    if args.check:
        stale = drift(directory)
        for name in stale:
            print(f"✗ {directory / name} 与模型不一致；请运行 hazard schemas 重新生成")
        return 1 if stale else 0
    for path in write(directory):
        print(f"已写入 {path}")
    return 0


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hazard",
        description="重大事故隐患判定引擎 Hazard Engine：按判定标准规则集判定检查表中的重大事故隐患。",
        epilog="退出状态：0 检查完成且未发现重大事故隐患；1 存在重大事故隐患；2 输入或用法错误；"
               "3 未发现隐患但检查未完成；4 内部错误。",
    )
    p.add_argument("--version", action="version", version=f"hazard-engine {__version__}")
    p.add_argument("--rulesets", metavar="DIR", help="规则集目录（默认：项目的 rulesets/，或环境变量 HAZARD_RULESETS）")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    c = sub.add_parser("check", help="判定一份检查表（JSON），输出重大事故隐患清单",
                       description="读取检查表 JSON，按其所列规则集（检查日施行的版本，或 id@version 指定的版本）逐项判定，"
                                   "输出判定结果。退出状态：0 未发现隐患且检查完成，1 存在隐患，2 输入错误，3 检查未完成。")
    c.add_argument("checklist", metavar="CHECKLIST.json", help="检查表文件")
    c.add_argument("--format", "-f", choices=["text", "md", "html", "json"],
                   help="输出格式：text 终端文本（默认）、md Markdown、html 可打印网页、json 判定结果数据")
    c.add_argument("-o", "--output", metavar="FILE", help="写入文件（按扩展名推断格式）；默认输出到屏幕")
    c.add_argument("--as-of", type=_date, metavar="DATE", help="按此日期选用规则集版本（默认：检查日期）")
    c.set_defaults(func=cmd_check)

    t = sub.add_parser("template", help="生成空白检查表（JSON 或可打印的纸质表格 HTML）",
                       description="为规则集生成空白检查表：只列出可能适用的问题，按章节分组。"
                                   "用 --profile 预先填写企业情况，可去掉不适用的问题。")
    t.add_argument("ruleset", metavar="RULESET", help="规则集 id（按 --as-of 日期选用施行中的版本）或 id@version")
    t.add_argument("--format", "-f", choices=["json", "html"], help="json 空白检查表（默认）；html 可打印的纸质表格")
    t.add_argument("--profile", action="append", metavar="QUESTION=VALUE",
                   help="企业情况，如 --profile sectors=机械,轻工 --profile dust_explosion=true（可重复）")
    t.add_argument("--as-of", type=_date, metavar="DATE", help="检查日期，用于选用版本（默认：今天）")
    t.add_argument("-o", "--output", metavar="FILE", help="写入文件；默认输出到屏幕")
    t.set_defaults(func=cmd_template)

    r = sub.add_parser("rulesets", help="规则集：列出、查看、校验、测试",
                       description="管理判定标准规则集（rulesets/<id>/<version>.yaml）。")
    rsub = r.add_subparsers(dest="rulesets_command", metavar="ACTION", required=True)
    ls = rsub.add_parser("list", help="列出全部规则集及其文号、施行期间和覆盖项数",
                         description="列出规则集目录中的每个版本：文号、施行期间、收录的判定项数/标准项数。")
    ls.add_argument("--json", action="store_true", help="输出 JSON")
    ls.set_defaults(func=cmd_list)
    sh = rsub.add_parser("show", help="查看一个规则集版本的判定项",
                         description="显示规则集的标识、施行期间、覆盖情况和每个判定项的条款与原文。")
    sh.add_argument("ref", metavar="ID[@VERSION]", help="规则集 id 或 id@version")
    sh.add_argument("--as-of", type=_date, metavar="DATE", help="选用此日期施行的版本（默认：今天）")
    sh.add_argument("-v", "--verbose", action="store_true", help="同时列出每个判定项用到的问题")
    sh.set_defaults(func=cmd_show)
    va = rsub.add_parser("validate", help="校验规则集文件（报告全部错误及所在行）",
                         description="校验规则集文件的结构、引用、类型和可编译性；每个错误给出文件、行号和说明。")
    va.add_argument("paths", nargs="*", metavar="PATH", help="规则集文件或目录（默认：规则集目录）")
    va.set_defaults(func=cmd_validate)
    te = rsub.add_parser("test", help="运行规则集内嵌的测试用例并报告每个判定项的覆盖",
                         description="运行每个规则集的测试用例；每个判定项必须至少有一个“隐患”用例和一个“未发现”用例。")
    te.add_argument("ids", nargs="*", metavar="ID", help="只测试这些规则集（id 或 id@version）")
    te.add_argument("-v", "--verbose", action="store_true", help="列出每个判定项的覆盖情况")
    te.set_defaults(func=cmd_test)

    s = sub.add_parser("schemas", help="由数据模型生成 JSON Schema 文件（schemas/）",
                       description="生成规则集、检查表和判定结果的 JSON Schema；--check 只检查是否与模型一致。")
    s.add_argument("--check", action="store_true", help="只检查，不写入；不一致时退出状态为 1")
    s.add_argument("--out", metavar="DIR", help="输出目录（默认：schemas/）")
    s.set_defaults(func=cmd_schemas)
    return p


def main(argv: list[str] | None = None) -> int:
    from engine.compiler import CompileError
    from engine.problems import ValidationFailed

    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ValidationFailed as exc:
        print(f"错误：输入不合格，共 {len(exc.problems)} 个问题：", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_INPUT
    except (UsageError, CompileError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:
        print(f"错误：{exc.strerror or exc}：{exc.filename or ''}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - users get a message, not a traceback
        print(f"内部错误（请报告此问题）：{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
