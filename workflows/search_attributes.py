"""Search attributes the hub registers and sets. Values are stored in plain text: never PII here."""

from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
PAYMENT_STATUS = SearchAttributeKey.for_keyword("PaymentStatus")
FULFILLMENT_STATUS = SearchAttributeKey.for_keyword("FulfillmentStatus")
ORDER_TOTAL = SearchAttributeKey.for_int("OrderTotal")
"""Minor units of the order's currency (set at start): find large orders without opening them."""
CHANNEL = SearchAttributeKey.for_keyword("Channel")
"""Where the order came from: web, store, phone, api."""
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
"""Set on after-sales workflows: every RMA of an order is one query away in the UI."""
RETURN_STATUS = SearchAttributeKey.for_keyword("ReturnStatus")
BACKORDERED_SKUS = SearchAttributeKey.for_keyword_list("BackorderedSkus")
"""The SKUs an order waits for: an ERP ``stock.changed`` event finds the orders to wake by it."""
ACTION_REASON = SearchAttributeKey.for_keyword("ActionReason")
"""Why an order or RMA in ``requires_action`` waits for a person ("refund failed"); cleared when it is resolved."""

ALL = (
    ORDER_STATUS,
    PAYMENT_STATUS,
    FULFILLMENT_STATUS,
    CUSTOMER_ID,
    ORDER_TOTAL,
    CHANNEL,
    ORDER_ID,
    RETURN_STATUS,
    BACKORDERED_SKUS,
    ACTION_REASON,
)

# The names the Temporal CLI and server use for each type, for ``--search-attribute Name=Type``.
_CLI_TYPE = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
    SearchAttributeIndexedValueType.INT: "Int",
}


def cli_flag(key: SearchAttributeKey) -> str:  # type: ignore[type-arg]
    """``OrderStatus=Keyword``: how ``temporal server start-dev --search-attribute`` registers ``key``."""
    return f"{key.name}={_CLI_TYPE[key.indexed_value_type]}"
