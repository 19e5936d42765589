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

from collections import Counter
from collections.abc import Callable
from typing import Any

from cspolicy.engine.compiler import CompiledCondition, CompiledPolicy
from cspolicy.engine.outcomes import CaseOutcome
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.expressions import DivisionByZero
from cspolicy.expressions.closures import Context, Fn
from cspolicy.expressions.codegen import Expressions, Source


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
        # A condition written in several rules is computed once per case (same text, same policy:
        # the same value), e.g. a threshold test that three actions share.
        uses = Counter(c.text for rule_id in order for c in (*rules[rule_id].when, *rules[rule_id].unless))

        def fn(condition: CompiledCondition) -> Fn:
            return _shared(condition.fn, condition.text) if uses[condition.text] > 1 else condition.fn

        self.steps: tuple[tuple[str, tuple[Fn, ...], tuple[Fn, ...]], ...] = tuple(
            (rule_id, tuple(fn(c) for c in rules[rule_id].when), tuple(fn(c) for c in rules[rule_id].unless))
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
        self.settle = _generate(policy, order, uses)

    def outcome(self, snapshot: CaseSnapshot) -> CaseOutcome:
        """Decide one case: which rules apply, are held, wait."""
        return self.decide(CaseOutcome.undecided(self.policy, snapshot))

    def applies_by_closures(self, outcome: CaseOutcome) -> dict[str, bool]:
        """Which rules apply, by the condition closures: what the generated `settle` computes."""
        context, applies = outcome.context, outcome.applies
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
        return applies

    def decide(self, outcome: CaseOutcome) -> CaseOutcome:
        """Fill an undecided outcome: which rules apply, are held, wait."""
        context, applies, held_by = outcome.context, outcome.applies, outcome.held_by
        self.settle(outcome, applies, context, context.facts, context.params, context.derive, context.derived)
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


_UNSET: Any = object()


def _shared(fn: Fn, text: str) -> Fn:
    """`fn`, computed at most once per case (kept beside the case's derived values)."""
    key = ("condition", text)

    def shared(c: Context) -> Any:
        memo = c.derived
        value = memo.get(key, _UNSET)  # type: ignore[call-overload]
        if value is _UNSET:
            value = memo[key] = fn(c)  # type: ignore[index]
        return value

    return shared


def _located_error(outcome: CaseOutcome, rule_id: str) -> bool:
    """Evaluate a rule that failed on the fast path again, through `CaseOutcome.run`, which
    raises the located EvaluationError of its first failing condition."""
    rule = outcome.policy.rules[rule_id]
    return all(outcome.run(c, rule) is True for c in rule.when) and all(
        outcome.run(c, rule) is not True for c in rule.unless
    )


def _generate(policy: CompiledPolicy, order: list[str], uses: Counter[str]) -> Callable[..., None]:
    """One generated function settling which rules apply (as `applies_by_closures`): each rule's
    conditions inline (cspolicy.expressions.codegen), a condition shared by rules computed once."""
    src = Source()
    outcome, applies, context, facts, params, derive, memo = (src.name("a") for _ in range(7))
    unset, failed, located = (
        src.const(_UNSET),
        src.const((DivisionByZero, KeyError)),
        src.const(_located_error),
    )
    # A derived value is computed inline where it is first read and kept for the next reads
    # (and in the case's derived values, for explanations), as `Context.derive` does.
    derived = {name: d.expression.node for name, d in policy.derived.items()}
    expressions = Expressions(src, facts, params, derive, context, derived, memo, unset)
    shared: dict[str, str] = {}
    src.line(
        0,
        "def {}({}, {}, {}, {}, {}, {}, {}):",
        *(src.name("r"), outcome, applies, context, facts, params, derive, memo),
    )
    for text in uses:
        if uses[text] > 1:
            shared[text] = src.name("w")
            src.line(1, "{} = {}", shared[text], unset)

    def condition(c: CompiledCondition) -> str:
        code = expressions(c.node)
        memo = shared.get(c.text)
        return code if memo is None else f"({memo} if {memo} is not {unset} else ({memo} := {code}))"

    for rule_id in order:
        rule, result = policy.rules[rule_id], src.name("v")
        tests = [f"{condition(c)} is not True" for c in rule.when] + [
            f"{condition(c)} is True" for c in rule.unless
        ]
        src.line(1, "try:")
        src.line(2, "{} = True", result)
        for number, test in enumerate(tests):
            src.line(2, ("if " if number == 0 else "elif ") + test + ":")
            src.line(3, "{} = False", result)
        src.line(1, "except {}:", failed)
        src.line(2, "{} = {}({}, {})", result, located, outcome, src.const(rule_id))
        src.line(1, "{}[{}] = {}", applies, src.const(rule_id), result)
    src.line(1, "return None")
    for local in expressions.locals.values():  # each derived value's local, unset until read
        src.insert(1, 1, "{} = {}", local, unset)
    return src.build("_r0")
