"""Replay safety: every committed history (``tests/replay/histories``, written by ``make record-histories``) replays
against today's workflow code, in the worker's own sandbox, without a nondeterminism error. A change that would
break an order already under way fails here, before a worker meets it in production."""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from hub.runtime.sandbox import workflow_runner
from tests.replay.altered import OrderWorkflowWithAnExtraTimer
from tests.replay.record import HISTORIES, RECORDED
from workflows.order import OrderWorkflow
from workflows.returns import ReturnWorkflow


def _history(path: Path) -> WorkflowHistory:
    # The exported JSON holds the events only; the id is a label for failures (the file name says which path).
    return WorkflowHistory.from_json(path.stem, path.read_text())


def _replayer(*workflows: type) -> Replayer:
    return Replayer(
        workflows=list(workflows),
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(pydantic_data_converter),
    )


def test_every_recorded_path_is_committed() -> None:
    # Older histories kept beside them (from before a ``workflow.patched`` change) are replayed too.
    assert set(RECORDED) <= {path.stem for path in HISTORIES.glob("*.json")}


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda path: path.stem)
async def test_history_replays_against_the_current_workflows(path: Path) -> None:
    result = await _replayer(OrderWorkflow, ReturnWorkflow).replay_workflow(_history(path))
    assert result.replay_failure is None


async def test_a_workflow_that_would_schedule_something_else_fails_replay() -> None:
    """The check has teeth: one extra timer before the first activity is caught as nondeterminism."""
    history = _history(HISTORIES / "order-happy.json")
    with pytest.raises(NondeterminismError, match="Nondeterminism error"):
        await _replayer(OrderWorkflowWithAnExtraTimer, ReturnWorkflow).replay_workflow(history)
