"""The durable-rules (Rete) back end: evaluate case snapshots with a policy compiled to a Rete network.

    rete = load_policy("policies/wisconsin").to_rete()
    decision = rete.evaluate(snapshot)      # the same Decision the reference evaluator returns
    rete.native_conditions                  # which conditions durable-rules decides itself

How a case is evaluated (the network itself is described in `rete_network`):
1. the case is posted as one `case` fact: the snapshot values that native conditions read
   (money as whole millionths, dates as day numbers) and one flag per precomputed condition;
2. the condition rules fire; their actions collect the rules that apply (and reached errors);
3. `applies` and `taken` facts are posted, then a `go` fact; the outcome rules fire and their
   actions collect held, waiting and recommended rules;
4. the Decision (explanations, citations, outputs) is built from those outcomes with the
   shared explanation code, so the text matches `PolicySet.evaluate` word for word.

A case whose values cannot be posted exactly (more than 6 decimal places, amounts of a billion
dollars or more, a parameter with no value in force) runs in *precomputed mode*: every
condition is computed by the reference closures and posted as a flag. A case lacking only a
*gappy* value (a keyed parameter's entry, or a parameter whose dated values leave a gap in the
version's dates) stays native: just the conditions reading that value are flagged for it.
`stats` counts both.

durable-rules keeps one process-wide registry of rulesets. Each compiled policy gets the
ruleset name `cspolicy_<digest>`; loading the same policy again reuses the registered ruleset.
Thread safety: every call into durable-rules (and the per-case collection of fired rules)
runs under one process-wide lock, so a RetePolicy may be shared by threads, but evaluations
are serialized; use processes for parallel throughput. The background dispatch threads of
durable-rules are not started: actions run synchronously inside each post.

The core never imports durable-rules; this module imports it lazily and raises
ReteUnavailable with the install command when the `rete` extra is missing.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cspolicy.diagnostics import CSPolicyError, EvaluationError
from cspolicy.engine.compiler import CompiledPolicy, CompiledRule
from cspolicy.engine.decision import Decision
from cspolicy.engine.explain import explain
from cspolicy.engine.outcomes import CaseOutcome
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.rete.network import (
    ConditionPlan,
    ConditionTranslator,
    FactKey,
    NotNative,
    OutcomeFormulas,
    encode,
    outcome_rule,
)
from cspolicy.rete.patterns import MAX_PATTERN_ENTRIES, flag_fails, flag_holds, keys_read, pattern_entries

if TYPE_CHECKING:
    from cspolicy.engine.caseschema import CaseSchema
    from cspolicy.engine.policy import PolicySet

INSTALL_HINT = "pip install 'cspolicy[rete]' (durable-rules needs Python < 3.13 and a C compiler)"


class ReteUnavailable(CSPolicyError):
    """durable-rules (the `rete` extra) is not installed or cannot be imported."""


class ReteError(CSPolicyError):
    """The Rete back end cannot translate a policy, or its outcome is inconsistent."""


ENGINE_LOCK = threading.RLock()  # every call into durable-rules holds it
_STATE: dict[str, Any] = {}  # the host and the engine module, created on first use
_REGISTERED: set[str] = set()
_COLLECTORS: dict[str, _Collector] = {}
SID = "case"  # the durable session every evaluation uses (they are serialized by ENGINE_LOCK)


def durable_engine() -> Any:
    """The durable-rules engine module (imported lazily); ReteUnavailable when missing."""
    if "engine" not in _STATE:
        try:
            from durable import engine
        except (ImportError, OSError) as exc:
            raise ReteUnavailable(f"durable-rules cannot be imported ({exc}); {INSTALL_HINT}") from None
        _STATE["engine"] = engine
    return _STATE["engine"]


def durable_host() -> Any:
    """The process-wide durable-rules host (no background threads), created on first use."""
    if "host" not in _STATE:
        engine = durable_engine()

        class QuietHost(engine.Host):  # type: ignore[misc,name-defined]
            """A host without background dispatch threads: actions run inside each post."""

            def _run(self) -> None:
                return None

        _STATE["host"] = QuietHost()
    return _STATE["host"]


@dataclass
class _Collector:
    """What the actions of one case's evaluation recorded."""

    applies: set[str] = field(default_factory=set)
    errors: list[tuple[int, int, str]] = field(default_factory=list)
    held: dict[str, set[str]] = field(default_factory=dict)
    recommended: set[str] = field(default_factory=set)
    waiting: dict[str, set[str]] = field(default_factory=dict)


def _ignore(c: Any) -> None:
    return None


def _collector(c: Any) -> _Collector:
    return _COLLECTORS[str(c.s.sid)]


def _on_applies(rule_id: str) -> Any:
    return lambda c: _collector(c).applies.add(rule_id)


def _on_error(position: int, condition: int, flag: str) -> Any:
    return lambda c: _collector(c).errors.append((position, condition, flag))


def _on_held(rule_id: str, hold: str) -> Any:
    return lambda c: _collector(c).held.setdefault(rule_id, set()).add(hold)


def _on_recommended(rule_id: str) -> Any:
    return lambda c: _collector(c).recommended.add(rule_id)


def _on_waiting(rule_id: str, code: str) -> Any:
    return lambda c: _collector(c).waiting.setdefault(rule_id, set()).add(code)


class RetePolicy:
    """A policy set compiled to a durable-rules ruleset; `evaluate` agrees with the reference."""

    def __init__(self, policy: PolicySet) -> None:
        self.policy = policy
        self.compiled: CompiledPolicy = policy.compiled
        self.order = list(policy.order)
        self.name = "cspolicy_" + policy.digest.removeprefix("sha256:")
        self.plans: dict[str, list[ConditionPlan]] = {}
        translator = ConditionTranslator(self.compiled)
        flags = itertools.count()
        for rule in self.compiled.rules.values():
            plans = []
            for condition in [*rule.when, *rule.unless]:
                index = (rule.when if condition.part == "when" else rule.unless).index(condition)
                plan = ConditionPlan(
                    rule.id, condition.part, index, condition.text, False, flag=f"k{next(flags)}"
                )
                plan.condition = condition
                try:
                    plan.holds, plan.fails = translator.translate(condition.node, condition.part)
                    plan.native = True
                except NotNative as exc:
                    plan.reason = str(exc)
                plans.append(plan)
            self.plans[rule.id] = plans
        self.keys: dict[str, FactKey] = translator.keys
        # Values that some cases lack while others have them: a keyed parameter's entry (a key
        # the table in force lacks) and a parameter without a value on some days of the version.
        # A condition reading one is decided natively, or, for a case that lacks the value, by
        # the reference (its flag); other cases lacking a value run wholly in precomputed mode.
        self.gappy = {k.key for k in self.keys.values() if k.kind == "lookup" or self._gaps(k)}
        for plans in self.plans.values():
            for plan in plans:
                plan.keys = frozenset(keys_read(plan.holds) | keys_read(plan.fails))
                plan.hybrid = plan.native and bool(plan.keys & self.gappy)
            _fit_one_pattern(plans)
        # Only what native conditions read is posted (a value nothing reads cannot spoil a case).
        read = {key for plans in self.plans.values() for plan in plans if plan.native for key in plan.keys}
        self.keys = {name: key for name, key in self.keys.items() if name in read}
        self.formulas = OutcomeFormulas(self.compiled, self.order)
        self.stats = {"cases": 0, "precomputed_mode": 0, "flagged": 0}
        definition = self.definition()
        self.referenced = self._referenced(definition)
        with ENGINE_LOCK:
            if self.name not in _REGISTERED:
                durable_host().register_rulesets({self.name: definition})
                _REGISTERED.add(self.name)

    def _gaps(self, key: FactKey) -> bool:
        """A parameter with no value in force on some day of this version's effective dates."""
        if key.kind != "param":
            return False
        day, end = self.policy.effective_from, self.policy.effective_to
        for dated in sorted(self.compiled.parameters[key.name].values, key=lambda v: v.start):
            if dated.start > day:
                return True
            if dated.end is None or (end is not None and dated.end >= end):
                return False
            day = max(day, dated.end)
        return True

    # -- what runs where ------------------------------------------------------------------------
    @property
    def native_conditions(self) -> dict[str, list[str]]:
        """Per rule, the conditions durable-rules decides natively (in normal mode)."""
        return {r: [p.text for p in plans if p.native] for r, plans in self.plans.items()}

    @property
    def precomputed_conditions(self) -> dict[str, list[tuple[str, str]]]:
        """Per rule, the conditions computed by the reference closures, with the reason."""
        return {r: [(p.text, p.reason) for p in plans if not p.native] for r, plans in self.plans.items()}

    # -- the network ----------------------------------------------------------------------------
    def definition(self) -> dict[str, Any]:
        """The durable-rules ruleset definition (rule name → rule) for this policy."""
        rules: list[dict[str, Any]] = []
        for mode in ("native", "pre"):
            for position, rule_id in enumerate(self.order):
                rules.extend(self.condition_rules(self.compiled.rules[rule_id], position, mode))
        try:
            rules.extend(self.outcome_rules())
        except NotNative as exc:
            raise ReteError(f"policy {self.compiled.source.id!r}: {exc}") from None
        # A fact that matches no pattern is refused (MessageNotHandledException) and leaves the
        # session broken; these never-completing rules give every kind of fact a pattern.
        for kind in ("case", "applies", "taken", "go"):
            rules.append({"all": [{"s": {"t": kind}}, {"z": {"t": "never"}}], "run": _ignore})
        return {f"r_{index}": rule for index, rule in enumerate(rules)}

    def condition_rules(self, rule: CompiledRule, position: int, mode: str) -> list[dict[str, Any]]:
        def native(plan: ConditionPlan) -> bool:
            return mode == "native" and plan.native

        def holds(plan: ConditionPlan) -> dict[str, Any]:
            if not native(plan):
                return {plan.flag: "T"}
            return flag_holds(plan.flag, plan.holds) if plan.hybrid else plan.holds

        def fails(plan: ConditionPlan) -> dict[str, Any]:
            if not native(plan):
                return {"$neq": {plan.flag: "T"}}
            return flag_fails(plan.flag, plan.fails) if plan.hybrid else plan.fails

        base: list[dict[str, Any]] = [{"t": "case"}, {"mode": mode}]
        plans = self.plans[rule.id]
        reached = list(base)  # patterns true when the reference reaches the next condition
        rules = []
        for number, plan in enumerate(plans):
            if not native(plan) or plan.hybrid:
                error = {"$and": [*reached, {plan.flag: "E"}]}
                rules.append({"all": [{"m": error}], "run": _on_error(position, number, plan.flag)})
            reached.append(holds(plan) if plan.part == "when" else fails(plan))
        rules.append({"all": [{"m": {"$and": reached}}], "run": _on_applies(rule.id)})
        return rules

    def outcome_rules(self) -> list[dict[str, Any]]:
        formulas = self.formulas
        rules = []
        for rule_id in self.order:
            rule = self.compiled.rules[rule_id]
            if rule.is_hold:
                continue
            for hold in formulas.holders(rule_id):
                for term in formulas.held_by(rule_id, hold):
                    rules.append(outcome_rule(term, _on_held(rule_id, hold)))
            for term in formulas.recommended(rule):
                rules.append(outcome_rule(term, _on_recommended(rule_id)))
            for code in dict.fromkeys(formulas.required_codes(rule)):
                for term in formulas.waiting(rule, code):
                    rules.append(outcome_rule(term, _on_waiting(rule_id, code)))
        return rules

    @staticmethod
    def _referenced(definition: dict[str, Any]) -> set[tuple[str, str]]:
        """(fact kind, name) pairs the outcome rules read: only those facts are posted."""
        seen: set[tuple[str, str]] = set()
        for rule in definition.values():
            for pattern in rule["all"]:
                for match in pattern.values():
                    parts = match.get("$and", []) if isinstance(match, dict) else []
                    if len(parts) == 2 and parts[0].get("t") in ("applies", "taken"):
                        kind = parts[0]["t"]
                        seen.add((kind, parts[1]["r" if kind == "applies" else "a"]))
        return seen

    # -- evaluation -----------------------------------------------------------------------------
    def evaluate(self, snapshot: CaseSnapshot | dict[str, Any] | str | Path) -> Decision:
        """Evaluate one case with durable-rules; the same Decision as `PolicySet.evaluate`."""
        case = _as_snapshot(snapshot, self.policy.case_schema)
        self.policy.check_jurisdiction(case)
        self.policy.check_date(case)
        return explain(self.outcome(case))

    def outcome(self, snapshot: CaseSnapshot) -> CaseOutcome:
        """Decide one (validated) case in the Rete network: the `Backend` protocol of the engine."""
        run = CaseOutcome.undecided(self.compiled, snapshot)
        with ENGINE_LOCK:
            # Evaluations are serialized, so one durable session (sid) per ruleset is enough;
            # its facts are retracted afterwards (durable-rules' delete_state can crash).
            collector = _COLLECTORS[SID] = _Collector()
            posted: list[dict[str, Any]] = []
            try:
                flag_errors = self.post_case(run, posted)
                self.raise_first_error(collector, flag_errors)
                self.post_outcome_facts(run, posted, collector.applies)
            finally:
                _COLLECTORS[SID] = _Collector()  # whatever the retraction itself fires is dropped
                self.retract(posted)
                del _COLLECTORS[SID]
        self.settle(run, collector)
        return run

    def case_fact(self, run: CaseOutcome) -> tuple[dict[str, Any], dict[str, EvaluationError]]:
        fact: dict[str, Any] = {"sid": SID, "t": "case", "mode": "native"}
        lacking: set[str] = set()  # gappy values this case does not have (see __init__)
        try:
            for key in self.keys.values():
                try:
                    value = self.value(run, key)
                    if value is None and key.optional:
                        continue  # a missing value is an absent property: see ConditionTranslator.leaf
                    fact[key.key] = encode(key, value)
                except (KeyError, ValueError):
                    if key.key not in self.gappy:
                        raise
                    lacking.add(key.key)
        except (KeyError, ValueError):
            fact = {"sid": SID, "t": "case", "mode": "pre"}
            self.stats["precomputed_mode"] += 1
        if lacking and fact["mode"] == "native":
            self.stats["flagged"] += 1
        errors: dict[str, EvaluationError] = {}
        native_mode = fact["mode"] == "native"
        for rule_id, plans in self.plans.items():
            rule = self.compiled.rules[rule_id]
            for plan in plans:
                if native_mode and plan.native and not (plan.keys & lacking):
                    continue
                assert plan.condition is not None
                try:
                    fact[plan.flag] = "T" if run.run(plan.condition, rule) is True else "F"
                except EvaluationError as exc:
                    fact[plan.flag] = "E"
                    errors[plan.flag] = exc
        return fact, errors

    @staticmethod
    def value(run: CaseOutcome, key: FactKey) -> Any:
        if key.kind == "param":
            return run.params[key.name]
        if key.kind == "lookup":  # NAME[field]: the entry in force for the case's key
            name, _, path = key.name.removesuffix("]").partition("[")
            which = run.context.facts[path]
            return None if which is None else run.params[name][which]
        if key.kind in ("taken", "since"):
            last = run.context.last_taken(key.name)
            if key.kind == "taken":
                return last is not None
            return None if last is None else (run.snapshot.as_of - last).days
        return run.context.facts[key.name]

    def post_case(self, run: CaseOutcome, posted: list[dict[str, Any]]) -> dict[str, EvaluationError]:
        fact, errors = self.case_fact(run)
        self.stats["cases"] += 1
        self.post([fact], posted)
        return errors

    def raise_first_error(self, collector: _Collector, errors: dict[str, EvaluationError]) -> None:
        """Raise the error the reference raises first: earliest rule in order, first condition."""
        if collector.errors:
            _, _, flag = min(collector.errors)
            raise errors[flag]

    def post_outcome_facts(self, run: CaseOutcome, posted: list[dict[str, Any]], applies: set[str]) -> None:
        facts = [{"sid": SID, "t": "applies", "r": r} for r in self.order if r in applies]
        codes = sorted({code for kind, code in self.referenced if kind == "taken"})
        facts += [{"sid": SID, "t": "taken", "a": c} for c in codes if run.context.last_taken(c) is not None]
        facts = [f for f in facts if (f["t"], f.get("r", f.get("a"))) in self.referenced]
        if facts:
            self.post(facts, posted)
        self.post([{"sid": SID, "t": "go"}], posted)

    def post(self, facts: list[dict[str, Any]], posted: list[dict[str, Any]]) -> None:
        engine = durable_engine()
        try:
            durable_host().assert_facts(self.name, facts)
        except engine.MessageNotHandledException:
            # Cannot happen: the sink rules match every kind of fact. Stop rather than go on.
            raise ReteError(f"durable-rules did not accept facts {facts!r}; please report this") from None
        posted.extend(facts)

    def retract(self, posted: list[dict[str, Any]]) -> None:
        """Remove one evaluation's facts; `go` first, so no outcome rule fires on the way out."""
        if posted:
            durable_host().retract_facts(self.name, sorted(posted, key=lambda f: f["t"] != "go"))

    def settle(self, run: CaseOutcome, collector: _Collector) -> None:
        """Copy the fired outcomes into the run, checking they are consistent."""
        for rule_id in self.order:
            run.applies[rule_id] = rule_id in collector.applies
        for rule_id, holds in collector.held.items():
            run.held_by[rule_id] = min(holds, key=self.order.index)
        for rule_id, codes in collector.waiting.items():
            requires = self.compiled.rules[rule_id].rule.requires
            actions = {r: self.compiled.rules[r].rule.action or "" for r in requires}
            run.waiting_for[rule_id] = [r for r in requires if actions[r] in codes]
        for rule_id in self.order:
            rule = self.compiled.rules[rule_id]
            if rule.is_hold or not run.applies[rule_id]:
                continue
            outcomes = [
                rule_id in collector.recommended,
                rule_id in run.held_by,
                rule_id in run.waiting_for,
            ]
            if sum(outcomes) != 1 or len(collector.held.get(rule_id, ())) > 1:
                raise ReteError(
                    f"rule {rule_id!r}: the Rete network gave an inconsistent outcome "
                    f"(recommended, held, waiting = {outcomes}); please report this"
                )


def _fit_one_pattern(plans: list[ConditionPlan]) -> None:
    """Precompute the largest native conditions of a rule until all its conditions fit the one
    durable-rules pattern that tests them (an `$and` of them: see RetePolicy.condition_rules)."""

    def entries(plan: ConditionPlan) -> int:
        test = plan.holds if plan.part == "when" else plan.fails
        return pattern_entries(test) + (4 if plan.hybrid else 0)  # flag_holds / flag_fails add two of each

    while 2 + sum(entries(p) for p in plans if p.native) > MAX_PATTERN_ENTRIES:
        largest = max((p for p in plans if p.native), key=entries)
        largest.native = largest.hybrid = False
        largest.reason = (
            f"the rule's conditions need more than {MAX_PATTERN_ENTRIES} and/or entries in one"
            " durable-rules pattern: this, the largest, is precomputed"
        )


def _as_snapshot(snapshot: CaseSnapshot | dict[str, Any] | str | Path, schema: CaseSchema) -> CaseSnapshot:
    """A snapshot validated against the policy's case schema (one of another schema is re-validated)."""
    if isinstance(snapshot, str | Path):
        return CaseSnapshot.from_file(snapshot, schema=schema)
    return CaseSnapshot.parse(snapshot, schema=schema)
