"""The case snapshot (v1): the state of one case on one date, and the facts policies read from it."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from cspolicy.diagnostics import Code, Location, Problem, SnapshotError
from cspolicy.expressions.types import FieldSpec, Type

EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2200, 1, 1)
NO_PAYMENT_DAYS = 99_999  # `payments.days_since_last` when no payment was ever received


def _money(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("amount must be a finite number")
    if value < 0:
        raise ValueError("amount cannot be negative")
    if value >= Decimal("1e12"):
        raise ValueError("amount is implausibly large (at least $1,000,000,000,000)")
    return value


def _plausible_date(value: dt.date) -> dt.date:
    if value < EARLIEST_DATE or value >= LATEST_DATE:
        raise ValueError(f"date must be between {EARLIEST_DATE} and {LATEST_DATE}")
    return value


Money = Annotated[Decimal, AfterValidator(_money)]
Day = Annotated[dt.date, AfterValidator(_plausible_date)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Jurisdiction(_Part):
    state: str = Field(pattern=r"^[A-Z]{2}$")
    county: str | None = None


class Order(_Part):
    established_on: Day
    monthly_amount: Money
    income_withholding_active: bool = False


class Arrears(_Part):
    family_owed: Money = Decimal("0")
    state_owed: Money = Decimal("0")
    state_owed_pre_1996: Money = Decimal("0")


class Payment(_Part):
    date: Day
    amount: Money
    applied_to: Literal["current", "family_arrears", "state_arrears"] = "current"
    source: Literal["withholding", "voluntary", "intercept"] = "voluntary"


class License(_Part):
    type: Literal["driver", "professional", "recreational"]
    status: Literal["active", "suspended", "none"]


class Programs(_Part):
    employment_training: Literal["none", "referred", "enrolled"] = "none"
    payment_plan: Literal["none", "active", "defaulted"] = "none"


class Warrant(_Part):
    issued_on: Day
    status: Literal["active", "cleared"]


class PayingParent(_Part):
    employment: Literal["employed", "unemployed", "underemployed", "unknown"] = "unknown"
    employer_known: bool = False
    address_known: bool = False
    incarcerated: bool = False
    incarcerated_since: Day | None = None
    expected_release: Day | None = None
    military_active_duty: bool = False
    licenses: list[License] = Field(default_factory=list)
    programs: Programs = Field(default_factory=Programs)
    warrants: list[Warrant] = Field(default_factory=list)


class ReceivingParent(_Part):
    family_violence_indicator: bool = False


class EnforcementEntry(_Part):
    action: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    date: Day
    status: Literal["pending", "sent", "completed", "cancelled"] = "sent"


class CaseSnapshot(_Part):
    """The state of one case on one date (snapshot v1 of DESIGN.md). Unknown fields are errors."""

    case_id: str = Field(min_length=1, max_length=64)
    as_of: Day
    jurisdiction: Jurisdiction
    order: Order
    arrears: Arrears = Field(default_factory=Arrears)
    payments: list[Payment] = Field(default_factory=list)
    public_assistance: Literal["current", "former", "never"] = "never"
    paying_parent: PayingParent = Field(default_factory=PayingParent)
    receiving_parent: ReceivingParent = Field(default_factory=ReceivingParent)
    enforcement: list[EnforcementEntry] = Field(default_factory=list)

    @classmethod
    def parse(cls, data: Any, *, source: str = "<snapshot>") -> CaseSnapshot:
        """Validate `data` (a dict), turning every invalid field into a located SnapshotError."""
        if isinstance(data, CaseSnapshot):
            return data
        if not isinstance(data, dict):
            raise SnapshotError(
                [Problem(Code.SNAPSHOT_INVALID, "a snapshot must be a mapping", Location(source))]
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SnapshotError(snapshot_problems(exc, source)) from None

    @classmethod
    def from_file(cls, path: str | Path) -> CaseSnapshot:
        """Load a snapshot from a YAML or JSON file."""
        return load_snapshot_file(Path(path))

    def facts(self) -> dict[str, Any]:
        """Every fact policies may read, by dotted path (derived facts included)."""
        return snapshot_facts(self)


def snapshot_problems(exc: ValidationError, source: str) -> list[Problem]:
    """One located problem per invalid field of a snapshot."""
    problems = []
    for error in exc.errors():
        # A key that is empty or not a plain name (from a hostile file) is shown quoted.
        path = ".".join(
            str(part) if isinstance(part, int) or str(part).isidentifier() else repr(part)
            for part in error["loc"]
        )
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "missing":
            message = "required field is missing"
        value = error.get("input")
        shown = "" if error["type"] in ("missing",) or isinstance(value, dict) else f" (got {value!r})"
        problems.append(Problem(Code.SNAPSHOT_INVALID, f"{path}: {message}{shown}", Location(source)))
    return problems


def load_snapshot_file(path: Path) -> CaseSnapshot:
    """Read one snapshot from YAML or JSON, with the file named in every error."""
    from cspolicy.source.yamlsource import YamlProblem, load_yaml_file

    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        except FileNotFoundError:
            raise SnapshotError([Problem(Code.FILE_NOT_FOUND, "no such file", Location(str(path)))]) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SnapshotError(
                [Problem(Code.SNAPSHOT_INVALID, f"invalid JSON: {exc}", Location(str(path)))]
            ) from None
        except (OSError, ValueError) as exc:  # after JSON errors, which are ValueErrors too
            # A directory, no permission, a NUL byte in the path.
            raise SnapshotError(
                [
                    Problem(
                        Code.FILE_NOT_FOUND,
                        f"cannot read file: {exc}",
                        Location(str(path).replace("\0", "\\0")),
                    )
                ]
            ) from None
    else:
        try:
            data, _, problems = load_yaml_file(path)
        except YamlProblem as exc:
            raise SnapshotError([exc.problem]) from None
        if problems:
            raise SnapshotError(problems)
    return CaseSnapshot.parse(data, source=str(path))


def snapshot_facts(snapshot: CaseSnapshot) -> dict[str, Any]:
    """Flatten a snapshot into dotted-path facts and add the derived ones."""
    as_of = snapshot.as_of
    facts: dict[str, Any] = {
        "case_id": snapshot.case_id,
        "as_of": as_of,
        "jurisdiction.state": snapshot.jurisdiction.state,
        "jurisdiction.county": snapshot.jurisdiction.county,
        "order.established_on": snapshot.order.established_on,
        "order.monthly_amount": snapshot.order.monthly_amount,
        "order.income_withholding_active": snapshot.order.income_withholding_active,
        "arrears.family_owed": snapshot.arrears.family_owed,
        "arrears.state_owed": snapshot.arrears.state_owed,
        "arrears.state_owed_pre_1996": snapshot.arrears.state_owed_pre_1996,
        "arrears.total": snapshot.arrears.family_owed + snapshot.arrears.state_owed,
        "public_assistance": snapshot.public_assistance,
        "receiving_parent.family_violence_indicator": (snapshot.receiving_parent.family_violence_indicator),
    }
    parent = snapshot.paying_parent
    facts.update(
        {
            "paying_parent.employment": parent.employment,
            "paying_parent.employer_known": parent.employer_known,
            "paying_parent.address_known": parent.address_known,
            "paying_parent.incarcerated": parent.incarcerated,
            "paying_parent.incarcerated_since": parent.incarcerated_since,
            "paying_parent.expected_release": parent.expected_release,
            "paying_parent.military_active_duty": parent.military_active_duty,
            "paying_parent.programs.employment_training": parent.programs.employment_training,
            "paying_parent.programs.payment_plan": parent.programs.payment_plan,
            "paying_parent.licenses": [item.model_dump() for item in parent.licenses],
            "paying_parent.warrants": [item.model_dump() for item in parent.warrants],
            "enforcement": [item.model_dump() for item in snapshot.enforcement],
            "payments": [item.model_dump() for item in snapshot.payments],
        }
    )
    received = [p for p in snapshot.payments if p.date <= as_of]
    last = max((p.date for p in received), default=None)
    facts["payments.last_date"] = last
    facts["arrears.delinquent_since"] = delinquent_since(facts["arrears.total"], last, snapshot.order)
    facts["payments.days_since_last"] = (as_of - last).days if last else NO_PAYMENT_DAYS
    facts["payments.to_family_arrears_in_period"] = sum(
        (
            p.amount
            for p in received
            if p.applied_to == "family_arrears" and (p.date.year, p.date.month) == (as_of.year, as_of.month)
        ),
        Decimal("0"),
    )
    return facts


def delinquent_since(total: Decimal, last_payment: dt.date | None, order: Order) -> dt.date | None:
    """The first day of the current run without payment, while past-due support is owed.

    The day after the last payment (the order date when none was ever received); None when
    nothing is past due. It is the trigger of the 45 CFR 303.6 clock: a delinquency cannot have
    been identified before it. A later partial payment restarts it.
    """
    if total <= 0:
        return None
    if last_payment is None:
        return order.established_on
    return max(last_payment + dt.timedelta(days=1), order.established_on)


def _spec(path: str, type_: Type, label: str, description: str = "", **extra: Any) -> FieldSpec:
    return FieldSpec(path=path, type=type_, label=label, description=description, **extra)


_LICENSE_ITEMS = {
    "type": _spec("type", Type.STRING, "license type", choices=("driver", "professional", "recreational")),
    "status": _spec("status", Type.STRING, "license status", choices=("active", "suspended", "none")),
}
_WARRANT_ITEMS = {
    "issued_on": _spec("issued_on", Type.DATE, "date the warrant was issued"),
    "status": _spec("status", Type.STRING, "warrant status", choices=("active", "cleared")),
}
_ENFORCEMENT_ITEMS = {
    "action": _spec("action", Type.STRING, "action taken"),
    "date": _spec("date", Type.DATE, "date of the action"),
    "status": _spec(
        "status",
        Type.STRING,
        "status of the action",
        choices=("pending", "sent", "completed", "cancelled"),
    ),
}
_PAYMENT_ITEMS = {
    "date": _spec("date", Type.DATE, "payment date"),
    "amount": _spec("amount", Type.MONEY, "payment amount"),
    "applied_to": _spec(
        "applied_to",
        Type.STRING,
        "what the payment paid",
        choices=("current", "family_arrears", "state_arrears"),
    ),
    "source": _spec(
        "source",
        Type.STRING,
        "where the payment came from",
        choices=("withholding", "voluntary", "intercept"),
    ),
}

FIELDS: dict[str, FieldSpec] = {
    spec.path: spec
    for spec in [
        _spec("case_id", Type.STRING, "the case number"),
        _spec("as_of", Type.DATE, "the snapshot date"),
        _spec("jurisdiction.state", Type.STRING, "the state"),
        _spec("jurisdiction.county", Type.STRING, "the county", optional=True),
        _spec("order.established_on", Type.DATE, "the date of the support order"),
        _spec("order.monthly_amount", Type.MONEY, "the monthly support amount"),
        _spec("order.income_withholding_active", Type.BOOL, "income withholding is in effect"),
        _spec("arrears.family_owed", Type.MONEY, "the past-due support owed to the family"),
        _spec("arrears.state_owed", Type.MONEY, "the past-due support owed to the state"),
        _spec("arrears.state_owed_pre_1996", Type.MONEY, "the state-owed debt from before 1996"),
        _spec("arrears.total", Type.MONEY, "past-due support"),
        _spec(
            "arrears.delinquent_since",
            Type.DATE,
            "the start of the current delinquency",
            "The day after the last payment (the order date when none) while support is past due",
            optional=True,
        ),
        _spec("payments", Type.LIST, "payments", items=_PAYMENT_ITEMS),
        _spec("payments.last_date", Type.DATE, "the date of the last payment", optional=True),
        _spec("payments.days_since_last", Type.INTEGER, "the days since the last payment", unit="days"),
        _spec(
            "payments.to_family_arrears_in_period",
            Type.MONEY,
            "paid toward the family's past-due support this month",
        ),
        _spec(
            "public_assistance",
            Type.STRING,
            "the public assistance status",
            choices=("current", "former", "never"),
        ),
        _spec(
            "paying_parent.employment",
            Type.STRING,
            "the paying parent's employment",
            choices=("employed", "unemployed", "underemployed", "unknown"),
        ),
        _spec("paying_parent.employer_known", Type.BOOL, "the employer is known"),
        _spec("paying_parent.address_known", Type.BOOL, "the paying parent's address is known"),
        _spec("paying_parent.incarcerated", Type.BOOL, "the paying parent is incarcerated"),
        _spec("paying_parent.incarcerated_since", Type.DATE, "the date of incarceration", optional=True),
        _spec("paying_parent.expected_release", Type.DATE, "the expected release date", optional=True),
        _spec(
            "paying_parent.military_active_duty",
            Type.BOOL,
            "the paying parent is on active military duty",
        ),
        _spec(
            "paying_parent.licenses",
            Type.LIST,
            "the paying parent's licenses",
            items=_LICENSE_ITEMS,
        ),
        _spec(
            "paying_parent.programs.employment_training",
            Type.STRING,
            "the employment and training status",
            choices=("none", "referred", "enrolled"),
        ),
        _spec(
            "paying_parent.programs.payment_plan",
            Type.STRING,
            "the payment plan status",
            choices=("none", "active", "defaulted"),
        ),
        _spec("paying_parent.warrants", Type.LIST, "warrants", items=_WARRANT_ITEMS),
        _spec(
            "receiving_parent.family_violence_indicator",
            Type.BOOL,
            "the family violence indicator is set",
        ),
        _spec("enforcement", Type.LIST, "enforcement history", items=_ENFORCEMENT_ITEMS),
    ]
}
