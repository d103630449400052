"""A webhook receiver for the sandbox's pushes: a tiny HTTP server in the test's event loop, on a port the OS
gives it, recording every request; and the secrets a test configures the sandbox's webhooks with."""

import asyncio
import base64
import contextlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.client import SandboxControl
from tests.eventually import eventually


@dataclass(frozen=True)
class Received:
    """One request the receiver got, and the status it answered."""

    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # monotonic
    answered: int

    def json(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(self.body)
        return payload


@dataclass
class Receiver:
    """A minimal HTTP/1.1 server: one request per connection, answers 200 (or 500 while ``failures[path]``)."""

    requests: list[Received] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    port: int = 0
    _server: asyncio.Server | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *header_lines = head.split("\r\n")
            path = request_line.split(" ")[1]
            headers = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                if name:
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            status = 200
            if self.failures.get(path, 0) > 0:
                self.failures[path] -= 1
                status = 500
            self.requests.append(Received(path, headers, body, time.monotonic(), status))
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, IndexError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def matching(self, path: str, predicate: Callable[[dict[str, Any]], bool]) -> list[Received]:
        return [r for r in self.requests if r.path == path and predicate(r.json())]

    async def wait_for(
        self, path: str, predicate: Callable[[dict[str, Any]], bool], count: int = 1, within: float = 5.0
    ) -> list[Received]:
        """The matching requests once there are at least ``count`` of them (fails after ``within`` seconds)."""

        async def found() -> list[Received]:
            return self.matching(path, predicate)

        return await eventually(
            found,
            lambda requests: len(requests) >= count,
            what=f"{count} matching request(s) to {path}",
            timeout_s=within,
            show=lambda requests: f"{len(requests)} matching",
        )


@dataclass(frozen=True)
class Secrets:
    """Fresh webhook secrets in each upstream's format."""

    carrier: str = field(default_factory=lambda: f"ep_secret_{secrets.token_hex(16)}")
    payment: str = field(default_factory=lambda: f"whsec_{secrets.token_hex(16)}")
    erp: str = field(default_factory=lambda: "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())


async def configure(control: SandboxControl, receiver: Receiver, keys: Secrets, *sources: str) -> None:
    """Point the sandbox's webhooks of ``sources`` at ``receiver``, signed with ``keys``."""
    endpoints = {s: {"url": receiver.url(f"/{s}"), "secret": getattr(keys, s)} for s in sources}
    await control.set_webhooks(**endpoints)


def now() -> datetime:
    return datetime.now(UTC)
