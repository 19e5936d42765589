"""What each diagnostic code means and what to do about it, for the docs' one page per code."""

from __future__ import annotations

from cspolicy.diagnostics import Code

# (what happened, how to fix it)
DESCRIPTIONS: dict[Code, tuple[str, str]] = {
    Code.YAML_SYNTAX: (
        "The file is not valid YAML: a bad indent, an unclosed quote or bracket, a tab used for indentation.",
        "Look at the line and column given; YAML indents with spaces and needs a space after each `:` and `-`.",
    ),
    Code.DUPLICATE_KEY: (
        "The same key appears twice in one mapping. Plain YAML keeps the last one silently; cspolicy refuses.",
        "Remove or rename one of the two keys; both locations are reported.",
    ),
    Code.WRONG_TYPE: (
        "A value has the wrong type: text where a number is expected, a list where a mapping is, a number "
        "for a boolean parameter.",
        "Write the value in the type the field takes (see the schema reference). Quote amounts as text, "
        'e.g. `"2500.00"`, to keep them exact.',
    ),
    Code.UNKNOWN_KEY: (
        "A key that the document format does not have, usually a misspelling; the message suggests the "
        "closest known key.",
        "Fix the spelling or remove the key. Unknown keys are errors so that a typo never silently drops a rule part.",
    ),
    Code.MISSING_KEY: (
        "A required key is missing, e.g. a rule without `title`, `kind` or `when`.",
        "Add the key; the schema reference lists which keys each part needs.",
    ),
    Code.FILE_NOT_FOUND: (
        "A path given on the command line, in `extends` or in a test's `snapshot` does not exist.",
        "Check the path; paths in `extends` and tests are relative to the file that names them.",
    ),
    Code.YAML_LIMIT: (
        "The file exceeds a safety limit (size, nesting depth, number of nodes, aliases, text length).",
        "Split very large policy sets into several files; anchors and aliases that expand hugely are refused.",
    ),
    Code.UNSAFE_YAML: (
        "The YAML uses a tag (`!!python/...`, custom `!tags`) that could construct objects, or a merge "
        "key (`<<`).",
        "Remove the tag or merge key; policy YAML is plain data only.",
    ),
    Code.BAD_ENCODING: (
        "The file is not valid UTF-8 text.",
        "Save the file as UTF-8.",
    ),
    Code.INVALID_VALUE: (
        "A value has the right type but is not allowed, e.g. an unknown rule kind, an interval whose "
        "`to` is not after its `from`, or a non-finite number.",
        "Use one of the allowed values given in the message.",
    ),
    Code.DUPLICATE_ID: (
        "Two rules (or sources, parameters, derived values) of one policy set share an id, or a "
        "derived value is named like a snapshot field.",
        "Rename one. (To replace a rule inherited through `extends`, give it the parent rule's id: "
        "that is a replacement, not a duplicate.)",
    ),
    Code.UNKNOWN_RULE: (
        "`requires` or `holds` names a rule that does not exist (or `requires` names a hold).",
        "Use the id of an existing rule with an action; the message suggests the closest id.",
    ),
    Code.UNKNOWN_SOURCE: (
        "A citation names a source that is not in any `sources:` of the set or its parents.",
        "Add the source to `sources:` or fix the id.",
    ),
    Code.MISSING_CITATION: (
        "A rule or parameter has no `cite:`. Every rule and parameter must cite the law or policy behind it.",
        "Add `cite: [source-id]` (and a pinpoint where useful).",
    ),
    Code.EXTENDS_CYCLE: (
        "Policy sets extend each other in a loop.",
        "Make the inheritance a chain: a county extends a state, a state extends federal.",
    ),
    Code.DEPENDENCY_CYCLE: (
        "Derived values use each other in a loop, or rules require or hold each other in a loop.",
        "Break the cycle shown in the message.",
    ),
    Code.NO_VERSION: (
        "No version of the policy set is in force on the date asked for (or no version declares `effective`).",
        "Check the snapshot's `as_of` and the versions' `effective` dates; intervals are half-open [from, to).",
    ),
    Code.UNKNOWN_PARAMETER: (
        "An expression uses `params.NAME` for a parameter that the set does not define.",
        "Define the parameter or fix its name; the message suggests the closest one.",
    ),
    Code.PARAMETER_GAP: (
        "A parameter's dated values overlap (an error) or leave a gap between them (a warning).",
        "Make each value's `to` the next value's `from`, or leave `to` out so the next value ends it.",
    ),
    Code.EXPRESSION_SYNTAX: (
        "An expression cannot be parsed.",
        "Expressions are a small subset of Python syntax; check brackets and operators at the position given.",
    ),
    Code.FORBIDDEN_SYNTAX: (
        "An expression uses syntax that is not allowed (lambdas, comprehensions, subscripts, attribute "
        "tricks, f-strings, assignment).",
        "Use the operators and functions listed in the expression reference; `any_of` and `count_of` "
        "replace comprehensions.",
    ),
    Code.UNKNOWN_NAME: (
        "An expression uses a name that is not a snapshot field, a parameter or a derived value.",
        "Use a field from the snapshot reference, `params.NAME`, or a derived name; the message suggests one.",
    ),
    Code.TYPE_MISMATCH: (
        "An expression combines values of types that do not fit, e.g. money compared with a date, or a "
        "condition that is not yes/no.",
        "Compare like with like; conditions must be yes/no.",
    ),
    Code.UNKNOWN_FUNCTION: (
        "An expression calls a function outside the whitelist.",
        "Use one of the functions in the expression reference.",
    ),
    Code.BAD_ARGUMENTS: (
        "A function is called with the wrong number or kind of arguments.",
        "See the function's description in the expression reference.",
    ),
    Code.UNKNOWN_ENUM_VALUE: (
        'A comparison uses a value a field can never have, e.g. `public_assistance == "formr"`.',
        "Use one of the field's allowed values (listed in the snapshot reference).",
    ),
    Code.EXPRESSION_LIMIT: (
        "An expression is too long or too deeply nested.",
        "Split it into derived values with names.",
    ),
    Code.NEVER_FIRES: (
        "`cspolicy check` proved that a rule's conditions can never all be true together (a warning); "
        "the message names the contradiction.",
        "Fix the contradicting conditions (often a threshold compared the wrong way, or two exclusive values).",
    ),
    Code.ALWAYS_HELD: (
        "`cspolicy check` proved that whenever a rule applies, a hold on it applies too, so its action "
        "can never be recommended (a warning).",
        "Narrow the hold's conditions, or remove the rule from its `holds:` list.",
    ),
    Code.HOLD_HOLDS_NOTHING: (
        "A hold can never hold anything: none of the rules it names can apply while the hold does "
        "(or at all) (a warning).",
        "Check the hold's conditions and its `holds:` list against the rules it names.",
    ),
    Code.UNUSED_PARAMETER: (
        "A parameter is not read by any rule, directly or through a derived value (a warning).",
        "Remove it, or use it where it was meant to be used.",
    ),
    Code.UNUSED_SOURCE: (
        "A source is not cited by any rule or parameter (a warning).",
        "Remove it, or cite it where it applies.",
    ),
    Code.ACTION_KIND_CONFLICT: (
        "Two rules produce the same action as different kinds (e.g. one automatic, one discretionary), "
        "which would send one work item down two routes (a warning).",
        "Give the rules for one action the same kind, or use different action codes.",
    ),
    Code.SHADOWED_RULE: (
        "A rule repeats, unchanged, the rule of the same id it inherits from a parent set (a warning): "
        "it changes nothing and is probably left over from a copy.",
        "Remove it, or mark it `override: true` if the copy is deliberate.",
    ),
    Code.UNKNOWN_ACTION: (
        'A condition uses `taken("…")` or `days_since_taken("…")` for an action code that no rule '
        "of the set produces, so it only looks at actions recorded by hand (a warning; often a misspelling).",
        "Use the code of an action a rule of the set recommends (the message suggests the closest one).",
    ),
    Code.NOT_VECTORIZED: (
        "A caseload is decided case by case with this policy (the reference evaluator, about a "
        "hundred times slower) instead of vectorized: the message names the rule or derived value "
        "and the construct the vectorized evaluator cannot reproduce exactly (a warning; single "
        "cases are not affected). `cspolicy batch` reports the mode that ran.",
        "Write the expression another way (for example compare a quotient rather than output it), "
        "or accept the slower caseload runs.",
    ),
    Code.SNAPSHOT_INVALID: (
        "A case snapshot is invalid: a missing or unknown field, a wrong type, an impossible date.",
        "Fix the field named in the message; the snapshot reference lists every field.",
    ),
    Code.EVALUATION_FAILED: (
        "A rule could not be evaluated for one case.",
        "The message names the rule and condition; check the case's values.",
    ),
    Code.DIVISION_BY_ZERO: (
        "A condition divides by a value that is zero for this case (e.g. a monthly amount of 0).",
        "Guard the division with a condition before it (`order.monthly_amount > 0 and ...`); conditions "
        "stop at the first one that is not true.",
    ),
    Code.NO_PARAMETER_VALUE: (
        "A parameter has no value in force on the snapshot's date.",
        "Add a dated value that covers the date.",
    ),
    Code.WRONG_JURISDICTION: (
        "A case from one state was given to another state's policy set (a `US` policy set takes any state).",
        "Evaluate the case under its own state's policy set; check `jurisdiction.state` in the snapshot.",
    ),
    Code.EVENT_INVALID: (
        "The case monitor refused an event: not a JSON object, an unknown event type, a bad field, or an "
        "event dated before the case's current date. No case was changed.",
        "Fix the event named in the message; events for a case must come in date order.",
    ),
    Code.UNKNOWN_CASE: (
        "The case monitor received an event for a case it has not seen; a case starts with an "
        "`order_issued` event.",
        "Send the case's `order_issued` event first, or check the case id.",
    ),
    Code.MISSING_PARAMETER_KEY: (
        "A keyed parameter (a table of values by, e.g., county or case type) read as "
        "`params.NAME[key]` has no entry for this case's key in the table in force on the "
        "snapshot's date. The case is not decided: there is no silent default.",
        "Add an entry for the key (the message names the parameter and the key) to the "
        "parameter's dated value, or guard the condition (`jurisdiction.county in [...] and ...`).",
    ),
}


def _limits(module: object, names: dict[str, str]) -> str:
    """The safety limits a module defines, as text (leaving out any it no longer has)."""
    found = [f"{getattr(module, name):,} {label}" for name, label in names.items() if hasattr(module, name)]
    return f" The limits are at most {', '.join(found)}." if found else ""


def describe(code: Code) -> tuple[str, str]:
    """What a code means and how to fix it; codes added later read from their names until described."""
    from cspolicy.expressions import parser
    from cspolicy.source import yamlsource

    if code is Code.YAML_LIMIT:
        meaning, fix = DESCRIPTIONS[code]
        limits = {
            "MAX_DOCUMENT_BYTES": "bytes per file",
            "MAX_DEPTH": "levels of nesting",
            "MAX_NODES": "nodes",
            "MAX_ALIASES": "aliases",
            "MAX_SCALAR_CHARS": "characters per value",
        }
        return meaning + _limits(yamlsource, limits), fix
    if code is Code.EXPRESSION_LIMIT:
        meaning, fix = DESCRIPTIONS[code]
        limits = {"MAX_EXPRESSION_CHARS": "characters", "MAX_EXPRESSION_DEPTH": "levels of nesting"}
        return meaning + _limits(parser, limits), fix
    if code in DESCRIPTIONS:
        return DESCRIPTIONS[code]
    words = code.name.replace("_", " ").lower()
    return (f"Reported as “{words}”.", "The message names the problem and where it is.")
