"""The hub's workflow counters, through ``workflow.metric_meter()``.

The workflow meter is replay-safe: a value is recorded when the code runs for the first time, not again when a
worker replays the history (after a restart, an evicted cache or continue-as-new), so a counter counts events,
not executions of code. Values appear on the worker's Prometheus endpoint with the SDK's own metrics and its
``namespace``, ``task_queue`` and ``workflow_type`` labels; without one they go nowhere.

- ``hub_orders_finished{outcome}``: orders whose workflow ended, by final status (``completed``, ``canceled``,
  ``requires_action``);
- ``hub_compensations{step}``: compensations applied, by step (``payment_voided``, ``stock_released`` …);
- ``hub_status_events_overdue``: orders whose status events the subscribers have not accepted for the policy's
  ``status_events_overdue_after`` (kept and retried: an alert, not a loss).
"""

from temporalio import workflow


def count_order_outcome(status: str) -> None:
    """Count an order ending in ``status`` (call once, where the run ends for good, not at continue-as-new)."""
    workflow.metric_meter().create_counter("hub_orders_finished", "Orders whose workflow ended, by final status").add(
        1, {"outcome": str(status)}
    )


def count_compensation(step: str) -> None:
    """Count one compensation applied; ``step`` as the timeline names it (``payment voided`` → ``payment_voided``)."""
    workflow.metric_meter().create_counter("hub_compensations", "Compensations applied, by step").add(
        1, {"step": str(step).replace(" ", "_")}
    )


def count_status_events_overdue() -> None:
    """Count one order whose queued status events became overdue (once per stretch of failures)."""
    workflow.metric_meter().create_counter(
        "hub_status_events_overdue", "Orders whose status events the subscribers have not accepted for too long"
    ).add(1)
