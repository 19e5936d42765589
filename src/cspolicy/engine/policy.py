"""The public policy object: load once, evaluate many snapshots."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from cspolicy.diagnostics import Code, EvaluationError, Location, Problem
from cspolicy.engine.caseschema import CaseSchema, default_case_schema
from cspolicy.engine.compiler import CompiledPolicy, compile_source
from cspolicy.engine.decision import Decision, WhyNot
from cspolicy.engine.evaluate import ReferenceBackend
from cspolicy.engine.explain import explain
from cspolicy.engine.graph import QueryResult, build_graph, depends_on, evaluation_order, inputs_of
from cspolicy.engine.outcomes import CaseOutcome
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.source.loading import load_source

if TYPE_CHECKING:
    from collections.abc import Callable

    from cspolicy.caseload.batch import BatchResult, BatchSummary
    from cspolicy.rete.backend import RetePolicy


class PolicySet:
    """A compiled policy set (one version): evaluate case snapshots and explain the decisions."""

    def __init__(self, compiled: CompiledPolicy) -> None:
        self.compiled = compiled
        self.graph: nx.DiGraph = build_graph(compiled)
        self.order: list[str] = evaluation_order(self.graph)
        self.backend = ReferenceBackend(compiled, self.order)

    # -- identity ---------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.compiled.source.id

    @property
    def version(self) -> str:
        return self.compiled.source.version

    @property
    def title(self) -> str:
        return self.compiled.source.title

    @property
    def digest(self) -> str:
        """sha256 over the normalized policy, parents included."""
        return self.compiled.digest

    @property
    def effective_from(self) -> dt.date:
        return self.compiled.source.effective.from_

    @property
    def effective_to(self) -> dt.date | None:
        return self.compiled.source.effective.to

    @property
    def case_schema(self) -> CaseSchema:
        """The case schema this policy reads and validates snapshots against."""
        return self.compiled.case_schema or default_case_schema()

    @property
    def warnings(self) -> list[Problem]:
        return self.compiled.warnings

    @cached_property
    def rule_ids(self) -> list[str]:
        return list(self.compiled.rules)

    def __repr__(self) -> str:
        return f"<PolicySet {self.id} {self.version} ({len(self.compiled.rules)} rules)>"

    # -- the rule graph ---------------------------------------------------------------------
    def depends_on(self, name: str) -> QueryResult:
        """Everything downstream of a parameter (`params.x`), field, derived value or rule:
        what reads it (transitively), what those hold or lead to, and the actions produced.
        Raises UnknownNode (with a suggestion) for a name the policy does not have."""
        return depends_on(self.graph, name)

    def inputs_of(self, rule_id: str) -> QueryResult:
        """Every field, parameter and derived value a rule reads, through derived values."""
        return inputs_of(self.graph, rule_id)

    def check(self) -> list[Problem]:
        """Every warning about this policy: the loader's and the static analyser's (CSP4xx)."""
        from cspolicy.analysis.checks import check_policy

        return check_policy(self)

    # -- evaluation -------------------------------------------------------------------------
    def evaluate(self, snapshot: CaseSnapshot | dict[str, Any] | str | Path) -> Decision:
        """Evaluate one case; returns a Decision with actions, holds, waits, traces and citations.

        `snapshot` may be a CaseSnapshot, a dict, or a path to a YAML/JSON file.
        Raises SnapshotError for an invalid snapshot and EvaluationError when a rule cannot be
        evaluated for this case (e.g. division by zero) or the case predates this version.
        """
        return explain(self.run(snapshot))

    def run(self, snapshot: CaseSnapshot | dict[str, Any] | str | Path) -> CaseOutcome:
        """Decide one case without explaining it: rule by rule applies / held / waiting, with
        outputs and clocks on demand (`outcome.outputs(rule)`, `outcome.clock(rule)`).

        The same checks and errors as `evaluate`; `explain(outcome)` (cspolicy.engine.explain)
        turns the outcome into the Decision `evaluate` returns.
        """
        if type(snapshot) is dict:
            # Plain data (the common case): read straight into facts when the fast reader can
            # vouch for it; anything else is validated by the model below, errors and all.
            schema = self.case_schema
            facts = schema.read(snapshot)
            if facts is not None:
                case_path, date_path, state_path = schema.identity_paths
                case_id, as_of = facts[case_path], facts[date_path]
                case_state = None if state_path is None else facts[state_path]
                state, start, end = self._bounds
                if (
                    (state != "US" and case_state is not None and case_state != state)
                    or as_of < start
                    or (end is not None and as_of >= end)
                ):
                    self._check_case(case_id, as_of, case_state)  # raises the located error
                return self.backend.decide(CaseOutcome.from_facts(self.compiled, facts, case_id, as_of))
        case = _as_snapshot(snapshot, self.case_schema)
        self.check_jurisdiction(case)
        self.check_date(case)
        return self.backend.outcome(case)

    def to_rete(self) -> RetePolicy:
        """This policy as a durable-rules (Rete) network (needs the `rete` extra); see cspolicy.rete.backend."""
        from cspolicy.rete.backend import RetePolicy

        return RetePolicy(self)

    def evaluate_batches(
        self,
        source: Any,
        output: str | Path,
        errors: str | Path | None = None,
        *,
        batch_size: int = 100_000,
        on_batch: Callable[[BatchSummary], None] | None = None,
        layout: str = "long",
        workers: int | None = None,
    ) -> BatchSummary:
        """Evaluate a caseload (Parquet/CSV/Arrow/JSON Lines path, pandas or polars DataFrame) in
        chunks, writing decisions to `output` (`layout` long or wide) and error rows to `errors`
        (Parquet) as it goes, `workers` chunks at once; returns the BatchSummary. See
        `cspolicy.caseload.streaming.evaluate_batches`."""
        from cspolicy.caseload.streaming import evaluate_batches

        return evaluate_batches(
            self,
            source,
            output,
            errors,
            batch_size=batch_size,
            on_batch=on_batch,
            layout=layout,
            workers=workers,
        )

    def evaluate_frame(self, frame: Any, *, layout: str = "long") -> BatchResult:
        """Decide a caseload held in memory (polars or pandas DataFrame in the flat layout):
        the BatchResult's `decisions` (`layout` "long" or "wide") and `errors` frames. See
        `cspolicy.caseload.streaming.evaluate_frame`."""
        from cspolicy.caseload.streaming import evaluate_frame

        return evaluate_frame(self, frame, layout=layout)

    def why_not(
        self, snapshot: CaseSnapshot | dict[str, Any] | str | Path, rule_id: str, lang: str = "en"
    ) -> WhyNot:
        """Explain why `rule_id` did or did not lead to its action for this case (in `lang`)."""
        return self.evaluate(snapshot).why_not(rule_id, lang=lang)

    def check_jurisdiction(self, case: CaseSnapshot) -> None:
        """A state policy evaluates only that state's cases (a `US` policy takes any state)."""
        case_state = self.case_schema.value(case, "jurisdiction")  # the schema's identity says where
        self._check_state(case.case_id, case_state)

    def check_date(self, case: CaseSnapshot) -> None:
        self._check_day(case.case_id, case.as_of)

    @cached_property
    def _bounds(self) -> tuple[str, dt.date, dt.date | None]:
        """(state, first day, end day): what `_check_case` checks, read once."""
        return self.compiled.source.jurisdiction.state, self.effective_from, self.effective_to

    def _check_case(self, case_id: str, as_of: dt.date, case_state: str | None) -> None:
        self._check_state(case_id, case_state)
        self._check_day(case_id, as_of)

    def _check_state(self, case_id: str, case_state: str | None) -> None:
        state = self.compiled.source.jurisdiction.state
        if state != "US" and case_state is not None and case_state != state:
            raise EvaluationError(
                Problem(
                    Code.WRONG_JURISDICTION,
                    f"case is in {case_state} but {self.id} {self.version} applies to {state} cases",
                    Location(str(self.compiled.source.header.file)),
                ),
                case_id,
            )

    def _check_day(self, case_id: str, as_of: dt.date) -> None:
        start, end = self.effective_from, self.effective_to
        if as_of < start or (end is not None and as_of >= end):
            span = f"[{start}, {end or '…'})"
            raise EvaluationError(
                Problem(
                    Code.NO_VERSION,
                    f"snapshot dated {as_of} is outside {self.id} {self.version}'s effective dates {span}",
                    Location(str(self.compiled.source.header.file)),
                ),
                case_id,
            )


def _as_snapshot(
    snapshot: CaseSnapshot | dict[str, Any] | str | Path, schema: CaseSchema | None = None
) -> CaseSnapshot:
    """A validated snapshot of `schema` (child-support/v1 when None)."""
    if isinstance(snapshot, str | Path):
        return CaseSnapshot.from_file(snapshot, schema=schema)
    return CaseSnapshot.parse(snapshot, schema=schema)


def load_policy(path: str | Path, as_of: dt.date | str | None = None) -> PolicySet:
    """Load and compile the policy set at `path` (directory or file).

    When the set holds dated versions, `as_of` picks the version in force on that date (the
    latest when omitted). Raises PolicyError listing every located problem.
    """
    day = dt.date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    return PolicySet(compile_source(load_source(path, day)))
