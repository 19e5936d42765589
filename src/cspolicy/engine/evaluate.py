"""The reference evaluator: decide one case under a compiled policy (no explanations here).

Rule outcome semantics (every back end follows them):
- a rule *applies* when each `when` condition is true (checked left to right, stopping at the
  first that is not) and no `unless` condition is true;
- a hold that applies suppresses the rules it names that apply; a hold that is itself held
  suppresses nothing; holds are settled in graph order;
- an applying, unheld rule whose `requires` actions are not yet in the enforcement history
  (status sent or completed) is *waiting* and reported in `decision.waiting`, not recommended;
- outputs are computed only for recommended actions.
"""

from __future__ import annotations

from cspolicy.engine.compiler import CompiledPolicy
from cspolicy.engine.outcomes import CaseOutcome
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.expressions import DivisionByZero
from cspolicy.expressions.closures import Fn


class ReferenceBackend:
    """The closure evaluator, the reference every other back end must agree with.

    Compiled once per policy into flat steps (each rule's condition closures in evaluation
    order, the holds, the rules with prerequisites) so deciding a case is a few loops over
    tuples; an expression that fails for a case (division by zero, no parameter value) is
    evaluated again through `CaseOutcome.run` to raise its located error.
    """

    def __init__(self, policy: CompiledPolicy, order: list[str]) -> None:
        self.policy = policy
        self.order = order
        rules = policy.rules
        self.steps: tuple[tuple[str, tuple[Fn, ...], tuple[Fn, ...]], ...] = tuple(
            (rule_id, tuple(c.fn for c in rules[rule_id].when), tuple(c.fn for c in rules[rule_id].unless))
            for rule_id in order
        )
        self.holds: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
            (rule_id, tuple(rules[rule_id].rule.holds)) for rule_id in order if rules[rule_id].is_hold
        )
        self.prerequisites: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = tuple(
            (rule_id, tuple((r, rules[r].rule.action or "") for r in rules[rule_id].rule.requires))
            for rule_id in order
            if not rules[rule_id].is_hold and rules[rule_id].rule.requires
        )

    def outcome(self, snapshot: CaseSnapshot) -> CaseOutcome:
        """Decide one case: which rules apply, are held, wait."""
        outcome = CaseOutcome.undecided(self.policy, snapshot)
        context, applies, held_by = outcome.context, outcome.applies, outcome.held_by
        for rule_id, when, unless in self.steps:
            try:
                result = True
                for fn in when:
                    if fn(context) is not True:
                        result = False
                        break
                if result:
                    for fn in unless:
                        if fn(context) is True:
                            result = False
                            break
            except (DivisionByZero, KeyError):
                result = _located_error(outcome, rule_id)
            applies[rule_id] = result
        for hold_id, targets in self.holds:
            if applies[hold_id] and hold_id not in held_by:
                for target in targets:
                    if applies.get(target) and target not in held_by:
                        held_by[target] = hold_id
        for rule_id, needed in self.prerequisites:
            if applies[rule_id] and rule_id not in held_by:
                missing = [r for r, action in needed if context.last_taken(action) is None]
                if missing:
                    outcome.waiting_for[rule_id] = missing
        return outcome


def _located_error(outcome: CaseOutcome, rule_id: str) -> bool:
    """Evaluate a rule that failed on the fast path again, through `CaseOutcome.run`, which
    raises the located EvaluationError of its first failing condition."""
    rule = outcome.policy.rules[rule_id]
    return all(outcome.run(c, rule) is True for c in rule.when) and all(
        outcome.run(c, rule) is not True for c in rule.unless
    )
