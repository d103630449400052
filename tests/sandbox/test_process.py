"""Processes started on picked ports: a port is picked where no outgoing connection can take it, a process that
finds its port taken says so, and only that failure is retried, on fresh ports."""

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.process import PortTaken, SandboxProcess, free_port, on_fresh_ports, port_taken


@pytest.fixture
def taken() -> Iterator[int]:
    """A port another process listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_picked_port_is_free_and_out_of_the_range_of_outgoing_connections() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    port = free_port()
    assert port < low  # the kernel gives outgoing connections their source port from [low, high]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))


def test_what_uvicorn_and_the_temporal_cli_say_of_a_taken_port_is_recognised() -> None:
    uvicorn = "[Errno 98] error while attempting to bind on address ('127.0.0.1', 8100): address already in use"
    temporal = "Error: can't set frontend port 7233: listen tcp 127.0.0.1:7233: bind: address already in use"
    smtp = "OSError: [Errno 98] Address already in use"
    assert port_taken(uvicorn) and port_taken(temporal) and port_taken(smtp)
    assert not port_taken("ModuleNotFoundError: No module named 'sandbox'")


def test_only_a_taken_port_is_retried_and_not_forever() -> None:
    starts: list[int] = []

    def start_on_the_third_try() -> str:
        starts.append(free_port())
        if len(starts) < 3:
            raise PortTaken("address already in use")
        return "started"

    assert on_fresh_ports(start_on_the_third_try) == "started" and len(starts) == 3

    def always_taken() -> None:
        starts.append(free_port())
        raise PortTaken("address already in use")

    starts.clear()
    with pytest.raises(PortTaken):
        on_fresh_ports(always_taken, attempts=4)
    assert len(starts) == 4

    def broken() -> None:
        starts.append(free_port())
        raise RuntimeError("exited with code 1")

    starts.clear()
    with pytest.raises(RuntimeError, match="code 1"):
        on_fresh_ports(broken)
    assert len(starts) == 1


def test_a_sandbox_whose_port_is_taken_says_so(taken: int) -> None:
    """Given ports are the caller's to choose again: the failure is reported, not retried."""
    with pytest.raises(PortTaken, match="address already in use"):
        SandboxProcess().start(http_port=taken, smtp_port=free_port(), log_level="warning")
    with pytest.raises(PortTaken, match="address already in use"):
        SandboxProcess().start(http_port=free_port(), smtp_port=taken, log_level="warning")
