"""The outcome stratum of the Rete network: holds, requirements and recommendations as formulas.

Each outcome (held by a given hold, recommended, waiting for an action) is a sum of products of
`applies` and `taken` facts, settled in graph order as the reference evaluator settles holds;
`outcome_rule` turns one product term into a durable-rules rule that starts with the `go` fact
(see `cspolicy.rete.network`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from cspolicy.engine.compiler import CompiledPolicy, CompiledRule
from cspolicy.rete.encoding import NotNative

MAX_OUTCOME_TERMS = 256

Literal_ = tuple[str, str, bool]  # (fact kind: applies | taken, rule id or action code, positive)
Term = frozenset[Literal_]
Formula = list[Term]

TRUE: Formula = [frozenset()]


def atom(kind: str, name: str) -> Formula:
    return [frozenset({(kind, name, True)})]


def conjoin(left: Formula, right: Formula) -> Formula:
    terms = []
    for a in left:
        for b in right:
            term = a | b
            if not any((k, n, not p) in term for k, n, p in term):
                terms.append(term)
    return _absorb(terms)


def disjoin(*formulas: Formula) -> Formula:
    return _absorb([t for f in formulas for t in f])


def negate(formula: Formula) -> Formula:
    result = TRUE
    for term in formula:
        result = conjoin(result, [frozenset({(k, n, not p)}) for k, n, p in sorted(term)])
    return result


def _absorb(terms: Iterable[Term]) -> Formula:
    unique = sorted(set(terms), key=lambda t: (len(t), sorted(t)))
    kept: list[Term] = []
    for term in unique:
        if not any(other <= term for other in kept):
            kept.append(term)
    if len(kept) > MAX_OUTCOME_TERMS:
        raise NotNative("holds are nested too deeply to translate")
    return kept


class OutcomeFormulas:
    """Held / recommended / waiting as formulas over `applies` and `taken` facts (graph order)."""

    def __init__(self, policy: CompiledPolicy, order: list[str]) -> None:
        self.policy = policy
        self.order = order
        self.memo: dict[str, Formula] = {}

    def holders(self, rule_id: str) -> list[str]:
        rules = self.policy.rules
        return [h for h in self.order if rules[h].is_hold and rule_id in rules[h].rule.holds]

    def effective(self, hold: str) -> Formula:
        """The hold applies and is not itself held."""
        if hold not in self.memo:
            self.memo[hold] = conjoin(atom("applies", hold), negate(self.held(hold)))
        return self.memo[hold]

    def held(self, rule_id: str) -> Formula:
        return disjoin(*(self.effective(h) for h in self.holders(rule_id)))

    def held_by(self, rule_id: str, hold: str) -> Formula:
        """The rule applies and `hold` is the first effective hold (in graph order) naming it."""
        formula = conjoin(atom("applies", rule_id), self.effective(hold))
        for earlier in self.holders(rule_id):
            if earlier == hold:
                break
            formula = conjoin(formula, negate(self.effective(earlier)))
        return formula

    def free(self, rule: CompiledRule) -> Formula:
        return conjoin(atom("applies", rule.id), negate(self.held(rule.id)))

    def recommended(self, rule: CompiledRule) -> Formula:
        formula = self.free(rule)
        for code in self.required_codes(rule):
            formula = conjoin(formula, atom("taken", code))
        return formula

    def waiting(self, rule: CompiledRule, code: str) -> Formula:
        return conjoin(self.free(rule), negate(atom("taken", code)))

    def required_codes(self, rule: CompiledRule) -> list[str]:
        return [self.policy.rules[r].rule.action or "" for r in rule.rule.requires]


def outcome_rule(term: Term, run: Callable[[Any], None]) -> dict[str, Any]:
    """A durable-rules rule for one product term; the `go` fact comes first (see module doc)."""
    patterns: list[dict[str, Any]] = [{"go": {"t": "go"}}]
    ordered = sorted(term, key=lambda lit: (not lit[2], lit[0], lit[1]))
    for index, (kind, name, positive) in enumerate(ordered):
        match = {"$and": [{"t": kind}, {"r" if kind == "applies" else "a": name}]}
        patterns.append({f"x{index}" if positive else f"x{index}$not": match})
    return {"all": patterns, "run": run}
