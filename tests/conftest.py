"""Shared fixtures."""

from collections.abc import Iterator

import pytest

from sandbox.process import SandboxProcess


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxProcess]:
    """One sandbox process for the session, on free ports; tests isolate themselves by unique order ids.

    Short hang and transit times keep fault and tracking tests fast.
    """
    process = SandboxProcess().start(hang_seconds=2, transit_seconds=1, log_level="warning")
    try:
        yield process
    finally:
        process.stop()
