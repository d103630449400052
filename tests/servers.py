"""HTTP servers a test runs itself (a retailer's endpoint, a stub API), on ports that nothing can take from them.

The socket is bound to a port the OS picks and listening before anyone is told the URL: no other process can
take the port between a pick and a bind (as with ``free_port``), and a request sent before uvicorn serves waits
in the socket's backlog instead of being refused, so nobody needs to wait for the server to start.
"""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import ASGIApp


def listening_socket() -> socket.socket:
    """A TCP socket on 127.0.0.1, on a port the OS chose, already listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def url_of(sock: socket.socket, path: str = "") -> str:
    """``http://127.0.0.1:{port}{path}`` for a socket from :func:`listening_socket`."""
    port: int = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def server_on(app: ASGIApp) -> uvicorn.Server:
    """A uvicorn server for ``app``, quiet but for warnings; serve it with ``serve(sockets=[listening_socket()])``."""
    return uvicorn.Server(uvicorn.Config(app, log_level="warning"))


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """``app`` served in this event loop while the block runs; yields its base URL (no trailing slash)."""
    sock = listening_socket()
    server = server_on(app)
    running = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        await running
