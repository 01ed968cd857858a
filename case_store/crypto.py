"""Encryption at rest for debtor PII (national ID, phone numbers).

Values are Fernet tokens (AES-128-CBC + HMAC-SHA256) under a key derived from the
secret key with HKDF; ``MultiFernet`` accepts older keys so a key can be rotated by
listing the previous secret in ``PARLEY_PREVIOUS_SECRET_KEYS`` (see docs/security.md).
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

_cipher: MultiFernet | None = None


def _derive(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"parley-pii", info=b"fernet").derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def configure(secret: str, previous: list[str] | None = None) -> None:
    """Install the process-wide PII key; called once at startup before any query."""
    global _cipher
    _cipher = MultiFernet([_derive(s) for s in [secret, *(previous or [])]])


def _require() -> MultiFernet:
    if _cipher is None:
        raise RuntimeError("PII encryption key not configured; call case_store.crypto.configure()")
    return _cipher


class EncryptedString(TypeDecorator[str]):
    """A string column stored encrypted; reads return plaintext."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return _require().encrypt(value.encode()).decode()

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return _require().decrypt(str(value).encode()).decode()


class EncryptedText(EncryptedString):
    """An encrypted column without a length limit (transcript text)."""

    impl = Text
    cache_ok = True


def mask(value: str | None, visible: int = 4) -> str:
    """Show only the last ``visible`` characters, as collectors see PII."""
    if not value:
        return ""
    if len(value) <= visible:
        return "•" * len(value)
    return "•" * (len(value) - visible) + value[-visible:]
