"""Caseloads across policy versions: each row decided under the version in force on its as_of.

Like `PolicyVersions.evaluate` for one case: a Wisconsin caseload with snapshots from 2024 and
2025 is decided by version 2024.1 for the first and 2025.1 for the second (and a set extending a
versioned parent gets the parent version of each date). The dates are read from the caseload
first (one column), so the output has one fixed schema: the union of the versions' columns.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from cspolicy.caseload.checks import ERROR_SCHEMA, ROW, check_table
from cspolicy.caseload.readers import CaseloadSource, source_format
from cspolicy.caseload.results import BatchResult, BatchSummary, conform
from cspolicy.caseload.streaming import DEFAULT_BATCH_SIZE, CaseloadEvaluator, stream
from cspolicy.diagnostics import CSPolicyError
from cspolicy.engine.policy import PolicySet, load_policy
from cspolicy.engine.versions import PolicyVersions
from cspolicy.source.loading import select_version, version_directories


class VersionedEvaluator:
    """Decides raw chunks, each row under the version of `path` in force on its as_of."""

    def __init__(self, path: str | Path, days: Iterable[dt.date], layout: str = "long") -> None:
        self.path = Path(path)
        self.layout = layout
        self.versions = PolicyVersions(path)
        self.by_digest: dict[str, CaseloadEvaluator] = {}
        self.by_day: dict[dt.date, CaseloadEvaluator | str] = {}
        # Which version directory each dated set (this one and the ones it extends) picks for a
        # day: days with the same picks get the same policy, loaded and compiled once.
        self.dated_sets: list[Path] = [self.path] if version_directories(self.path) else []
        self.by_picks: dict[tuple[str, ...], CaseloadEvaluator] = {}
        self._settle(sorted(set(days)))
        if not self.by_digest:  # no dated rows at all: the latest version validates them
            latest = self.versions.latest()
            self.by_digest[latest.digest] = CaseloadEvaluator(latest, self.layout)
        self.schema = union_schema([e.schema for e in self.by_digest.values()])

    @property
    def mode(self) -> str:
        """`vectorized` when every version involved runs vectorized, `reference` when none
        does, else `mixed`."""
        modes = {e.mode for e in self.by_digest.values()}
        return modes.pop() if len(modes) == 1 else "mixed"

    @property
    def rule_actions(self) -> dict[str, str]:
        """Rule id -> action code over every version involved (to count a wide table's actions)."""
        return {
            rule_id: rule.rule.action or rule_id
            for evaluator in self.by_digest.values()
            for rule_id, rule in evaluator.policy.compiled.rules.items()
        }

    def _learn(self, policy: PolicySet) -> None:
        """Add the dated sets (sets with version directories) that `policy`'s chain goes through."""
        known = {directory.resolve() for directory in self.dated_sets}
        for _, _, chosen in policy.compiled.source.chain:
            parent = Path(chosen).parent
            if parent.resolve() not in known and version_directories(parent):
                self.dated_sets.append(parent)
                known.add(parent.resolve())

    def _settle(self, days: list[dt.date]) -> None:
        """Assign every day a version, reading version headers only around the changes: a dated
        set's versions follow each other in time, so the picks are constant between changes
        and bisection finds them (reading every header for every day is slow: a policy file is
        parsed to read its `effective`)."""
        if not days:
            return
        latest = load_policy(self.path)  # its chain names the dated sets this one extends
        self._learn(latest)
        self.by_digest.setdefault(latest.digest, CaseloadEvaluator(latest, self.layout))
        picks: dict[dt.date, tuple[str, ...]] = {}

        def pick(day: dt.date) -> tuple[str, ...]:
            if day not in picks:
                try:
                    picks[day] = tuple(str(select_version(d, day)) for d in self.dated_sets)
                except CSPolicyError as exc:
                    picks[day] = ("no version", str(exc))
            return picks[day]

        def fill(low: int, high: int) -> None:
            if pick(days[low]) == pick(days[high]):
                found = self.for_day(days[low])
                for day in days[low : high + 1]:
                    self.by_day.setdefault(day, found)
            elif high - low <= 1:
                self.for_day(days[low])
                self.for_day(days[high])
            else:
                middle = (low + high) // 2
                fill(low, middle)
                fill(middle, high)

        fill(0, len(days) - 1)

    def for_day(self, day: dt.date) -> CaseloadEvaluator | str:
        """The evaluator for snapshots dated `day`, or why no version applies."""
        known = self.by_day.get(day)
        if known is not None:
            return known
        found: CaseloadEvaluator | str
        try:
            picks = tuple(str(select_version(directory, day)) for directory in self.dated_sets)
            found = self.by_picks.get(picks) or self._load(day, picks)
        except CSPolicyError as exc:
            found = f"no version of the policy set applies on {day}: {exc}"
        self.by_day[day] = found
        return found

    def _load(self, day: dt.date, picks: tuple[str, ...]) -> CaseloadEvaluator:
        policy = load_policy(self.path, day)
        evaluator = self.by_digest.setdefault(policy.digest, CaseloadEvaluator(policy, self.layout))
        self._learn(policy)
        if len(picks) == len(self.dated_sets):
            self.by_picks[picks] = evaluator
        else:  # a dated parent was just learnt: key this day by every pick
            self.by_picks[tuple(str(select_version(d, day)) for d in self.dated_sets)] = evaluator
        return evaluator

    def evaluate(self, raw: pl.DataFrame, first_row: int = 1) -> BatchResult:
        """Validate a chunk once, then decide each row under its date's version."""
        checked = check_table(raw, first_row)
        valid = checked.valid
        decisions: list[pl.DataFrame] = []
        errors: list[pl.DataFrame] = [checked.errors]
        rechecked = 0
        groups: dict[int, list[dt.date]] = {}
        for day in valid.get_column("as_of").unique().to_list():
            groups.setdefault(id(self.for_day(day)), []).append(day)
        for days in groups.values():
            found = self.for_day(days[0])
            rows = valid.filter(pl.col("as_of").is_in(days))
            if isinstance(found, str):
                errors.append(
                    rows.select(pl.col(ROW).alias("row_number"), "case_id", pl.lit(found).alias("reason"))
                )
                continue
            result = found.decide(rows)
            rechecked += result.rechecked
            decisions.append(conform(result.decisions, self.schema))
            errors.append(result.errors)
        table = (
            pl.concat(decisions).sort("row_number", maintain_order=True)
            if decisions
            else pl.DataFrame(schema=self.schema)
        )
        error_rows = pl.concat([e.cast(ERROR_SCHEMA) for e in errors]).sort("row_number")  # type: ignore[arg-type]
        return BatchResult(table, error_rows, raw.height, rechecked)


def union_schema(schemas: list[dict[str, pl.DataType]]) -> dict[str, pl.DataType]:
    """One decisions schema for several versions: Enums over every version's values, each output
    column once (Decimal at the widest scale; differing types as text)."""
    union: dict[str, pl.DataType] = {}
    for schema in schemas:
        for name, dtype in schema.items():
            seen = union.get(name)
            if seen is None:
                union[name] = dtype
            elif isinstance(seen, pl.Enum) and isinstance(dtype, pl.Enum):
                union[name] = pl.Enum(
                    sorted(set(seen.categories.to_list()) | set(dtype.categories.to_list()))
                )
            elif isinstance(seen, pl.Decimal) and isinstance(dtype, pl.Decimal):
                union[name] = pl.Decimal(38, max(seen.scale or 0, dtype.scale or 0))
            elif seen != dtype:
                union[name] = pl.String()
    outputs = sorted(name for name in union if name.startswith("outputs."))
    return {
        **{k: v for k, v in union.items() if not k.startswith("outputs.")},
        **{k: union[k] for k in outputs},
    }


def as_of_days(source: CaseloadSource) -> set[dt.date]:
    """Every snapshot date in a caseload (unreadable ones left out: validation reports them)."""
    if isinstance(source, pl.DataFrame):
        column = source.get_column("as_of") if "as_of" in source.columns else None
    elif not isinstance(source, str | Path):
        frame = pl.from_pandas(source[["as_of"]]) if "as_of" in source.columns else None
        column = frame.get_column("as_of") if frame is not None else None
    else:
        column = _file_days(Path(source))
    if column is None:
        return set()
    return set(_dates(column.unique()).drop_nulls().to_list())


def _file_days(path: Path) -> pl.Series | None:
    kind = source_format(path)
    try:
        if kind == "parquet":
            return pl.scan_parquet(path).select("as_of").unique().collect().get_column("as_of")
        if kind == "ipc":
            return pl.scan_ipc(path).select("as_of").unique().collect().get_column("as_of")
        if kind == "csv":
            scan = pl.scan_csv(path, infer_schema=False, truncate_ragged_lines=True)
            return scan.select("as_of").unique().collect().get_column("as_of")
    except (pl.exceptions.PolarsError, OSError):
        return None
    return pl.Series("as_of", sorted(_jsonl_days(path)), dtype=pl.String)


def _jsonl_days(path: Path) -> set[str]:
    days: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                data: Any = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict) and isinstance(data.get("as_of"), str):
                days.add(data["as_of"])
    return days


def _dates(column: pl.Series) -> pl.Series:
    if column.dtype == pl.Date:
        return column
    if isinstance(column.dtype, pl.Datetime):
        return column.dt.date()
    return column.cast(pl.String).str.strip_chars().str.strptime(pl.Date, "%Y-%m-%d", strict=False)


def evaluate_versioned_batches(
    path: str | Path,
    source: CaseloadSource,
    output: str | Path,
    errors: str | Path | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Any = None,
    layout: str = "long",
) -> tuple[BatchSummary, VersionedEvaluator]:
    """Like `evaluate_batches`, each row under the version of `path` in force on its date."""
    evaluator = VersionedEvaluator(path, as_of_days(source), layout)
    summary = stream(evaluator, source, output, errors, batch_size=batch_size, on_batch=on_batch)
    return summary, evaluator
