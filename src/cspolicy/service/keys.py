"""API keys: a file of hashed keys, each with a name and scopes.

The file (YAML or JSON) lists the keys::

    keys:
      - name: case-management
        hash: sha256:5f1c…
        scopes: [decide, records:read]

Only the SHA-256 of each key is stored. The keys are random 256-bit tokens made by
`cspolicy serve-key` (not passwords people choose), so one round of SHA-256 is enough: there is
nothing to guess a key from, and a stolen keys file gives no usable key. Comparison is in
constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

HASH_PREFIX = "sha256:"


class Scope(StrEnum):
    """What a key may do: decide (policies, decisions, why-not), read records, or anything."""

    DECIDE = "decide"
    RECORDS_READ = "records:read"
    ADMIN = "admin"


class KeyFileError(Exception):
    """The keys file cannot be read; the message names the file and the entry."""


class _KeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    scopes: list[Scope] = Field(min_length=1)


class _KeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    keys: list[_KeyEntry]


@dataclass(frozen=True)
class ApiKey:
    """A key the service accepts: its name (logged) and scopes; never the key itself."""

    name: str
    digest: str
    scopes: frozenset[Scope]

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes


def hash_key(key: str) -> str:
    """The keys file's form of a key: ``sha256:`` and the hex digest."""
    return HASH_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh random key (256 bits, URL-safe text)."""
    return "csk_" + secrets.token_urlsafe(32)


class KeyRing:
    """The accepted keys; `find` returns the key a bearer token names, or None."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self.keys = keys

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        """Read a keys file; KeyFileError names what is wrong."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise KeyFileError(f"{path}: cannot read the keys file: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise KeyFileError(f"{path}: not valid YAML or JSON: {exc}") from None
        try:
            parsed = _KeyFile.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise KeyFileError(f"{path}: {where}: {first['msg']}") from None
        names = [entry.name for entry in parsed.keys]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise KeyFileError(f"{path}: key name(s) used twice: {', '.join(duplicates)}")
        return cls([ApiKey(e.name, e.hash, frozenset(e.scopes)) for e in parsed.keys])

    def find(self, token: str) -> ApiKey | None:
        """The key whose hash matches `token` (every key compared, in constant time each)."""
        digest = hash_key(token)
        found = None
        for key in self.keys:
            if hmac.compare_digest(key.digest, digest):
                found = key
        return found
