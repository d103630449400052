"""``/customers/{customer_id}/timeline``: a customer's whole history for whoever serves them (story 5)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.auth import Authenticator
from api.problems import documented
from domain.customer_timeline import CustomerTimeline
from domain.order import CustomerId
from hub.client import OrderClient
from hub.runtime.api_keys import READ


def customers_router(orders: OrderClient, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/customers", tags=["customers"])

    @router.get(
        "/{customer_id}/timeline", dependencies=[Depends(auth.require(READ))], responses=documented(401, 403, 503, 422)
    )
    async def customer_timeline(
        customer_id: CustomerId, limit: Annotated[int, Query(ge=1, le=500)] = 200
    ) -> CustomerTimeline:
        """Every order, return and claim of the customer; every message sent (channel, time, subject); every action
        taken from any channel (web, store, phone, API); newest first. An unknown customer has an empty timeline."""
        return await orders.customer_timeline(customer_id, limit=limit)

    return router
