"""Bearer API keys with scopes, checked against the digests configured (``hub.runtime.api_keys``)."""

import hmac
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request

from api.problems import Problem
from hub.runtime.api_keys import hash_key
from hub.runtime.settings import ApiKey


class Authenticator:
    def __init__(self, keys: list[ApiKey]) -> None:
        self._keys = keys

    def scopes_of(self, authorization: str | None) -> set[str] | None:
        """The scopes of the presented key, or ``None`` when there is no valid key."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        digest = hash_key(token.strip())
        for key in self._keys:
            if hmac.compare_digest(key.sha256, digest):
                return set(key.scopes)
        return None

    def require(self, scope: str) -> Callable[[Request], Coroutine[Any, Any, None]]:
        """A FastAPI dependency: 401 without a valid key, 403 without ``scope``."""

        async def dependency(request: Request) -> None:
            scopes = self.scopes_of(request.headers.get("authorization"))
            if scopes is None:
                raise Problem(401, "Unauthorized", "a valid bearer API key is required", {"WWW-Authenticate": "Bearer"})
            if scope not in scopes:
                raise Problem(403, "Forbidden", f"this key lacks the {scope} scope")

        return dependency
