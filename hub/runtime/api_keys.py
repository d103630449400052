"""Bearer API keys as the hub stores them: SHA-256 digests with scopes, so a leaked settings file leaks no key.

The API checks presented keys against these digests (``api.auth``); the local stack and ``python -m api.keys``
mint keys and digest them here, without importing the API.
"""

import hashlib
import secrets

READ = "orders:read"
WRITE = "orders:write"
CODEC = "codec:decode"
"""Decrypt (and encrypt) payloads through the codec server; orders scopes do not imply it."""


def hash_key(key: str) -> str:
    """The digest a key is configured as (``HUB_API__KEYS``)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(prefix: str = "hub_") -> str:
    """A fresh bearer key: ``prefix`` and 32 random bytes, URL-safe."""
    return prefix + secrets.token_urlsafe(32)
