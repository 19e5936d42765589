"""The expression sandbox: escape attempts are rejected at load time, located, and never run.

Every expression of the corpus is written into a copy of the fixture policy as the `when` of
rule `notice` and loaded. Each must fail with a PolicyError whose location is inside the
expression text (file:line:col). While loading and evaluating, an audit hook records any code
execution, process, socket or import event, `eval`/`exec` are replaced by tripwires, and
importing a sentinel module would create a marker file: none of them may fire.
"""

from __future__ import annotations

import builtins
import io
import keyword
import re
import sys
import tokenize
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cspolicy import Code, PolicyError, load_policy
from cspolicy.expressions import codegen
from cspolicy.expressions.closures import Context, compile_expression
from cspolicy.expressions.nodes import BoolOp, Name, Node, Unary
from cspolicy.expressions.parser import FUNCTIONS, MAX_EXPRESSION_CHARS, MAX_EXPRESSION_DEPTH

from helpers import FIXTURES

BASE = FIXTURES / "hostile" / "base" / "policy.yaml"
WHEN = "    when: arrears.total > params.threshold\n"
WHEN_LINE = 36  # line of WHEN in the fixture
PREFIX = "    when: "
SENTINEL_MODULE = "cspolicy_sandbox_sentinel"

# Audit events that mean something ran that policy text must never run.
FORBIDDEN_EVENTS = (
    "exec",
    "compile",  # allowed only as `Tripwires.allowed` says
    "function.__new__",
    "code.__new__",
    "code.replace",
    "import",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.kill",
    "os.remove",
    "os.rename",
    "os.chmod",
    "subprocess.Popen",
    "socket.",
    "ctypes.",
    "builtins.input",
    "pickle.",
    "marshal.",
    "shutil.",
    "webbrowser.",
    "urllib.",
)

OS = "__import__('os').system('touch pwned')"
CORPUS: list[tuple[str, Code]] = [
    # dunder access and introspection
    ("arrears.__class__ == 1", Code.FORBIDDEN_SYNTAX),
    ("arrears.total.__class__.__mro__ == 1", Code.FORBIDDEN_SYNTAX),
    ("params.__dict__ == 1", Code.FORBIDDEN_SYNTAX),
    ("__builtins__ == 1", Code.FORBIDDEN_SYNTAX),
    ("_ == 1", Code.FORBIDDEN_SYNTAX),
    ("().__class__.__bases__ == 1", Code.FORBIDDEN_SYNTAX),
    ('"".__class__ == 1', Code.FORBIDDEN_SYNTAX),
    # calls outside the whitelist, methods, attribute access on literals
    (OS + " == 0", Code.UNKNOWN_FUNCTION),
    ("__import__('os') == 1", Code.UNKNOWN_FUNCTION),
    ("getattr(arrears, 'total') > 1", Code.UNKNOWN_FUNCTION),
    ("eval('1') == 1", Code.UNKNOWN_FUNCTION),
    ("exec('x') == 1", Code.UNKNOWN_FUNCTION),
    ("compile('1', 'f', 'eval') == 1", Code.UNKNOWN_FUNCTION),
    ("open('/etc/passwd') == 1", Code.UNKNOWN_FUNCTION),
    ("globals() == 1", Code.UNKNOWN_FUNCTION),
    ("vars() == 1", Code.UNKNOWN_FUNCTION),
    ("breakpoint() == 1", Code.UNKNOWN_FUNCTION),
    ("type(arrears) == 1", Code.UNKNOWN_FUNCTION),
    ("''.join(['a']) == 'a'", Code.UNKNOWN_FUNCTION),
    ("case_id.upper() == 'A'", Code.UNKNOWN_FUNCTION),
    ("min.__call__(1, 2) > 0", Code.UNKNOWN_FUNCTION),
    ("(min)(1) > 0", Code.BAD_ARGUMENTS),
    # functions-as-values, comprehensions, assignment, f-strings, subscripts
    ("(lambda: 1)() > 0", Code.UNKNOWN_FUNCTION),
    ("lambda: 1", Code.FORBIDDEN_SYNTAX),
    ("[x for x in payments] == 1", Code.FORBIDDEN_SYNTAX),
    ("any(x for x in payments)", Code.UNKNOWN_FUNCTION),
    ("{k: 1 for k in payments} == 1", Code.FORBIDDEN_SYNTAX),
    ("(x := 5) > 1", Code.FORBIDDEN_SYNTAX),
    ("f'{arrears.total}' == 'a'", Code.FORBIDDEN_SYNTAX),
    ("f'{__import__(\"os\")}' == 'a'", Code.FORBIDDEN_SYNTAX),
    ("payments[0] > 1", Code.FORBIDDEN_SYNTAX),
    ("paying_parent.licenses[0:1] == 1", Code.FORBIDDEN_SYNTAX),
    ("{1: 2} == 1", Code.FORBIDDEN_SYNTAX),
    ("{1} == 1", Code.FORBIDDEN_SYNTAX),
    ("(arrears.total if __import__('os') else 0) > 1", Code.UNKNOWN_FUNCTION),
    ("arrears[0] > 1", Code.FORBIDDEN_SYNTAX),
    ("payments[0].amount > 1", Code.FORBIDDEN_SYNTAX),
    ("params.threshold[0:1] > 1", Code.FORBIDDEN_SYNTAX),
    ("params.threshold[case_id] > 1", Code.TYPE_MISMATCH),
    ("params.nope[case_id] > 1", Code.UNKNOWN_PARAMETER),
    ("(arrears.total if True else case_id) == 1", Code.TYPE_MISMATCH),
    ("(None if True else None) == 1", Code.TYPE_MISMATCH),
    ("await arrears", Code.FORBIDDEN_SYNTAX),
    ("(yield)", Code.FORBIDDEN_SYNTAX),
    # memory and time exhaustion
    ("'a' * 10**9 == 'b'", Code.FORBIDDEN_SYNTAX),
    ("10**10**10 > 1", Code.FORBIDDEN_SYNTAX),
    ("case_id * 1000000000 == 'a'", Code.TYPE_MISMATCH),
    ("arrears.total > 99999999999999999999", Code.EXPRESSION_LIMIT),
    ("arrears.total > 1.0e999999", Code.EXPRESSION_LIMIT),
    ("(" * 200 + "arrears.total" + ")" * 200 + " > 0", Code.EXPRESSION_LIMIT),
    ("-" * 500 + "arrears.total < 0", Code.EXPRESSION_LIMIT),
    ("not " * 100 + "receiving_parent.family_violence_indicator", Code.EXPRESSION_LIMIT),
    ("arrears.total > " + " + ".join(["1"] * 100), Code.EXPRESSION_LIMIT),
    ("arrears.total > " + " + ".join(["1"] * 1000), Code.EXPRESSION_LIMIT),
    ("arrears.total > 0" + " or arrears.total > 0" * 200, Code.EXPRESSION_LIMIT),
    # nested quantifiers multiply the work by each list's length
    ("any_of(payments, any_of(payments, amount > 1))", Code.BAD_ARGUMENTS),
    ("any_of(payments, count_of(paying_parent.warrants, status == 'active') > 0)", Code.BAD_ARGUMENTS),
    ("count_of(payments, any_of(payments, any_of(payments, amount > 1))) > 0", Code.BAD_ARGUMENTS),
    ("any_of(max(1, 2), amount > 1)", Code.BAD_ARGUMENTS),
    ("any_of(arrears.total, amount > 1)", Code.BAD_ARGUMENTS),
    ("sum_of(payments, amount, sum_of(payments, amount) > 1) > 1", Code.BAD_ARGUMENTS),
    ("any_of(payments, max_of(payments, amount) > 1)", Code.BAD_ARGUMENTS),
    ("max_of(payments, amount.__class__) > 1", Code.BAD_ARGUMENTS),
    ("max_of(payments, applied_to) > 1", Code.TYPE_MISMATCH),
    ("sum_of(payments, date) > 1", Code.TYPE_MISMATCH),
    ("max_of(payments, nope) > 1", Code.UNKNOWN_NAME),
    ("max_of(payments) > 1", Code.BAD_ARGUMENTS),
    ("coalesce(arrears.total) > 1", Code.BAD_ARGUMENTS),
    ("add_days(as_of, as_of) > as_of", Code.BAD_ARGUMENTS),
    # lookalike names, escapes and odd literals
    ("ａrrears.total > 1", Code.FORBIDDEN_SYNTAX),  # fullwidth a folds to ASCII under NFKC
    ("аrrears.total > 1", Code.FORBIDDEN_SYNTAX),  # Cyrillic a
    ("arrears.ᴛotal > 1", Code.FORBIDDEN_SYNTAX),
    ("case_id == '\\N{LATIN SMALL LETTER A}'", Code.FORBIDDEN_SYNTAX),
    ("case_id == '\\x41'", Code.FORBIDDEN_SYNTAX),
    ("case_id == r'a'", Code.FORBIDDEN_SYNTAX),
    ("case_id == u'a'", Code.FORBIDDEN_SYNTAX),
    ("case_id == b'a'", Code.FORBIDDEN_SYNTAX),
    ("case_id == 'a\u202eb'", Code.FORBIDDEN_SYNTAX),  # right-to-left override
    ("arrears.total\u200b > 1", Code.EXPRESSION_SYNTAX),
    ("... == 1", Code.FORBIDDEN_SYNTAX),
    ("arrears.total > 1j", Code.FORBIDDEN_SYNTAX),
    # starred, keyword arguments, other operators and statements
    ("max(*[1, 2]) > 1", Code.FORBIDDEN_SYNTAX),
    ("max(**{'a': 1}) > 1", Code.BAD_ARGUMENTS),
    ("max(1, 2, key=abs) > 1", Code.BAD_ARGUMENTS),
    ("date(year=2020) == as_of", Code.BAD_ARGUMENTS),
    ("arrears.total @ 2 > 1", Code.FORBIDDEN_SYNTAX),
    ("arrears.total // 2 > 1", Code.FORBIDDEN_SYNTAX),
    ("arrears.total % 2 > 1", Code.FORBIDDEN_SYNTAX),
    ("arrears.total << 2 > 1", Code.FORBIDDEN_SYNTAX),
    ("arrears.total > ~1", Code.FORBIDDEN_SYNTAX),
    ("arrears.total is None", Code.FORBIDDEN_SYNTAX),
    ("arrears.total > 1; import os", Code.EXPRESSION_SYNTAX),
    ("import os", Code.EXPRESSION_SYNTAX),
    ("arrears.total > 1 and", Code.EXPRESSION_SYNTAX),
    ("case_id in case_id", Code.FORBIDDEN_SYNTAX),
    ("case_id in [case_id]", Code.FORBIDDEN_SYNTAX),
    # not a function of the language
    ("taken(__import__('os')) == 1", Code.BAD_ARGUMENTS),
    ("days_since_taken(OS) > 1", Code.BAD_ARGUMENTS),
    ("date(__import__('os')) == as_of", Code.BAD_ARGUMENTS),
    ("date('9999-99-99') == as_of", Code.BAD_ARGUMENTS),
]


def quoted(expression: str) -> tuple[str, int]:
    """YAML text for `expression` and the 1-based column where its characters start."""
    start = len(PREFIX) + 1
    if "'" not in expression:
        return f"'{expression}'", start + 1
    if '"' not in expression and "\\" not in expression:
        return f'"{expression}"', start + 1
    literal = expression.replace("'", "''")
    return f"'{literal}'", start + 1


def write_policy(directory: Path, expression: str) -> tuple[Path, int]:
    text, column = quoted(expression)
    source = BASE.read_text(encoding="utf-8")
    assert WHEN in source
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "policy.yaml"
    path.write_text(source.replace(WHEN, PREFIX + text + "\n"), encoding="utf-8")
    return path, column


def generated_source_problems(source: str) -> list[str]:
    """What in generated source could have come from outside the generator: any string or number
    literal, any name other than a keyword, a fixed attribute or a made `_x12` name."""
    problems = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME:
            name = token.string
            if not (
                keyword.iskeyword(name) or name in codegen.ATTRIBUTES or re.fullmatch(r"_[a-z][0-9]+", name)
            ):
                problems.append(f"name {name!r}")
        elif token.type not in (
            tokenize.OP,
            tokenize.NEWLINE,
            tokenize.NL,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENDMARKER,
        ):
            problems.append(f"{tokenize.tok_name[token.type]} {token.string!r}")
    return problems


class Tripwires:
    """Records audit events and tripwire calls while armed."""

    def __init__(self) -> None:
        self.armed = False
        self.events: list[str] = []
        self.generated: list[str] = []  # source compiled by cspolicy.expressions.codegen, vetted below

    def allowed(self, event: str, args: tuple[Any, ...]) -> bool:
        """The only code made while armed: expressions parsed to a syntax tree (`ast.parse`, no code
        object), and the generator's own functions, whose source passes `generated_source_problems`."""
        caller = sys._getframe(2).f_globals.get("__name__")  # 0: this, 1: hook, 2: the caller
        if event == "compile" and caller == "ast":
            return True
        if caller != codegen.__name__:
            return False
        if event == "compile":
            source, filename = args[0], args[1]
            text = source.decode() if isinstance(source, bytes) else source
            if filename != codegen.FILENAME or not isinstance(text, str) or generated_source_problems(text):
                return False
            self.generated.append(text)
            return True
        return event == "function.__new__" and args[0].co_filename == codegen.FILENAME

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self.armed and event.startswith(FORBIDDEN_EVENTS) and not self.allowed(event, args):
            self.events.append(f"{event} {args!r:.120}")

    def tripped(self, name: str) -> Any:
        def tripwire(*args: Any, **kwargs: Any) -> Any:
            self.events.append(f"builtins.{name} called")
            raise AssertionError(f"{name} was called")

        return tripwire


_TRIPWIRES = Tripwires()
sys.addaudithook(_TRIPWIRES.hook)  # audit hooks cannot be removed; it records only while armed


@pytest.fixture
def tripwires(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Tripwires]:
    """Arm the audit hook, replace eval/exec, and plant a sentinel module that marks its import."""
    marker = tmp_path / "sentinel-imported"
    (tmp_path / f"{SENTINEL_MODULE}.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    real_import = builtins.__import__

    def guarded_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] in ("os", "subprocess", "socket", "ctypes", "shutil", SENTINEL_MODULE):
            _TRIPWIRES.events.append(f"import {name}")
            raise AssertionError(f"import of {name}")
        return real_import(name, *args, **kwargs)

    load_policy(BASE.parent)  # warm up: first-time imports are legitimate
    _TRIPWIRES.events.clear()
    _TRIPWIRES.generated.clear()
    monkeypatch.setattr(builtins, "eval", _TRIPWIRES.tripped("eval"))
    monkeypatch.setattr(builtins, "exec", _TRIPWIRES.tripped("exec"))
    monkeypatch.setattr(builtins, "__import__", guarded_import)
    _TRIPWIRES.armed = True
    try:
        yield _TRIPWIRES
    finally:
        _TRIPWIRES.armed = False
    assert not marker.exists(), "the sentinel module was imported"


@pytest.mark.parametrize(("expression", "code"), CORPUS, ids=[str(i) for i in range(len(CORPUS))])
def test_escape_attempt_is_rejected_located_and_never_runs(
    tmp_path: Path, tripwires: Tripwires, expression: str, code: Code
) -> None:
    path, start = write_policy(tmp_path / "policy", expression)
    with pytest.raises(PolicyError) as caught:
        load_policy(path.parent)
    problems = caught.value.problems
    assert [p.code for p in problems] == [code], [str(p) for p in problems]
    location = problems[0].location
    assert location.file == str(path)
    assert location.line == WHEN_LINE
    written = len(quoted(expression)[0]) - 2
    assert start <= location.column <= start + written, f"{location} is outside the expression"
    assert tripwires.events == []


def test_sentinel_and_tripwires_do_fire(tmp_path: Path, tripwires: Tripwires) -> None:
    """The guards are live: a real import of the sentinel is caught (so silence above means something)."""
    with pytest.raises(AssertionError):
        __import__(SENTINEL_MODULE)
    with pytest.raises(AssertionError):
        eval("1")
    assert tripwires.events[:2] == [f"import {SENTINEL_MODULE}", "builtins.eval called"]
    tripwires.events.clear()
    # Code made anywhere but the generator is caught, even under the generator's file name.
    compile("1", "<string>", "eval")
    compile("_c0", codegen.FILENAME, "eval")
    assert [event.split()[0] for event in tripwires.events] == ["compile", "compile"]
    tripwires.events.clear()


def test_generator_refuses_source_it_could_not_have_made() -> None:
    for fragment in ("{} = 'x'", "{} = 1", "{} = open", "{} = {}.__class__"):
        source = codegen.Source()
        source.line(0, "def {}({}):", source.name("r"), source.name("a"))
        source.line(1, fragment, source.name("v"), source.name("v"))
        with pytest.raises(codegen.UnsafeSource):
            source.build("_r0")
        assert generated_source_problems("\n".join(source.lines))  # the test's own check agrees
    with pytest.raises(codegen.UnsafeSource):
        codegen.Source().line(0, "{} = 1", "os")  # only made names fill a fragment


def test_code_in_text_is_only_text(tmp_path: Path, tripwires: Tripwires) -> None:
    """Text that looks like code loads as a string literal, evaluates as a comparison, runs nothing."""
    expression = f'case_id == "{OS}" or case_id == "{SENTINEL_MODULE}"'
    path, _ = write_policy(tmp_path / "policy", expression)
    policy = load_policy(path.parent)
    snapshot = {
        "case_id": "A-1",
        "as_of": "2025-01-01",
        "jurisdiction": {"state": "WI"},
        "order": {"established_on": "2020-01-01", "monthly_amount": "100"},
        "arrears": {"family_owed": "600"},
    }
    decision = policy.evaluate(snapshot)
    assert "send_delinquency_notice" not in [a.action for a in decision.actions]
    why = decision.why_not("notice")
    assert OS in str(why)
    decision.to_json()
    snapshot["case_id"] = SENTINEL_MODULE
    assert "send_delinquency_notice" in [a.action for a in policy.evaluate(snapshot).actions]
    assert tripwires.events == []
    # The snapshot reader was generated while armed: its source has no token of the policy's text.
    assert tripwires.generated, "no generated source was seen: the check above proved nothing"
    schema = policy.case_schema.source
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", path.read_text(encoding="utf-8")))
    for field_path, located in schema.fields.items():
        words.update(field_path.split("."))
        words.update(located.item.choices or ())
        words.update((located.item.items or {}).keys())
    for source in tripwires.generated:
        assert generated_source_problems(source) == []
        tokens = {t.string for t in tokenize.generate_tokens(io.StringIO(source).readline)}
        assert not {t for t in tokens if not keyword.iskeyword(t)} & words
        assert OS not in source and SENTINEL_MODULE not in source and "case_id" not in source


def test_all_problems_are_reported_in_one_pass(tmp_path: Path, tripwires: Tripwires) -> None:
    source = BASE.read_text(encoding="utf-8")
    source = source.replace(WHEN, PREFIX + "'__import__(\"os\") == 1'\n")
    source = source.replace(
        "months_behind: arrears.total / order.monthly_amount", "months_behind: arrears.total ** 2"
    )
    (tmp_path / "policy.yaml").write_text(source, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path)
    assert [(p.code, p.location.line) for p in caught.value.problems] == [
        (Code.FORBIDDEN_SYNTAX, 29),  # the derived value
        (Code.UNKNOWN_FUNCTION, WHEN_LINE),  # rule notice
        (Code.UNKNOWN_NAME, 44),  # rule lien reads the derived value that failed
    ]
    assert tripwires.events == []


def test_limits_are_the_documented_ones() -> None:
    # docs/security.md quotes these numbers; a change here must change the docs too.
    assert (MAX_EXPRESSION_CHARS, MAX_EXPRESSION_DEPTH) == (2_000, 40)
    assert set(FUNCTIONS) >= {"min", "max", "abs", "any_of", "count_of", "date"}
    assert not {"eval", "exec", "getattr", "open", "__import__", "compile", "globals"} & set(FUNCTIONS)


def test_generated_conditions_agree_with_closures_even_when_deeply_nested() -> None:
    """An `and` of 150 parts and 60 nested `not`s (past the parser's bracket limit if inlined)."""

    def flag() -> Name:
        return Name(path="flag", kind="field")

    deep: Node = flag()
    for _ in range(60):
        deep = Unary(op="not", operand=deep)
    for node in (BoolOp(op="and", operands=[flag() for _ in range(150)]), deep):
        source = codegen.Source()
        context, facts, params, derive = (source.name("a") for _ in range(4))
        inline = codegen.Expressions(source, facts, params, derive, context)
        source.line(0, "def {}({}, {}, {}, {}):", source.name("r"), context, facts, params, derive)
        source.line(1, "return " + inline(node))
        generated = source.build("_r0")
        for value in (True, False, None):
            case = Context({"flag": value}, {}, {})
            assert generated(case, case.facts, case.params, case.derive) == compile_expression(node)(case)
