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
    dets = check_file(Path(args.checklist), None, args.as_of, Path(args.rulesets) if args.rulesets else None)
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
        cover = rs.coverage_ratio + ("（部分）" if rs.is_partial else "")
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
    print(f"覆盖：{rs.coverage_ratio} 项；问题 {len(rs.questions)} 个；测试用例 {len(rs.tests)} 个")
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
    from engine.manifest import FileCheck
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
    locks = FileCheck()
    present: set[str] = set()
    for path in paths:
        rs, problems = check_ruleset_file(path)
        notes: list = []
        if rs is not None and not problems:
            try:
                compile_ruleset(rs, ruleset_sha256(rs))
            except CompileError as exc:
                problems = [f"{path}: 无法编译：{exc}"]
        if rs is not None and not problems:
            present.add(rs.ref)
            problems, notes = _validate_logic_and_lock(path, rs, locks)
        if problems:
            bad += 1
            for problem in problems:
                print(problem)
            print(f"✗ {path}：{len(problems)} 个问题")
        else:
            assert rs is not None
            print(f"✓ {path}：{rs.ref}，{len(rs.criteria)} 个判定项，{len(rs.questions)} 个问题，{len(rs.tests)} 个测试用例")
        for note in notes:
            print(f"  {note}")
    for target in targets:  # a whole rulesets folder: locked versions must not disappear
        if Path(target).is_dir() and any(Path(target).glob("*/*.yaml")):
            for problem in locks.missing(Path(target), present):
                bad += 1
                print(problem)
    return 1 if bad else 0


def _default_dir() -> Path:
    from engine.catalog import default_rulesets_dir

    return default_rulesets_dir()


def _wanted_items(args: argparse.Namespace) -> list:
    """The catalog's versions named by ``args.ids`` (id or id@version), or all of them."""
    catalog = _catalog(args)
    wanted = set(args.ids or [])
    items = [x for x in catalog.items if not wanted or x.ruleset.id in wanted or x.ruleset.ref in wanted]
    if wanted and not items:
        raise UsageError(f"没有找到规则集：{', '.join(sorted(wanted))}")
    return items


def cmd_test(args: argparse.Namespace) -> int:
    from engine.ruleset_tests import run_tests
    from engine.service import shared_engine

    items = _wanted_items(args)
    ok = True
    results = []
    for x in items:
        report = run_tests(x.ruleset, shared_engine())
        results.append((x.ruleset, x.sha256, report))
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
    if args.junit:
        from engine.junit import write_junit

        write_junit(Path(args.junit), results)
        print(f"已写入 JUnit XML：{args.junit}", file=sys.stderr)
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


def _shown_path(path: Path) -> Path:
    """A path as the user would type it: relative to the working directory when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def cmd_diff(args: argparse.Namespace) -> int:
    from engine.ruleset_diff import diff_rulesets, render_diff
    from engine.ruleset_ref import RefError, looks_like_path, resolve

    catalog_cache: list = []

    def catalog():
        if not catalog_cache:
            catalog_cache.append(_catalog(args))
        return catalog_cache[0]

    if not 0 < args.similarity <= 1:
        raise UsageError(f"--similarity 应在 0 与 1 之间：{args.similarity}")
    sides = []
    for text in (args.old, args.new):
        try:
            sides.append(resolve(text, catalog))
        except RefError as exc:
            raise UsageError(str(exc)) from None
    old, new = sides
    origin = [f"{'文件' if looks_like_path(text) else '规则集目录'} {_shown_path(x.path)}"
              for x, text in zip(sides, (args.old, args.new))]
    diff = diff_rulesets(old.ruleset, new.ruleset, old_origin=origin[0], new_origin=origin[1],
                         min_similarity=args.similarity)
    fmt = args.format or _format_from_name(args.output) or "text"
    if fmt not in ("text", "md", "html"):
        raise UsageError(f"差异报告不支持格式 {fmt}：请用 text、md 或 html")
    _write(render_diff(diff, fmt), args.output)
    if args.output:
        print(f"比较结论：{diff.verdict}", file=sys.stderr)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from engine.replay import ReplayInputError, Replayer, collect_sources
    from engine.replay_report import render_text, replay_document
    from engine.service import shared_engine

    fmt = args.format or ("json" if _format_from_name(args.output) == "json" else "text")
    if not 0 < args.similarity <= 1:
        raise UsageError(f"--similarity 应在 0 与 1 之间：{args.similarity}")
    try:
        replayer = Replayer(_catalog(args), args.old, args.new, shared_engine(), args.similarity)
        result = replayer.run(collect_sources(args.checklists))
    except ReplayInputError as exc:
        raise UsageError(str(exc)) from None
    if fmt == "json":
        text = json.dumps(replay_document(result), ensure_ascii=False, indent=2)
    else:
        text = render_text(result)
    _write(text, args.output)
    if args.output:
        changed = sum(bool(c.changes) for c in result.checklists)
        print(f"回放 {len(result.checklists)} 份检查表，{changed} 份有判定变化，跳过 {len(result.skipped)} 份",
              file=sys.stderr)
    return 0


def _validate_logic_and_lock(path: Path, rs, locks) -> tuple[list, list[str]]:
    """validate, after the structure is valid: the manifest lock and the static logic checks.
    Returns (errors, notes to print)."""
    from engine.hashing import ruleset_sha256
    from engine.static_checks import file_problems

    errors, warnings = file_problems(rs, path)
    lock_error, lock_note = locks.check(path, rs.ref, ruleset_sha256(rs))
    if lock_error:
        errors.insert(0, lock_error)
    notes = [f"警告：{w}" for w in warnings] + ([f"注意：{lock_note}"] if lock_note else [])
    return errors, notes


def cmd_lock(args: argparse.Namespace) -> int:
    from engine.catalog import load_items, period_problems
    from engine.manifest import IMMUTABLE, ManifestError, manifest_path, plan, write
    from engine.problems import ValidationFailed

    root = Path(args.rulesets) if args.rulesets else _default_dir()
    if not root.is_dir():
        raise UsageError(f"规则集目录不存在：{root}")
    items, problems = load_items(root)
    problems.extend(period_problems(items))
    if problems:
        raise ValidationFailed(problems)
    if not items:
        raise UsageError(f"{root} 中没有规则集文件（<id>/<version>.yaml）")
    try:
        todo = plan(root, items)
    except ManifestError as exc:
        raise UsageError(f"{exc}（请修复或删除 {manifest_path(root)} 后重新锁定）") from None
    if todo.refused and not args.force:
        for old, new in todo.changed:
            print(f"✗ 拒绝：{old.ref}（{new.file}）已锁定，记录的 sha256 为 {old.sha256}，当前为 {new.sha256}",
                  file=sys.stderr)
        for old in todo.removed:
            print(f"✗ 拒绝：已锁定的 {old.ref} 的文件 {old.file} 不存在或无法加载", file=sys.stderr)
        print(f"{IMMUTABLE}：过去的判定结果记录了这些版本的内容哈希，改动后将无法复现。"
              "请把修改发布为新版本文件（新的 version，并设置施行日期），原版本保持不变。"
              "确属尚未用于任何判定的更正时，可用 --force 重新锁定。未写入任何内容。", file=sys.stderr)
        return 1
    for e in todo.added:
        print(f"新锁定 {e.ref}  {e.sha256}  {e.file}")
    for old, new in todo.changed:
        print(f"强制更新 {new.ref}  {old.sha256} → {new.sha256}  {new.file}")
    for old in todo.removed:
        print(f"强制移除 {old.ref}  {old.sha256}  {old.file}")
    if args.verbose:
        for e in todo.unchanged:
            print(f"未变 {e.ref}  {e.sha256}  {e.file}")
    changed = write(root, todo.entries())
    print(f"{'已写入' if changed else '无变化：'} {manifest_path(root)}（已锁定 {len(todo.entries())} 个版本）")
    return 0


def cmd_coverage(args: argparse.Namespace) -> int:
    from engine.coverage import coverage, text_report
    from engine.service import shared_engine

    items = _wanted_items(args)
    reports = [coverage(x.ruleset, shared_engine()) for x in items]
    if args.format == "json":
        print(json.dumps([r.as_json() for r in reports], ensure_ascii=False, indent=2))
    else:
        for r in reports:
            print("\n".join(text_report(r)))
    return 0 if all(r.ok for r in reports) else 1


# ---------------------------------------------------------------- serve


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from engine.web.app import create_app
    except ImportError as exc:
        raise UsageError(f"缺少网页服务所需的软件包（{exc.name}）：请运行 pip install -e . 重新安装") from None
    app = create_app(Path(args.rulesets) if args.rulesets else None)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Hazard Engine 网页已启动：http://{shown}:{args.port}/  （API 文档：/docs；按 Ctrl+C 停止）", file=sys.stderr)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("注意：网页没有登录验证，任何能访问此地址的人都能提交检查表；请只在可信的网络中使用。", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, server_header=False)
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
    te.add_argument("--junit", metavar="FILE",
                    help="另写 JUnit XML 报告（每个规则集版本一个 testsuite，每个测试用例一个 testcase），供 CI 读取")
    te.set_defaults(func=cmd_test)

    di = rsub.add_parser("diff", help="比较两个规则集版本的差异（判定项、判定逻辑、问题）",
                         description="比较两个规则集版本：标识信息，新增、删除和修改的判定项（条文逐字对照、"
                                     "判定逻辑与适用条件的修改、连接词“且/或”和阈值的改变），以及问题的增删改。"
                                     "OLD、NEW 为 id@version（如 industry-trade@2017），或规则集 YAML 文件路径"
                                     "（可比较未发布的草案）。编号不同的判定项按条文相似度配对。")
    di.add_argument("old", metavar="OLD", help="旧版：id@version 或 YAML 文件路径")
    di.add_argument("new", metavar="NEW", help="新版：id@version 或 YAML 文件路径")
    di.add_argument("--format", "-f", choices=["text", "md", "html"],
                    help="输出格式：text 终端文本（默认）、md Markdown、html 可打印网页")
    di.add_argument("-o", "--output", metavar="FILE", help="写入文件（按扩展名推断格式）；默认输出到屏幕")
    di.add_argument("--similarity", type=float, default=0.5, metavar="RATIO",
                    help="编号不同的判定项按条文相似度配对的最低相似度（0–1，默认 0.5）")
    di.set_defaults(func=cmd_diff)

    rp = rsub.add_parser("replay", help="影响回放：用新旧两个版本判定以往的检查表，列出每项判定变化",
                         description="影响回放：把检查表（文件、目录中的全部 *.json / *.jsonl，或每行一份的 JSONL）"
                                     "分别按 OLD 和 NEW 两个版本（id@version）判定，逐项列出变化：判定结论的改变、"
                                     "新增隐患、不再成立的隐患、因新版本新增问题而无法判定的项目，以及新版本需要而"
                                     "旧检查表从未询问的问题。编号不同的判定项按条文相似度配对（与 rulesets diff 相同）。"
                                     "结构不合格的检查表列为跳过，不中断回放。退出状态：0 完成（有变化不算错误），2 输入错误。")
    rp.add_argument("old", metavar="OLD", help="旧版本 id@version，如 industry-trade@2017")
    rp.add_argument("new", metavar="NEW", help="新版本 id@version，如 industry-trade@2023")
    rp.add_argument("checklists", nargs="+", metavar="CHECKLISTS", help="检查表文件、目录或 JSONL 文件（可多个）")
    rp.add_argument("--format", "-f", choices=["text", "json"], help="输出格式：text 中文文本（默认）、json 数据")
    rp.add_argument("-o", "--output", metavar="FILE", help="写入文件（.json 按 JSON 输出）；默认输出到屏幕")
    rp.add_argument("--similarity", type=float, default=0.5, metavar="RATIO",
                    help="编号不同的判定项按条文相似度配对的最低相似度（0–1，默认 0.5）")
    rp.set_defaults(func=cmd_replay)

    lk = rsub.add_parser("lock", help="锁定已发布版本：把每个版本的内容哈希写入 rulesets/MANIFEST.json",
                         description="为规则集目录中的每个版本记录 id、版本、标准名称、文号、施行期间、内容哈希（sha256）"
                                     "和文件路径，写入 MANIFEST.json。已锁定版本的内容不可再改：校验和每条命令都会拒绝"
                                     "哈希不符的已锁定版本。lock 不会改动已锁定版本的记录，除非使用 --force。")
    lk.add_argument("--force", action="store_true",
                    help="允许改写已锁定版本的哈希或移除已删除的版本（仅用于尚未用于任何判定的更正）")
    lk.add_argument("-v", "--verbose", action="store_true", help="同时列出未变化的版本")
    lk.set_defaults(func=cmd_lock)
    co = rsub.add_parser("coverage", help="覆盖率：标准条目、判定项的隐患/未发现用例、比较条件、未使用的问题",
                         description="对每个规则集版本报告：标准条目数与已编码、未编码的判定项；有通过的隐患用例和"
                                     "未发现用例的判定项；测试中从未为真或从未为假的比较条件（警告）；未被任何判定项使用的"
                                     "问题。退出状态：有判定项缺少隐患或未发现用例（或测试失败）时为 1。")
    co.add_argument("ids", nargs="*", metavar="ID", help="只统计这些规则集（id 或 id@version）")
    co.add_argument("--format", "-f", choices=["text", "json"], default="text", help="text 中文文本（默认）或 json")
    co.set_defaults(func=cmd_coverage)

    sv = sub.add_parser("serve", help="启动网页（填写检查表、查看判定结果）和 HTTP API",
                        description="在本机启动网页应用和 JSON HTTP API：在浏览器中选择判定标准、填写检查表、查看和打印判定结果；"
                                    "API 位于 /api/v1，文档位于 /docs。所有页面资源均由本程序提供，不访问外部网络。")
    sv.add_argument("--host", default="127.0.0.1", help="监听地址（默认 127.0.0.1，仅本机可访问）")
    sv.add_argument("--port", type=int, default=8000, help="端口（默认 8000）")
    sv.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                    help="日志级别（默认 info）")
    sv.set_defaults(func=cmd_serve)

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
