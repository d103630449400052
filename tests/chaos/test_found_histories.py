"""Histories the chaos run left behind that today's SDK cannot replay (kept as found; synthetic customer).

In each, a workflow task timed out on the sticky queue of a SIGKILLed worker; the task the server then handed to
another worker carried a signal (a carrier scan), an activity result and an Update (``open_return``, or an RMA's
``record_receipt``). The workflow answered with a command (``notify_customer``, a search-attribute upsert) *before*
accepting the Update, and that is the order the history keeps. Replaying it (any other worker: after the next
kill, or to answer a query) applies the Update first, so the SDK reports nondeterminism, the workflow task fails
on every attempt and the order never ends. The same code wrote and replays the history, and what differs is
where the Update's acceptance falls among the task's commands: most likely the SDK's ordering (temporalio 1.35.0,
the newest available: temporalio/sdk-rust#943, whose fix #961 is unreleased), not the hub's workflow code.
"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from hub.runtime.sandbox import workflow_runner
from workflows.order import OrderWorkflow
from workflows.returns import ReturnWorkflow

HISTORIES = Path(__file__).parent / "histories"


def _history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda path: path.stem)
async def test_a_history_with_an_update_after_a_timed_out_task_does_not_replay_on_this_sdk(path: Path) -> None:
    """The known defect, pinned: the day an SDK upgrade replays these histories, this fails, and the README's
    note on it (and this file) should go."""
    replayer = Replayer(
        workflows=[OrderWorkflow, ReturnWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(pydantic_data_converter),
    )
    with pytest.raises(NondeterminismError, match="Update machine does not handle this event"):
        await replayer.replay_workflow(_history(path))
