"""API keys from a secret file, matched in constant time.

The file holds one key a line (blank lines and ``#`` comments ignored). It is read
by the ingress replica itself, on its node, so the keys never pass through Serve's
config, the GCS or the logs. It is re-read when it changes, so keys rotate without a
redeploy; a changed file that is unreadable or holds no key keeps the keys in force
(auth never turns itself off).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from pathlib import Path

logger = logging.getLogger("ray.serve")

MIN_KEY_LENGTH = 16  # shorter keys are guessable; `secrets.token_urlsafe(32)` gives 43


class ApiKeyFileError(ValueError):
    """The key file is missing, unreadable, empty or holds a malformed key."""


def read_keys(path: Path) -> list[bytes]:
    """The keys in ``path``; ApiKeyFileError unless there is at least one well-formed key."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ApiKeyFileError(f"cannot read the API key file {path}: {exc}") from exc
    keys = []
    for number, raw in enumerate(text.splitlines(), start=1):
        key = raw.strip()
        if not key or key.startswith("#"):
            continue
        # Header-safe (visible ASCII, no spaces) and long enough to resist guessing.
        if len(key) < MIN_KEY_LENGTH or not key.isascii() or not key.isprintable() or " " in key:
            raise ApiKeyFileError(
                f"{path} line {number}: a key must be at least {MIN_KEY_LENGTH} visible ASCII characters without spaces"
            )
        keys.append(key.encode())
    if not keys:
        raise ApiKeyFileError(f"the API key file {path} holds no key")
    return keys


def key_id(key: bytes) -> str:
    """A short stable name for a key (rate-limit buckets, never logs of the key itself)."""
    return hashlib.sha256(key).hexdigest()[:16]


class ApiKeys:
    """The keys of one file; ``match`` names the key a request presented, if any."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._version = self._stat()
        self._keys = read_keys(self.path)  # at start-up a bad file is fatal: fail closed

    def match(self, presented: bytes) -> str | None:
        """The id of the key equal to ``presented``, else None; constant time per key."""
        self._reload_if_changed()
        found = None
        for key in self._keys:  # no early exit: the time does not say which key matched
            if hmac.compare_digest(key, presented):
                found = key
        return key_id(found) if found is not None else None

    def _stat(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _reload_if_changed(self) -> None:
        version = self._stat()
        if version == self._version:
            return
        self._version = version
        try:
            self._keys = read_keys(self.path)
            logger.info("API keys reloaded from %s: %d key(s)", self.path, len(self._keys))
        except ApiKeyFileError as exc:
            logger.warning("keeping the previous API keys: %s", exc)
