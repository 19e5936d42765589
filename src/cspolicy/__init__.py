"""cspolicy: child support enforcement policy as declarative, versioned YAML.

Load a policy set once, evaluate many case snapshots, and get explained, cited decisions::

    from cspolicy import load_policy
    policy = load_policy("policies/wisconsin")
    decision = policy.evaluate("examples/cases/passport-level.yaml")
    print(decision.to_json())
"""

from cspolicy._version import __version__
from cspolicy.diagnostics import (
    Code,
    CSPolicyError,
    EvaluationError,
    Location,
    PolicyError,
    Problem,
    Severity,
    SnapshotError,
)
from cspolicy.engine.decision import Decision, HeldAction, RecommendedAction, WaitingAction, WhyNot
from cspolicy.engine.outputs import DecisionModel
from cspolicy.engine.policy import PolicySet, load_policy
from cspolicy.engine.snapshot import CaseSnapshot

__all__ = [
    "CSPolicyError",
    "CaseSnapshot",
    "Code",
    "Decision",
    "DecisionModel",
    "EvaluationError",
    "HeldAction",
    "Location",
    "PolicyError",
    "PolicySet",
    "Problem",
    "RecommendedAction",
    "Severity",
    "SnapshotError",
    "WaitingAction",
    "WhyNot",
    "__version__",
    "load_policy",
]
