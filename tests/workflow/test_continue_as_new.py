"""An order followed for a long time continues as new, carrying its whole state, and still completes right."""

from datetime import timedelta

from domain.status import OrderStatus
from hub.client import OrderClient
from tests.orders import make_order, policy, view_when
from tests.workflow.conftest import FakeHub


async def test_a_long_followed_order_continues_as_new_keeping_its_state(fake_hub: FakeHub) -> None:
    fake_hub.carrier.deliver_after_polls = 8  # a parcel that takes its time
    orders = OrderClient(
        fake_hub.env.client,
        task_queue=fake_hub.orders.task_queue,
        policy=policy(
            tracking_poll_interval=timedelta(milliseconds=100), publish_status_events=True, history_event_limit=40
        ),
    )
    order = make_order()
    placed = await orders.place(order)
    view = await placed.handle.result()

    assert view.status is OrderStatus.COMPLETED and view.finished
    runs = [e for e in view.timeline if e.step == "continue_as_new"]
    assert len(runs) >= 2, [e.step for e in view.timeline]
    # What happened in the first run is still there: steps, messages, shipments.
    steps = [e.step for e in view.timeline]
    assert steps.index("authorize_payment") < steps.index("continue_as_new")
    assert view.messages_sent == [
        f"{order.order_id}.order-confirmed.1",
        f"{order.order_id}.order-shipped.1",
        f"{order.order_id}.order-delivered.1",
    ]
    assert [s.shipment_no for s in view.shipments] == [1]
    assert fake_hub.effects.counts["capture"] == 1 and fake_hub.effects.counts["buy_label"] == 1

    # Status events run on across runs, numbered without gaps or repeats.
    seqs = [e.seq for e in fake_hub.publisher.events if e.order_id == order.order_id]
    assert seqs == list(range(1, len(seqs) + 1))

    first_run = fake_hub.env.client.get_workflow_handle(placed.handle.id, run_id=placed.handle.first_execution_run_id)
    history = await first_run.fetch_history()
    assert history.events[-1].HasField("workflow_execution_continued_as_new_event_attributes")


async def test_status_events_refused_when_the_order_continues_as_new_go_out_from_the_next_run(
    fake_hub: FakeHub,
) -> None:
    """Issue 14, scenario 29: the queue of refused status events is carried over with the state (not dropped, not
    waited for) and delivered, in order and without gaps, once the subscriber accepts them."""
    fake_hub.carrier.deliver_after_polls = 8
    fake_hub.publisher.down = True
    orders = OrderClient(
        fake_hub.env.client,
        task_queue=fake_hub.orders.task_queue,
        policy=policy(
            tracking_poll_interval=timedelta(milliseconds=100),
            publish_status_events=True,
            history_event_limit=40,
            status_events_overdue_after=timedelta(seconds=1),
        ),
    )
    order = make_order()
    placed = await orders.place(order)
    await view_when(
        orders,
        order.order_id,
        lambda v: any(e.step == "continue_as_new" for e in v.timeline),
        what="continued as new while the subscriber refuses its status events",
    )
    assert fake_hub.publisher.refused >= 1 and not fake_hub.publisher.events

    fake_hub.publisher.down = False
    view = await placed.handle.result()
    assert view.status is OrderStatus.COMPLETED and view.finished
    events = [e for e in fake_hub.publisher.events if e.order_id == order.order_id]
    assert events, "every status event of the order was dropped"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].status is OrderStatus.PENDING  # the first run's first event, carried over
    assert events[-1].status is OrderStatus.COMPLETED
