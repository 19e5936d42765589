"""A decision's JSON text written directly, byte for byte what `json_text(decision.to_dict())` writes.

Most of a decision's JSON is the same for every case of a rule: keys, a rule's identity and
citations, a condition's expression, the parameter values of a day. Those parts are encoded once
per policy and depth and spliced in, so a case pays only for its own values and sentences — and
no intermediate dicts are built and walked again by a serializer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cspolicy.engine.actions import _UNSET, HeldAction, RecommendedAction, WaitingAction
from cspolicy.engine.outputs import UnwrittenJson, json_dump, json_string, json_value

if TYPE_CHECKING:
    from cspolicy.engine.compiled import CompiledRule
    from cspolicy.engine.compiler import CompiledCondition
    from cspolicy.engine.decision import Decision
    from cspolicy.engine.explain import Explainer

_KEPT_DAYS = 50_000  # (rule, day, depth) parameter texts kept before they are dropped


def decision_text(decision: Decision, nl: str, step: str | None) -> str:
    """`decision.to_dict()` as JSON text in the layout of `nl` and `step` (`json_layout`);
    raises UnwrittenJson when something in it is not JSON-ready data (the caller falls back)."""
    explainer = decision.explainer
    n1 = nl if step is None else nl + step
    n2 = n1 if step is None else n1 + step
    n3 = n2 if step is None else n2 + step
    s1 = "," + n1 if step is not None else ", "
    s3 = "," + n3 if step is not None else ", "
    head, cited = f"head-text{n2}{step}", f"citations-text{n3}{step}"  # keys of the encoded parts

    def listed(items: list[str]) -> str:
        return "[" + n2 + ("," + n2 if step is not None else ", ").join(items) + n1 + "]" if items else "[]"

    def because(action: RecommendedAction | HeldAction | WaitingAction) -> str:
        if action._because is not _UNSET:  # read as models already: said from them
            return json_dump([trace.model_dump(mode="json") for trace in action._because], n3, step)
        return _because_text(explainer, action._explained_rule, n3, step)

    actions = []
    for action in decision.actions:
        if type(action) is not RecommendedAction:
            raise UnwrittenJson(action)
        rule = action._compiled
        parameters = (  # the same for every case of a day, unless read (and so perhaps changed)
            _parameters_text(explainer, rule, n3, step)
            if action._parameters is _UNSET
            else json_dump(action.parameters, n3, step)
        )
        outputs, priority, due_by, overdue = action.outputs, action.priority, action.due_by, action.overdue
        actions.append(
            f'{_encoded(explainer, "head", rule, n2, step, head)}"because": {because(action)}{s3}'
            f'"citations": {_encoded(explainer, "citations", rule, n3, step, cited)}{s3}'
            f'"parameters": {parameters}{s3}'
            f'"outputs": {json_dump(outputs, n3, step) if outputs else "{}"}{s3}'
            f'"priority": {int.__repr__(priority) if priority.__class__ is int else json_dump(priority, n3, step)}{s3}'
            f'"due_by": {"null" if due_by is None else json_string(due_by.isoformat())}{s3}'
            f'"overdue": {"null" if overdue is None else json_dump(overdue, n3, step)}{n2}}}'
        )
    held = []
    for hold in decision.held:
        if type(hold) is not HeldAction:
            raise UnwrittenJson(hold)
        held.append(
            f"{_encoded(explainer, 'head', hold._compiled, n2, step, head)}"
            f'"held_by": {json_dump(hold.held_by, n3, step)}{s3}'
            f'"reason": {json_dump(hold.reason, n3, step)}{s3}'
            f'"because": {because(hold)}{s3}'
            f'"citations": {_encoded(explainer, "citations", hold._hold, n3, step, cited)}{n2}}}'
        )
    waiting = []
    for wait in decision.waiting:
        if type(wait) is not WaitingAction:
            raise UnwrittenJson(wait)
        waiting.append(
            f"{_encoded(explainer, 'head', wait._compiled, n2, step, head)}"
            f'"waiting_for": {json_dump(wait.waiting_for, n3, step)}{s3}'
            f'"because": {because(wait)}{s3}'
            f'"citations": {_encoded(explainer, "citations", wait._compiled, n3, step, cited)}{n2}}}'
        )
    return (
        f'{{{n1}"case_id": {json_dump(decision.case_id, n1, step)}{s1}'
        f'"as_of": {json_string(decision.as_of.isoformat())}{s1}'
        f'"policy": {_encoded(explainer, "policy", None, n1, step)}{s1}'
        f'"actions": {listed(actions)}{s1}"held": {listed(held)}{s1}"waiting": {listed(waiting)}{nl}}}'
    )


def _because_text(explainer: Explainer, rule: CompiledRule, nl: str, step: str | None) -> str:
    """`explainer.because_json(rule)` as JSON text at the depth of `nl`. Every `when` of a rule
    that applies is true (that is what applying means): not run again."""
    known = True if explainer.applies.get(rule.id) is True else None
    inner = nl if step is None else nl + step
    tag = f"trace-text{inner}{step}"
    traces = [_trace_text(explainer, c, rule, inner, step, known, tag) for c in rule.when]
    if rule.unless:
        traces += [_trace_text(explainer, c, rule, inner, step, None, tag) for c in rule.unless]
    if not traces:
        return "[]"
    return "[" + inner + ("," + inner if step is not None else ", ").join(traces) + nl + "]"


def _trace_text(
    explainer: Explainer,
    condition: CompiledCondition,
    rule: CompiledRule,
    nl: str,
    step: str | None,
    known: bool | None,
    tag: str,
) -> str:
    """`explainer.trace_json(condition, rule)` as JSON text at the depth of `nl`."""
    result = explainer.run(condition, rule) if known is None else known
    values = explainer.values(condition)
    # Said as it is for this case: a condition that failed reads in the negative.
    text = explainer.explain_text(condition, values, result if isinstance(result, bool) else None)
    key = (tag, id(condition))
    pieces = explainer.cache.get(key)
    if pieces is None:  # the parts of a trace that are the condition's own, encoded once
        inner = nl if step is None else nl + step
        sep = "," + inner if step is not None else ", "
        head = (
            f'{{{inner}"expr": {json_string(condition.text)}{sep}"part": {json_string(condition.part)}{sep}'
        )
        pieces = explainer.cache[key] = (
            head + '"values": ',
            sep + '"result": ',
            sep + '"text": ',
            nl + "}",
            inner,
        )
    head, result_key, text_key, close, inner = pieces
    shown = "true" if result is True else "false" if result is False else json_dump(result, inner, step)
    return f"{head}{_values_text(values, inner, step)}{result_key}{shown}{text_key}{json_string(text)}{close}"


def _values_text(values: dict[str, Any], nl: str, step: str | None) -> str:
    """A trace's values as JSON text at the depth of `nl` (a list is left out, as in `trace_json`)."""
    inner = nl if step is None else nl + step
    items = []
    for path, value in values.items():
        cls = value.__class__
        if cls is Decimal:  # digits, a point, a sign, an exponent: nothing to escape
            shown = f'"{value}"'
        elif cls is str:
            shown = json_string(value)
        elif value is None:
            shown = "null"
        elif cls is bool:
            shown = "true" if value else "false"
        elif cls is int:
            shown = int.__repr__(value)
        elif isinstance(value, list):
            continue
        else:
            shown = json_dump(json_value(value), inner, step)
        items.append(f"{json_string(path)}: {shown}")
    if not items:
        return "{}"
    return "{" + inner + ("," + inner if step is not None else ", ").join(items) + nl + "}"


def _parameters_text(explainer: Explainer, rule: CompiledRule, nl: str, step: str | None) -> str:
    """`explainer.parameters(rule)` as JSON text at the depth of `nl` (kept per rule, day, depth)."""
    kept = explainer.cache.get(("parameters-text", 0))
    if kept is None or len(kept) >= _KEPT_DAYS:  # a caseload spanning very many days
        kept = explainer.cache["parameters-text", 0] = {}
    key = (id(rule), explainer.outcome.as_of, nl, step)
    text = kept.get(key)
    if text is None:
        text = kept[key] = json_dump(explainer.parameters(rule), nl, step)
    return text


def _encoded(
    explainer: Explainer, what: str, rule: CompiledRule | None, nl: str, step: str | None, tag: str = ""
) -> str:
    """A part that is the same for every case (the policy; a rule's identity up to its next key,
    its citations), encoded once per rule and depth; `tag` is `what` and the depth in one key."""
    key = (tag or f"{what}-text{nl}{step}", id(rule))
    text = explainer.cache.get(key)
    if text is None:
        if rule is None:
            text = json_dump(explainer.policy_json, nl, step)
        elif what == "citations":
            text = json_dump(explainer.citations_json(rule), nl, step)
        else:
            inner = nl if step is None else nl + step
            sep = "," + inner if step is not None else ", "
            action, rule_id, kind, title, _ = rule.identity
            fields = {"action": action, "rule": rule_id, "kind": kind, "title": title}
            text = (
                "{" + inner + "".join(f"{json_string(k)}: {json_string(v)}{sep}" for k, v in fields.items())
            )
        explainer.cache[key] = text
    return text
