"""The workflows' contract with whoever starts, signals, updates or queries them: names, ids and refusals, once.

Clients (the Python client, the API, the CLI, the tests) and the workflows import these names; nobody retypes
them. A workflow type, a signal, an update or a query renamed here is renamed for every caller, and a history
already recorded under the old name would no longer replay: these strings are part of every order under way.
"""

from enum import StrEnum
from typing import Final

ORDER_WORKFLOW: Final = "OrderWorkflow"
"""One per order, id ``order:{order_id}`` (:func:`order_workflow_id`)."""
RETURN_WORKFLOW: Final = "ReturnWorkflow"
"""One per RMA (a return, an exchange or a claim), id ``return:{rma_id}`` (:func:`return_workflow_id`)."""

VIEW: Final = "view"
"""The query both workflows answer with their current view (``OrderView``, ``ReturnView``)."""


class OrderSignal(StrEnum):
    RECORD_EVENT = "record_event"
    """A verified upstream event about the order (``UpstreamEvent``)."""
    STOCK_CHANGED = "stock_changed"
    """The ERP says a SKU the order waits for moved (``StockEvent``)."""
    AFTER_SALES_CLOSED = "after_sales_closed"
    """An RMA of the order ended (``ReturnOutcome``), sent by its ``ReturnWorkflow``."""


class OrderUpdate(StrEnum):
    CANCEL = "cancel"
    CHANGE_SHIPPING_ADDRESS = "change_shipping_address"
    DECIDE_BACKORDER = "decide_backorder"
    OPEN_RETURN = "open_return"
    RETRY_ACTIONS = "retry_actions"
    """An operator: try again the steps that put the order in ``requires_action`` (``ActionReason``)."""


class ReturnSignal(StrEnum):
    RECORD_EVENT = "record_event"
    """A carrier scan of the RMA's return parcel or replacement (``UpstreamEvent``)."""
    RECORD_WAREHOUSE_RECEIPT = "record_warehouse_receipt"
    """The ERP's ``return.received`` (``WarehouseReceipt``)."""


class ReturnUpdate(StrEnum):
    RECORD_RECEIPT = "record_receipt"
    RESEND_LABEL = "resend_label"
    DECIDE_APPROVAL = "decide_approval"
    CANCEL = "cancel"


class Refusal(StrEnum):
    """The ``ApplicationError`` type of a decision a workflow refuses (in its Update's validator, so nothing enters
    the history). The client raises ``DecisionRefused`` with the workflow's reason for each; the API answers 409."""

    CANCEL = "CancelRejected"
    """An order's cancellation: it has shipped, ended, or a cancellation is already under way."""
    ADDRESS_CHANGE = "AddressChangeRejected"
    """An order's new address: the parcels are with the carrier, or a label could not be replaced."""
    DECISION = "DecisionRefused"
    """A backorder decision: nothing waits for stock, or it was already decided."""
    RETRY = "RetryRefused"
    """An operator's retry: nothing in the order waits for a person."""
    RETURN = "ReturnRefused"
    """Anything about an RMA: opening it (window, quantities) and each of its Updates."""


_ORDER_PREFIX: Final = "order:"
_RETURN_PREFIX: Final = "return:"


def order_workflow_id(order_id: str) -> str:
    """``A-1001`` → ``order:A-1001``: the order's workflow id, legible in the Temporal UI and PII-free."""
    return f"{_ORDER_PREFIX}{order_id}"


def order_id_of_workflow(workflow_id: str) -> str | None:
    """``order:A-1001`` → ``A-1001``; ``None`` for any other workflow's id."""
    return workflow_id[len(_ORDER_PREFIX) :] if workflow_id.startswith(_ORDER_PREFIX) else None


def return_workflow_id(rma_id: str) -> str:
    """``R-77`` → ``return:R-77``."""
    return f"{_RETURN_PREFIX}{rma_id}"


def rma_id_of_workflow(workflow_id: str) -> str | None:
    """``return:R-77`` → ``R-77``; ``None`` for any other workflow's id."""
    return workflow_id[len(_RETURN_PREFIX) :] if workflow_id.startswith(_RETURN_PREFIX) else None
