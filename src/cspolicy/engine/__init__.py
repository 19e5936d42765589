"""The engine: one policy version × one case.

Case snapshots (`snapshot`), the compiler (`compiler`, compile once), rule ordering and the rule
graph (`graph`), the reference evaluator (`evaluate`), the decision it returns (`decision`), near
misses, decision records, dated versions and `PolicySet`, the object a developer holds.
"""

from cspolicy.engine.compiler import CompiledPolicy, compile_source
from cspolicy.engine.decision import Decision, HeldAction, RecommendedAction, WaitingAction, WhyNot
from cspolicy.engine.outputs import DecisionModel, NearMiss
from cspolicy.engine.policy import PolicySet, load_policy
from cspolicy.engine.records import DecisionRecord, PolicyTexts, ReplayMismatch
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.engine.versions import PolicyVersions

__all__ = [
    "CaseSnapshot",
    "CompiledPolicy",
    "Decision",
    "DecisionModel",
    "DecisionRecord",
    "HeldAction",
    "NearMiss",
    "PolicySet",
    "PolicyTexts",
    "PolicyVersions",
    "RecommendedAction",
    "ReplayMismatch",
    "WaitingAction",
    "WhyNot",
    "compile_source",
    "load_policy",
]
