"""Sealing protected record data: AES-256-GCM with a key from configuration.

A sealed text is `aesgcm1:KEYID:BASE64` where BASE64 holds a fresh 96-bit nonce and the
ciphertext with its tag, and KEYID is the first 16 hex digits of sha256 over the key, so a
text sealed under another key is a clear error rather than a failed tag. The associated data
is the record id or snapshot digest the text belongs to: a sealed value moved to another row
does not open.

The key (32 random bytes, URL-safe base64) comes from, in order: the `key` argument, the
environment variable `CSPOLICY_RECORDS_KEY`, the file named by `CSPOLICY_RECORDS_KEY_FILE`,
and — for a SQLite store only — a key file beside the database (`<database>.key`, created
with mode 0600 the first time something is sealed), which is a convenience for development
and tests, not a place for a production key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENV_KEY = "CSPOLICY_RECORDS_KEY"
ENV_KEY_FILE = "CSPOLICY_RECORDS_KEY_FILE"
PREFIX = "aesgcm1"
NONCE_BYTES = 12


class SealError(ValueError):
    """A key is missing or malformed, or a sealed text does not open with the key given."""


def new_key() -> str:
    """A fresh random key, URL-safe base64 (44 characters)."""
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii")


def parse_key(text: str | bytes, where: str) -> bytes:
    """The 32 key bytes of a base64 key; SealError saying where the bad key came from."""
    raw = text.strip() if isinstance(text, bytes) else text.strip().encode("ascii", "replace")
    try:
        key = base64.urlsafe_b64decode(raw)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise SealError(f"the records key from {where} is not 32 bytes of URL-safe base64")
    return key


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


class Sealer:
    """Seals and opens texts with one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self.key_id = key_id(key)

    def seal(self, text: str, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, text.encode("utf-8"), context.encode("utf-8"))
        return f"{PREFIX}:{self.key_id}:{base64.b64encode(nonce + sealed).decode('ascii')}"

    def open(self, sealed: str, context: str) -> str:
        prefix, sealed_id, body = [*sealed.split(":", 2), "", ""][:3]
        if prefix != PREFIX:
            raise SealError(f"{context}: not a sealed text this version of cspolicy can open")
        if sealed_id != self.key_id:
            raise SealError(
                f"{context} was sealed with key {sealed_id}; the records key given is {self.key_id}"
            )
        try:
            raw = base64.b64decode(body, validate=True)
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode("utf-8"))
        except (binascii.Error, ValueError, InvalidTag):
            raise SealError(f"{context}: the sealed data is damaged or belongs elsewhere") from None
        return plain.decode("utf-8")


def configured_key(explicit: str | bytes | None) -> tuple[bytes, str] | None:
    """The key from the argument or the environment, with where it came from; None when none."""
    if explicit is not None:
        return parse_key(explicit, "the key argument"), "argument"
    text = os.environ.get(ENV_KEY)
    if text:
        return parse_key(text, ENV_KEY), ENV_KEY
    file = os.environ.get(ENV_KEY_FILE)
    if file:
        try:
            return parse_key(Path(file).read_bytes(), file), file
        except OSError as exc:
            raise SealError(f"cannot read the records key file {file}: {exc.strerror}") from None
    return None


def key_beside(database: Path, *, create: bool) -> bytes | None:
    """The development key file beside a SQLite database (`<database>.key`), created if asked."""
    path = database.with_name(database.name + ".key")
    if not path.exists():
        if not create:
            return None
        # Written whole under a private name, then linked into place: a process starting at the
        # same moment sees either no key file or a complete one, and the first link wins.
        partial = path.with_name(f"{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        try:
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(new_key() + "\n")
            with contextlib.suppress(FileExistsError):  # another process made it first: read theirs
                os.link(partial, path)
        except OSError as exc:
            raise SealError(f"cannot create the records key file {path}: {exc.strerror}") from None
        finally:
            partial.unlink(missing_ok=True)
    try:
        return parse_key(path.read_bytes(), str(path))
    except OSError as exc:
        raise SealError(f"cannot read the records key file {path}: {exc.strerror}") from None
