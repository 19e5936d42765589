"""Decision records: what was decided, under which exact policy, from which facts — and replay.

A record pins a decision to the policy digest, the parameter values in force, a digest of the
canonical snapshot, the cspolicy version and the evaluation time. The record id is
deterministic: `rec-` and the first 32 hex digits of sha256 over the policy digest, the
snapshot digest and the evaluation time, so saving the same evaluation twice is idempotent.

Policy texts are the YAML files a policy was compiled from, parents included, keyed by their
path relative to the nearest common directory; `compile_policy_texts` writes them to a temporary
directory with the same layout and compiles them again, so a stored record can always be
replayed under exactly the policy that made it, whatever has happened to the files since.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from collections import OrderedDict
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cspolicy._version import __version__
from cspolicy.diagnostics import Code, CSPolicyError, Location, PolicyError, Problem
from cspolicy.engine.compiler import CompiledPolicy
from cspolicy.engine.decision import Decision, PolicyRef
from cspolicy.engine.outputs import json_value
from cspolicy.engine.policy import PolicySet, load_policy
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.source.loading import policy_files


class ReplayMismatch(CSPolicyError):
    """A record cannot be replayed faithfully: the snapshot or policy is not the one recorded."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class DecisionRecord(BaseModel):
    """Everything needed to show, months later, what was recommended, why, and to reproduce it."""

    model_config = ConfigDict(frozen=True)

    record_id: str
    case_id: str
    as_of: dt.date
    policy: PolicyRef
    parameters: dict[str, Any] = Field(description="Every parameter value in force on `as_of`")
    snapshot_digest: str
    decision_digest: str = Field(description="sha256 of `decision.to_json()`")
    cspolicy_version: str
    evaluated_at: dt.datetime


class PolicyTexts(BaseModel):
    """The YAML texts of a compiled policy and its parents, by relative POSIX path."""

    model_config = ConfigDict(frozen=True)

    digest: str
    policy_id: str
    version: str
    root: str = Field(description="Relative path of the set that was evaluated (file or directory)")
    files: dict[str, str]


def canonical_snapshot(snapshot: CaseSnapshot) -> str:
    """The snapshot as canonical JSON (sorted keys, no spaces): what is digested and stored."""
    data = snapshot.model_dump(mode="json")
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def snapshot_digest(snapshot: CaseSnapshot) -> str:
    """sha256 of the canonical snapshot."""
    return _sha256(canonical_snapshot(snapshot))


def snapshot_from_canonical(text: str) -> CaseSnapshot:
    """Parse a stored canonical snapshot back (amounts stay exact: they are stored as text)."""
    return CaseSnapshot.parse(json.loads(text), source="<stored snapshot>")


def decision_digest(decision: Decision, decision_json: str | None = None) -> str:
    """sha256 of the decision's deterministic JSON (`decision_json` when already rendered)."""
    return _sha256(decision.to_json() if decision_json is None else decision_json)


def record_id(policy_digest: str, snapshot_digest_: str, evaluated_at: dt.datetime) -> str:
    """The deterministic record id of one evaluation."""
    key = f"{policy_digest}\n{snapshot_digest_}\n{evaluated_at.isoformat()}"
    return "rec-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def build_record(decision: Decision, decision_json: str | None = None) -> DecisionRecord:
    """The record of a decision produced by an evaluation (`decision_json`: its `to_json()`,
    when the caller has it already — rendering it is the costly part)."""
    if not decision.evaluated:
        raise ReplayMismatch("this decision was not produced by an evaluation; it has no record")
    run = decision.outcome
    digest = snapshot_digest(run.snapshot)
    evaluated_at = decision.evaluated_at
    return DecisionRecord(
        record_id=record_id(decision.policy.digest, digest, evaluated_at),
        case_id=decision.case_id,
        as_of=decision.as_of,
        policy=decision.policy,
        parameters={name: json_value(run.params[name]) for name in sorted(run.params)},
        snapshot_digest=digest,
        decision_digest=decision_digest(decision, decision_json),
        cspolicy_version=__version__,
        evaluated_at=evaluated_at,
    )


def replay(
    record: DecisionRecord,
    snapshot: CaseSnapshot,
    policy: PolicySet | PolicyTexts,
) -> Decision:
    """Evaluate the recorded snapshot under the recorded policy; raise ReplayMismatch when the
    snapshot or the policy given is not the one the record names."""
    if snapshot_digest(snapshot) != record.snapshot_digest:
        raise ReplayMismatch(
            f"record {record.record_id}: the snapshot given is not the one recorded "
            f"({snapshot_digest(snapshot)} ≠ {record.snapshot_digest})"
        )
    compiled = compile_policy_texts(policy) if isinstance(policy, PolicyTexts) else policy
    if compiled.digest != record.policy.digest:
        raise ReplayMismatch(
            f"record {record.record_id}: policy {compiled.id} {compiled.version} has digest "
            f"{compiled.digest}, the record was made under {record.policy.digest}"
        )
    return compiled.evaluate(snapshot)


# -- policy texts --------------------------------------------------------------------------------


def policy_texts(policy: PolicySet | CompiledPolicy) -> PolicyTexts:
    """Read the YAML files a compiled policy came from (its parents' included)."""
    compiled = policy if isinstance(policy, CompiledPolicy) else policy.compiled
    chain = compiled.source.chain
    files: list[Path] = []
    for _, _, path in chain:
        chosen = path.resolve()
        files.extend(policy_files(chosen) if chosen.is_dir() else [chosen])
    roots = [p.resolve() if p.is_dir() else p.resolve().parent for _, _, p in chain]
    base = Path(os.path.commonpath([str(r) for r in roots]))
    texts: dict[str, str] = {}
    for file in files:
        relative = PurePosixPath(file.relative_to(base).as_posix())
        try:
            texts[str(relative)] = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(
                [Problem(Code.FILE_NOT_FOUND, f"cannot read: {exc}", Location(str(file)))]
            ) from None
    root = chain[-1][2].resolve()
    return PolicyTexts(
        digest=compiled.digest,
        policy_id=compiled.source.id,
        version=compiled.source.version,
        root=root.relative_to(base).as_posix() if root != base else ".",
        files=dict(sorted(texts.items())),
    )


# Policies rebuilt from stored texts, by content; bounded, least recently used dropped first.
_COMPILED: OrderedDict[str, PolicySet] = OrderedDict()
_COMPILED_MAX = 32


def compile_policy_texts(texts: PolicyTexts) -> PolicySet:
    """Compile stored policy texts (cached by digest); PolicyError when they do not give the
    digest they were stored under."""
    key = _sha256(json.dumps([texts.digest, texts.root, texts.files], sort_keys=True))
    cached = _COMPILED.get(key)
    if cached is not None:
        _COMPILED.move_to_end(key)
        return cached
    with tempfile.TemporaryDirectory(prefix="cspolicy-stored-") as directory:
        base = Path(directory)
        for relative, text in texts.files.items():
            target = base / PurePosixPath(relative)
            if ".." in PurePosixPath(relative).parts or PurePosixPath(relative).is_absolute():
                raise PolicyError(
                    [
                        Problem(
                            Code.INVALID_VALUE, "stored policy path leaves its directory", Location(relative)
                        )
                    ]
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        policy = load_policy(base / texts.root)
        outside = [
            str(path)
            for _, _, path in policy.compiled.source.chain
            if not path.resolve().is_relative_to(base.resolve())
        ]
        if outside:
            raise PolicyError(
                [
                    Problem(
                        Code.INVALID_VALUE,
                        f"`extends` reaches outside the stored files ({', '.join(outside)}): "
                        "use a relative `extends` so the policy can be rebuilt from the store",
                        Location(texts.root),
                    )
                ]
            )
    if policy.digest != texts.digest:
        raise PolicyError(
            [
                Problem(
                    Code.INVALID_VALUE,
                    f"stored texts of {texts.policy_id} {texts.version} compile to {policy.digest}, "
                    f"not {texts.digest} (an `extends` outside the stored files?)",
                    Location(texts.root),
                )
            ]
        )
    _COMPILED[key] = policy
    if len(_COMPILED) > _COMPILED_MAX:
        _COMPILED.popitem(last=False)
    return policy


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
