"""The short form of ``make chaos``, in ``make test``: 40 orders of every kind (happy, declined, out of stock,
cancelled by the customer, label and capture refused, returned through the warehouse and in a store) on a whole
stack of its own (dev server on a SQLite file, sandbox, API receiving the sandbox's webhooks, two worker
processes) while 30 % of upstream calls fail transiently and 5 % time out after succeeding, two workers are
SIGKILLed and the Temporal server restarts once. Every order must end with its books, stock, labels and messages
right, and the chaos must really have happened."""

from pathlib import Path

from hub.verify.chaos.config import ChaosConfig
from hub.verify.chaos.run import run

SHORT = ChaosConfig(
    orders=40,
    place_over_s=10.0,
    workers=2,
    kill_every_s=5.0,
    max_kills=2,
    restart_after_s=8.0,
    return_window_s=15.0,
    deadline_s=70.0,
)


async def test_forty_orders_survive_kills_faults_and_a_server_restart_with_zero_violations(tmp_path: Path) -> None:
    report = await run(SHORT, tmp_path)

    assert report.violations == []
    assert report.orders == 40
    assert report.kills == 2 and report.server_restarts == 1 and report.open_at_restart > 0
    assert report.faults["transient"] > 40 and report.faults["timeout_after_apply"] > 0
    outcomes = report.outcomes
    assert outcomes["completed"] >= 20, outcomes  # the happy, partly-out-of-stock and returning ones
    assert outcomes["returns_refunded"] >= 8, outcomes  # ten returning orders; a refused return is a rare race
    for ending in ("payment_declined", "out_of_stock", "label_rejected", "capture_failed"):
        assert outcomes[f"canceled:{ending}"] >= 2, outcomes
