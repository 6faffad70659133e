"""Pydantic models of a ruleset: the contract between YAML files, the compiler and the reports."""

from __future__ import annotations

import datetime as dt
import re
from enum import Enum
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag, field_validator, model_validator

QUESTION_ID = r"^[a-z][a-z0-9_]*$"
RULESET_ID = r"^[a-z][a-z0-9-]*$"
DEVICE_CHOICES = ("未设置", "设置但失效", "正常")
DEVICE_OK = "正常"


class Strict(BaseModel):
    """Base for every contract model: unknown keys are errors, nothing is silently dropped."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# ---------------------------------------------------------------- operands and conditions


class QRef(Strict):
    """A reference to another question's answer, used as the right-hand side of a comparison."""

    q: str


class Arith(Strict):
    """Simple arithmetic of questions and literals, e.g. ``{mul: [{q: capacity}, 1.1]}``."""

    add: list[Operand] | None = None
    sub: list[Operand] | None = None
    mul: list[Operand] | None = None
    div: list[Operand] | None = None

    @model_validator(mode="after")
    def _one_op(self) -> Arith:
        ops = [k for k in ("add", "sub", "mul", "div") if getattr(self, k) is not None]
        if len(ops) != 1:
            raise ValueError("算术表达式必须且只能有一个运算：add、sub、mul 或 div")
        args = getattr(self, ops[0])
        if len(args) < 2 or (ops[0] in ("sub", "div") and len(args) != 2):
            raise ValueError(f"{ops[0]} 需要{'恰好两个' if ops[0] in ('sub', 'div') else '至少两个'}运算数")
        return self

    @property
    def op(self) -> str:
        return next(k for k in ("add", "sub", "mul", "div") if getattr(self, k) is not None)

    @property
    def args(self) -> list[Operand]:
        return getattr(self, self.op)


Literal_ = Union[bool, int, float, str, dt.date]


def _operand_tag(v: Any) -> str:
    if isinstance(v, dict):
        return "qref" if "q" in v else "arith"
    if isinstance(v, BaseModel):
        return "qref" if isinstance(v, QRef) else "arith"
    return "literal"


Operand = Annotated[
    Union[
        Annotated[QRef, Tag("qref")],
        Annotated[Arith, Tag("arith")],
        Annotated[Literal_, Tag("literal")],
    ],
    Discriminator(_operand_tag),
]

COMPARE_OPS = ("eq", "ne", "lt", "le", "gt", "ge", "between", "in", "not_in", "contains", "not_contains")


class Compare(Strict):
    """``{q: QUESTION, OP: VALUE}``: one comparison of a question's answer."""

    q: str
    eq: Operand | None = None
    ne: Operand | None = None
    lt: Operand | None = None
    le: Operand | None = None
    gt: Operand | None = None
    ge: Operand | None = None
    between: list[Operand] | None = None
    in_: list[Literal_] | None = Field(default=None, alias="in")
    not_in: list[Literal_] | None = None
    contains: Literal_ | None = None
    not_contains: Literal_ | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_op(cls, data: Any) -> Any:
        if isinstance(data, dict):
            ops = [k for k in data if k in COMPARE_OPS]
            if len(ops) != 1:
                found = "、".join(ops) if ops else "无"
                raise ValueError(f"比较条件必须且只能有一个运算符（{'/'.join(COMPARE_OPS)}），实际：{found}")
        return data

    @property
    def op(self) -> str:
        for k in COMPARE_OPS:
            if getattr(self, "in_" if k == "in" else k) is not None:
                return k
        raise AssertionError("validated Compare without operator")

    @property
    def value(self) -> Any:
        return getattr(self, "in_" if self.op == "in" else self.op)


class All(Strict):
    all: list[Condition] = Field(min_length=1)


class Any_(Strict):
    any: list[Condition] = Field(min_length=1)


class Not(Strict):
    not_: Condition = Field(alias="not")


class AtLeast(Strict):
    at_least: int = Field(ge=1)
    of: list[Condition] = Field(min_length=1)

    @model_validator(mode="after")
    def _n_le_k(self) -> AtLeast:
        if self.at_least > len(self.of):
            raise ValueError(f"at_least {self.at_least} 大于所列条件数 {len(self.of)}")
        return self


_COND_KEYS = {"all": "all", "any": "any", "not": "not", "at_least": "at_least", "q": "compare"}


def _condition_tag(v: Any) -> str | None:
    if isinstance(v, dict):
        for key, tag in _COND_KEYS.items():
            if key in v:
                return tag
        return None
    return {All: "all", Any_: "any", Not: "not", AtLeast: "at_least", Compare: "compare"}.get(type(v))


Condition = Annotated[
    Union[
        Annotated[All, Tag("all")],
        Annotated[Any_, Tag("any")],
        Annotated[Not, Tag("not")],
        Annotated[AtLeast, Tag("at_least")],
        Annotated[Compare, Tag("compare")],
    ],
    Discriminator(
        _condition_tag,
        custom_error_type="condition_shape",
        custom_error_message="条件必须是 all / any / not / at_least 之一，或带 q 的比较 {q: 问题, 运算符: 值}",
    ),
]

Arith.model_rebuild()
Compare.model_rebuild()
All.model_rebuild()
Any_.model_rebuild()
Not.model_rebuild()
AtLeast.model_rebuild()


# ---------------------------------------------------------------- questions, criteria, tests


class QuestionType(str, Enum):
    boolean = "boolean"
    number = "number"
    integer = "integer"
    choice = "choice"
    multi_choice = "multi_choice"
    date = "date"
    text = "text"
    device = "device"


class Question(Strict):
    """One atomic observation an inspector answers."""

    id: Annotated[str, Field(pattern=QUESTION_ID)]
    section: str
    text: str = Field(min_length=1)
    type: QuestionType
    profile: bool = False
    unit: str | None = None
    choices: list[str] | None = None
    min: float | None = None
    max: float | None = None
    help: str | None = None

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v in ("id", "sid"):
            raise ValueError(f"问题编号不能使用保留字 {v!r}")
        return v

    @model_validator(mode="after")
    def _type_keys(self) -> Question:
        t = self.type
        if t in (QuestionType.choice, QuestionType.multi_choice):
            if not self.choices:
                raise ValueError(f"{t.value} 类型的问题必须给出 choices")
            if len(set(self.choices)) != len(self.choices):
                raise ValueError("choices 中有重复选项")
        elif self.choices is not None:
            raise ValueError(f"{t.value} 类型的问题不能有 choices（设备类问题的选项固定为 未设置/设置但失效/正常）")
        if t == QuestionType.number and not self.unit:
            raise ValueError("number 类型的问题必须给出计量单位 unit")
        if t not in (QuestionType.number, QuestionType.integer):
            for key in ("unit", "min", "max"):
                if getattr(self, key) is not None:
                    raise ValueError(f"{t.value} 类型的问题不能有 {key}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min 大于 max")
        return self

    @property
    def options(self) -> tuple[str, ...]:
        """Allowed answers for choice-like questions."""
        if self.type == QuestionType.device:
            return DEVICE_CHOICES
        return tuple(self.choices or ())


class CriterionKind(str, Enum):
    automatic = "automatic"
    judgement = "judgement"


class Criterion(Strict):
    """One numbered item of the standard."""

    id: Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z.\-]*$")]
    clause: str = Field(min_length=1)
    section: str
    text: str = Field(min_length=1)
    applies_if: Condition | None = None
    hazard_if: Condition
    kind: CriterionKind = CriterionKind.automatic
    describe: str | None = Field(
        None, description="judgement criteria: a text question where the inspector describes the situation; "
                          "a hazard without this description stays incomplete")
    guidance: str = Field(min_length=1)
    notes: str | None = None


class Outcome(str, Enum):
    hazard = "hazard"
    clear = "clear"
    not_applicable = "not_applicable"
    incomplete = "incomplete"
    judgement = "judgement"


class RulesetTest(Strict):
    """An embedded example: answers and the expected outcome of some criteria."""

    name: str = Field(min_length=1)
    answers: dict[str, Any] = Field(default_factory=dict)
    expect: dict[str, Outcome] = Field(min_length=1)


class Section(Strict):
    id: Annotated[str, Field(pattern=QUESTION_ID)]
    title: str


class NotEncoded(Strict):
    item: str
    reason: str
    count: int = Field(1, ge=1, description="how many of the standard's items this entry stands for")


class Coverage(Strict):
    items_total: int | None = Field(
        None, ge=1, description="how many items the standard lists; null when the official count is unknown")
    not_encoded: list[NotEncoded] = Field(default_factory=list)


class Warning_(Strict):
    from_: dt.date = Field(alias="from")
    text: str


class Ruleset(Strict):
    """One version of one determination standard."""

    format: Literal[1]
    id: Annotated[str, Field(pattern=RULESET_ID)]
    version: Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z.\-]*$")]
    title: str
    document: str
    issuer: str
    issued: dt.date | None = None
    effective_from: dt.date
    effective_until: dt.date | None = None
    supersedes: str | None = None
    scope: str
    source: str
    coverage: Coverage
    warnings: list[Warning_] = Field(default_factory=list)
    sections: list[Section] = Field(min_length=1)
    questions: list[Question] = Field(min_length=1)
    criteria: list[Criterion] = Field(min_length=1)
    tests: list[RulesetTest] = Field(min_length=1)
    _qcache: dict[str, Question] | None = PrivateAttr(default=None)
    _sha256: str | None = PrivateAttr(default=None)

    @field_validator("supersedes")
    @classmethod
    def _ref(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[a-z][a-z0-9-]*@[0-9A-Za-z.\-]+", v):
            raise ValueError("supersedes 应写作 <规则集编号>@<版本>，如 industry-trade@2017")
        return v

    @model_validator(mode="after")
    def _date_literals(self) -> Ruleset:
        """Quoted dates ("2021-01-01") compared with a date question become dates, like unquoted YAML dates."""
        dates = {q.id for q in self.questions if q.type == QuestionType.date}
        if not dates:
            return self

        def fix(v: Any) -> Any:
            if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
                try:
                    return dt.date.fromisoformat(v)
                except ValueError:
                    return v
            if isinstance(v, list):
                return [fix(x) for x in v]
            return v

        def walk(c: Any) -> None:
            if isinstance(c, Compare):
                if c.q in dates:
                    field = "in_" if c.op == "in" else c.op
                    setattr(c, field, fix(getattr(c, field)))
                return
            for child in (c.all if isinstance(c, All) else c.any if isinstance(c, Any_) else
                          [c.not_] if isinstance(c, Not) else c.of if isinstance(c, AtLeast) else []):
                walk(child)

        for crit in self.criteria:
            for cond in (crit.applies_if, crit.hazard_if):
                if cond is not None:
                    walk(cond)
        return self

    # -------- convenience lookups (not part of the serialised contract)

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def question(self, qid: str) -> Question:
        return self._questions()[qid]

    def _questions(self) -> dict[str, Question]:
        private = self.__pydantic_private__  # direct access: pydantic's __getattr__ is slow on hot paths
        cache = private.get("_qcache")
        if cache is None:
            cache = private["_qcache"] = {q.id: q for q in self.questions}
        return cache

    @property
    def question_map(self) -> dict[str, Question]:
        return self._questions()

    @property
    def encoded_items(self) -> int:
        return len(self.criteria)

    @property
    def is_partial(self) -> bool:
        total = self.coverage.items_total
        return bool(self.coverage.not_encoded) or total is None or len(self.criteria) < total

    @property
    def coverage_ratio(self) -> str:
        """"N/M" encoded of the standard's items ("N/?" when the standard's count is unknown)."""
        return f"{len(self.criteria)}/{self.coverage.items_total or '?'}"

    @property
    def coverage_statement(self) -> str:
        """The sentence every determination and report of a partial ruleset carries."""
        if self.coverage.items_total is None:
            return f"本规则集仅覆盖该标准的部分条目（已收录 {len(self.criteria)} 项，标准总项数未知）"
        return f"本规则集仅覆盖该标准的 {self.coverage_ratio} 项"

    def in_force(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_until is None or day <= self.effective_until)
