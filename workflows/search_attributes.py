"""Search attributes the hub registers and sets. Values are stored in plain text: never PII here."""

from temporalio.common import SearchAttributeKey

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")

ALL = (ORDER_STATUS, CUSTOMER_ID)
