"""The Python client backends use to place and steer orders and returns (``from hub.client import OrderClient``).

It talks to Temporal only, never to the API, and needs nothing of the worker's runtime.
"""

from hub.client.orders import (
    DecisionRefused,
    NotFound,
    OrderClient,
    OrderConflict,
    OrderNotFound,
    OrderSummary,
    Placement,
    ReturnConflict,
    ReturnNotFound,
    ReturnOpening,
)

__all__ = [
    "DecisionRefused",
    "NotFound",
    "OrderClient",
    "OrderConflict",
    "OrderNotFound",
    "OrderSummary",
    "Placement",
    "ReturnConflict",
    "ReturnNotFound",
    "ReturnOpening",
]
