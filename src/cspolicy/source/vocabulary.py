"""The snapshot vocabulary: the values a case snapshot's text fields may take, declared once.

Policies compare snapshot fields with these words (`employment == "employed"`), so the loader's
checker, the snapshot model, the caseload columns, the case monitor's events and the synthetic
caseloads all read them from here. Each is a `Literal` type (for the pydantic models) and a tuple
of its values in the same order (for everything else). Kept in `source`, the lowest layer that
needs one of them (the expression closures read `TAKEN_STATUSES`), so every layer above can read it.
"""

from __future__ import annotations

from typing import Literal, get_args

PublicAssistance = Literal["current", "former", "never"]
Employment = Literal["employed", "unemployed", "underemployed", "unknown"]
EmploymentTrainingStatus = Literal["none", "referred", "enrolled"]
PaymentPlanStatus = Literal["none", "active", "defaulted"]
Program = Literal["employment_training", "payment_plan"]  # the programs of `paying_parent.programs`
LicenseType = Literal["driver", "professional", "recreational"]
LicenseStatus = Literal["active", "suspended", "none"]
WarrantStatus = Literal["active", "cleared"]
EnforcementStatus = Literal["pending", "sent", "completed", "cancelled"]
AppliedTo = Literal["current", "family_arrears", "state_arrears"]
PaymentSource = Literal["withholding", "voluntary", "intercept"]

PUBLIC_ASSISTANCE: tuple[str, ...] = get_args(PublicAssistance)
EMPLOYMENT: tuple[str, ...] = get_args(Employment)
EMPLOYMENT_TRAINING_STATUSES: tuple[str, ...] = get_args(EmploymentTrainingStatus)
PAYMENT_PLAN_STATUSES: tuple[str, ...] = get_args(PaymentPlanStatus)
PROGRAM_STATUSES: dict[Program, tuple[str, ...]] = {
    "employment_training": EMPLOYMENT_TRAINING_STATUSES,
    "payment_plan": PAYMENT_PLAN_STATUSES,
}
"""The statuses of each program of `paying_parent.programs`, by program."""
LICENSE_TYPES: tuple[str, ...] = get_args(LicenseType)
LICENSE_STATUSES: tuple[str, ...] = get_args(LicenseStatus)
WARRANT_STATUSES: tuple[str, ...] = get_args(WarrantStatus)
ENFORCEMENT_STATUSES: tuple[str, ...] = get_args(EnforcementStatus)
TAKEN_STATUSES: tuple[str, ...] = ("sent", "completed")
"""The enforcement entry statuses that count as the action having been taken (`taken(...)`)."""
APPLIED_TO: tuple[str, ...] = get_args(AppliedTo)
PAYMENT_SOURCES: tuple[str, ...] = get_args(PaymentSource)

STATE_CODE = r"^[A-Z]{2}$"
"""The pattern of a case's `jurisdiction.state` (a policy may also say `US`)."""
RECORDED_ACTION = r"^[a-z][a-z0-9_]*$"
"""The pattern of an action code in a snapshot's enforcement history (looser than a policy's own
`ACTION_CODE`, which `cspolicy.source.documents` declares: history may name older actions)."""
