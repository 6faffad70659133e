"""Load a ruleset YAML file into a validated ``Ruleset``; report every problem with file and line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.answers import check_answer
from engine.conditions import children, questions_of
from engine.model import (
    DEVICE_OK,
    All,
    Any_,
    Arith,
    AtLeast,
    Compare,
    Condition,
    CriterionKind,
    Not,
    Outcome,
    QRef,
    Question,
    QuestionType,
    Ruleset,
)
from engine.problems import Problem, ValidationFailed, pydantic_message
from engine.yaml_source import PathKey, SourceDoc, format_path, read_yaml

NUMERIC = (QuestionType.number, QuestionType.integer)
ORDERED = (QuestionType.number, QuestionType.integer, QuestionType.date)
CHOICE_LIKE = (QuestionType.choice, QuestionType.device)


def load_ruleset(path: Path) -> Ruleset:
    """Load and fully validate one ruleset file, or raise ``ValidationFailed`` with every problem."""
    ruleset, problems = check_ruleset_file(path)
    if problems or ruleset is None:
        raise ValidationFailed(problems)
    return ruleset


def check_ruleset_file(path: Path) -> tuple[Ruleset | None, list[Problem]]:
    """Validate one file; returns the ruleset (None when its structure is invalid) and all problems."""
    doc, problems = read_yaml(path)
    if doc is None:
        return None, problems
    if not isinstance(doc.data, dict):
        return None, problems + [Problem(doc.file, 1, "", "规则集文件的顶层必须是键值映射")]
    try:
        ruleset = Ruleset.model_validate(doc.data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = doc.data_path(tuple(err["loc"]))
            problems.append(Problem(doc.file, doc.line_of(loc), format_path(loc), pydantic_message(err)))
        return None, problems
    problems.extend(_Semantics(ruleset, doc).check())
    expected = path.stem
    if ruleset.version != expected:
        problems.append(Problem(doc.file, doc.line_of(("version",)), "version",
                                f"版本 {ruleset.version!r} 与文件名 {path.name} 不一致（应为 {expected!r}）"))
    if path.parent.name != ruleset.id:
        problems.append(Problem(doc.file, doc.line_of(("id",)), "id",
                                f"规则集编号 {ruleset.id!r} 与所在目录 {path.parent.name!r} 不一致"))
    return ruleset, problems


class _Semantics:
    """Cross-reference checks that the pydantic structure cannot express."""

    def __init__(self, rs: Ruleset, doc: SourceDoc):
        self.rs, self.doc = rs, doc
        self.problems: list[Problem] = []
        self.questions: dict[str, Question] = {}

    def err(self, path: PathKey, message: str) -> None:
        self.problems.append(Problem(self.doc.file, self.doc.line_of(path), format_path(path), message))

    def check(self) -> list[Problem]:
        rs = self.rs
        if rs.effective_until and rs.effective_until < rs.effective_from:
            self.err(("effective_until",), "失效日期早于生效日期")
        sections = self._unique("sections", [s.id for s in rs.sections], "章节编号")
        for i, q in enumerate(rs.questions):
            if q.id in self.questions:
                self.err(("questions", i, "id"), f"问题编号 {q.id!r} 重复")
            self.questions[q.id] = q
            if q.section not in sections:
                self.err(("questions", i, "section"), f"未定义的章节 {q.section!r}（可用：{'、'.join(sections)}）")
        crit_ids = self._unique("criteria", [c.id for c in rs.criteria], "判定项编号")
        used: set[str] = set()
        for i, c in enumerate(rs.criteria):
            base = ("criteria", i)
            if c.section not in sections:
                self.err(base + ("section",), f"未定义的章节 {c.section!r}")
            if c.applies_if is not None:
                self._condition(c.applies_if, base + ("applies_if",), used)
            self._condition(c.hazard_if, base + ("hazard_if",), used)
            if c.kind == CriterionKind.judgement and not any(
                self.questions.get(q) and self.questions[q].type == QuestionType.boolean
                for q in questions_of(c.hazard_if)
            ):
                self.err(base + ("hazard_if",), "判断类（judgement）判定项应以一个是/否问题记录检查人员的判断")
            if c.describe is not None:
                dq = self._question(c.describe, base + ("describe",), used)
                if dq is not None and dq.type != QuestionType.text:
                    self.err(base + ("describe",), f"describe 应引用文本（text）问题，{dq.id!r} 是 {dq.type.value}")
                if c.kind != CriterionKind.judgement:
                    self.err(base + ("describe",), "只有判断类（judgement）判定项可以设置 describe")
        for i, q in enumerate(rs.questions):
            if q.id not in used and not q.profile:
                self.err(("questions", i, "id"), f"问题 {q.id!r} 未被任何判定项使用")
        self._tests(crit_ids)
        return self.problems

    def _unique(self, key: str, ids: list[str], what: str) -> list[str]:
        seen: set[str] = set()
        for i, x in enumerate(ids):
            if x in seen:
                self.err((key, i, "id"), f"{what} {x!r} 重复")
            seen.add(x)
        return ids

    # ---------------------------------------------------------------- conditions

    def _condition(self, c: Condition, path: PathKey, used: set[str]) -> None:
        if isinstance(c, Compare):
            self._compare(c, path, used)
            return
        key = {All: "all", Any_: "any", Not: "not", AtLeast: "of"}[type(c)]
        if isinstance(c, AtLeast) and len(c.of) > 8:
            self.err(path + ("of",), "at_least 最多支持 8 个条件（组合展开后规则过多）")
        for i, child in enumerate(children(c)):
            self._condition(child, path + ((key,) if isinstance(c, Not) else (key, i)), used)

    def _question(self, qid: str, path: PathKey, used: set[str]) -> Question | None:
        q = self.questions.get(qid)
        if q is None:
            self.err(path, f"引用了不存在的问题 {qid!r}")
            return None
        used.add(qid)
        return q

    def _compare(self, c: Compare, path: PathKey, used: set[str]) -> None:
        q = self._question(c.q, path + ("q",), used)
        if q is None:
            return
        op, v, vpath = c.op, c.value, path + (c.op,)
        t = q.type
        name = f"问题 {q.id!r}（{t.value}）"
        allowed = {
            QuestionType.boolean: ("eq", "ne"),
            QuestionType.number: ("eq", "ne", "lt", "le", "gt", "ge", "between"),
            QuestionType.integer: ("eq", "ne", "lt", "le", "gt", "ge", "between", "in", "not_in"),
            QuestionType.date: ("eq", "ne", "lt", "le", "gt", "ge", "between"),
            QuestionType.choice: ("eq", "ne", "in", "not_in"),
            QuestionType.device: ("eq", "ne", "in", "not_in"),
            QuestionType.multi_choice: ("contains", "not_contains"),
            QuestionType.text: (),
        }[t]
        if op not in allowed:
            hint = "；文本问题不能用于判定条件" if t == QuestionType.text else f"（可用：{'、'.join(allowed)}）"
            self.err(vpath, f"{name}不能使用运算符 {op}{hint}")
            return
        if op in ("in", "not_in"):
            if not v:
                self.err(vpath, f"{op} 的取值列表不能为空")
            for i, x in enumerate(v):
                self._literal(q, x, vpath + (i,))
        elif op == "between":
            if len(v) != 2:
                self.err(vpath, "between 需要 [下限, 上限] 两个值")
            for i, x in enumerate(v):
                self._operand(q, x, vpath + (i,), used)
            if len(v) == 2 and not isinstance(v[0], (QRef, Arith)) and not isinstance(v[1], (QRef, Arith)):
                try:
                    if v[0] > v[1]:
                        self.err(vpath, "between 的下限大于上限")
                except TypeError:
                    pass
        elif op in ("contains", "not_contains"):
            self._literal(q, v, vpath)
        else:
            self._operand(q, v, vpath, used)
        if t == QuestionType.device:
            self._device_rule(q, op, v, vpath)

    def _device_rule(self, q: Question, op: str, v: Any, path: PathKey) -> None:
        """工贸 2023 第十四条: a fitted but failed device counts as missing; never single out 未设置."""
        if op in ("eq", "ne") and isinstance(v, str) and v != DEVICE_OK:
            self.err(path, f"设备类问题 {q.id!r} 只能与“{DEVICE_OK}”比较（用 ne: {DEVICE_OK} 表示未设置或者失效）："
                           "设置但失效或者无效的装置与未设置同样判定为隐患")
        if op in ("in", "not_in") and isinstance(v, list) and (("未设置" in v) != ("设置但失效" in v)):
            self.err(path, f"设备类问题 {q.id!r} 的取值列表必须同时包含或同时排除“未设置”和“设置但失效”")

    def _literal(self, q: Question, x: Any, path: PathKey) -> None:
        if isinstance(x, (QRef, Arith)):
            self.err(path, "此处只能使用字面值")
            return
        t = q.type
        if t == QuestionType.multi_choice:
            if x not in q.options:
                self.err(path, f"{x!r} 不是问题 {q.id!r} 的选项（可选：{'、'.join(q.options)}）")
            return
        _, message = check_answer(q, x)
        if message:
            self.err(path, f"与问题 {q.id!r} 的类型不匹配：{message}")

    def _operand(self, q: Question, x: Any, path: PathKey, used: set[str]) -> None:
        if isinstance(x, QRef):
            other = self._question(x.q, path + ("q",), used)
            if other is None:
                return
            compatible = (other.type == q.type) or (other.type in NUMERIC and q.type in NUMERIC)
            if not compatible:
                self.err(path, f"问题 {q.id!r}（{q.type.value}）不能与问题 {other.id!r}（{other.type.value}）比较")
            elif q.type in NUMERIC and (q.unit or "") != (other.unit or ""):
                self.err(path, f"单位不一致：{q.id!r} 为 {q.unit or '无'}，{other.id!r} 为 {other.unit or '无'}")
            return
        if isinstance(x, Arith):
            if q.type not in NUMERIC:
                self.err(path, f"算术表达式只能与数值问题比较，{q.id!r} 是 {q.type.value}")
                return
            for i, a in enumerate(x.args):
                apath = path + (x.op, i)
                if isinstance(a, QRef):
                    other = self._question(a.q, apath + ("q",), used)
                    if other is not None and other.type not in NUMERIC:
                        self.err(apath, f"算术表达式中的问题 {other.id!r} 不是数值类型")
                    if x.op == "div" and i == 1:
                        self.err(apath, "除数只能是非零常数（不能用问题的回答作除数）")
                elif isinstance(a, Arith):
                    if x.op == "div" and i == 1:
                        self.err(apath, "除数只能是非零常数")
                    self._operand(q, a, apath, used)
                elif isinstance(a, bool) or not isinstance(a, (int, float)):
                    self.err(apath, f"算术表达式中的常数应为数字，实际为 {a!r}")
                elif x.op == "div" and i == 1 and a == 0:
                    self.err(apath, "除数不能为零")
            return
        self._literal(q, x, path)

    # ---------------------------------------------------------------- tests

    def _tests(self, crit_ids: list[str]) -> None:
        known = set(crit_ids)
        covered: dict[str, set[Outcome]] = {c: set() for c in crit_ids}
        for i, t in enumerate(self.rs.tests):
            for qid, value in t.answers.items():
                q = self.questions.get(qid)
                if q is None:
                    self.err(("tests", i, "answers", qid), f"测试用例“{t.name}”回答了不存在的问题 {qid!r}")
                    continue
                if isinstance(value, dt.date) and q.type == QuestionType.date:
                    continue
                _, message = check_answer(q, value)
                if message:
                    self.err(("tests", i, "answers", qid), f"测试用例“{t.name}”中 {qid}：{message}")
            for cid, outcome in t.expect.items():
                if cid not in known:
                    self.err(("tests", i, "expect", cid), f"测试用例“{t.name}”引用了不存在的判定项 {cid!r}")
                else:
                    covered[cid].add(outcome)
        for i, c in enumerate(self.rs.criteria):
            lacking = [o.value for o in (Outcome.hazard, Outcome.clear) if o not in covered[c.id]]
            if lacking:
                self.err(("criteria", i, "id"),
                         f"判定项 {c.id}（{c.clause}）缺少预期结果为 {'、'.join(lacking)} 的测试用例")
