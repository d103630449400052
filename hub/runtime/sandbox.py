"""The sandbox the hub's workflows run in: the worker's, and the replay tests' (``tests/replay``), so that a history
replays exactly as a worker would resume it. Two things keep it lean (``docs/benchmarks.md``):

- **Modules shared, not re-imported.** Temporal's sandbox imports a workflow's modules afresh for every run; the
  ``workflows`` package (about thirty modules, their classes and decorators) is passed through instead: imported
  once, shared by every run. It holds no state of its own and reads no clock, randomness or environment, which
  ``tests/unit/test_workflow_determinism.py`` and the architecture contracts check statically, since the sandbox's
  runtime checks no longer watch it.
- **No serialization context asked for.** For every payload of every activation and completion, the SDK asks the
  workflow, through the sandbox, which serialization context applies (the activity, the child workflow …), so
  that a context-aware converter or codec can use it: several sandbox round trips per activity, a tenth of the
  worker's CPU. The hub's converter and codec use no context (``DataConverter.with_context`` returns the same
  converter), so the answer cannot change a byte: the runner answers "no context" itself. With a context-aware
  converter, or external payload storage, it asks the sandbox as before.
"""

from collections.abc import Sequence

import temporalio.workflow
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import DataConverter, StorageDriverStoreContext, WorkflowSerializationContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

PASSED_THROUGH = ("workflows", "email_validator", "idna")
"""Shared with the worker rather than imported for every run: the workflows (see above), and the modules pydantic's
``EmailStr`` imports lazily on first validation."""


def workflow_runner(data_converter: DataConverter) -> WorkflowRunner:
    """The runner for workflows whose payloads ``data_converter`` converts."""
    sandboxed = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)
    )
    return ContextFreeRunner(sandboxed) if context_free(data_converter) else sandboxed


def context_free(data_converter: DataConverter) -> bool:
    """Whether no serialization context can change what ``data_converter`` writes or reads."""
    probe = WorkflowSerializationContext(namespace="default", workflow_id="probe")
    return data_converter.external_storage is None and data_converter.with_context(probe) is data_converter


class ContextFreeRunner(WorkflowRunner):
    """A runner whose workflow instances answer the SDK's serialization-context questions without the sandbox."""

    def __init__(self, inner: WorkflowRunner) -> None:
        self._inner = inner

    def prepare_workflow(self, defn: temporalio.workflow._Definition) -> None:
        self._inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _ContextFreeInstance(self._inner.create_instance(det))

    def set_worker_level_failure_exception_types(self, types: Sequence[type[BaseException]]) -> None:
        self._inner.set_worker_level_failure_exception_types(types)


class _ContextFreeInstance(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance) -> None:
        self._inner = inner

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self._inner.activate(act)

    def get_serialization_context(self, command_info: object) -> None:
        return None

    def get_external_store_context(self, command_info: object) -> StorageDriverStoreContext:
        return StorageDriverStoreContext(target=None)  # no external storage is configured (``context_free``)

    def get_info(self) -> temporalio.workflow.Info:
        return self._inner.get_info()

    def get_thread_id(self) -> int | None:
        return self._inner.get_thread_id()
