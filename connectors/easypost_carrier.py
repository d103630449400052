"""Shipping labels over EasyPost's shipments API.

EasyPost has no idempotency key for buying postage, so exactly-once comes from our own ``reference`` on the
shipment, which EasyPost accepts in place of its id: before creating or buying we look the reference up and
reuse what a previous attempt already made. A return label (``LabelRequest.is_return``) is bought the same way,
under its own reference, as an EasyPost return shipment (``is_return: true``). The client's ``base_url`` ends
in ``/v2`` and it sends the API key as a bearer token; ``hub/runtime/upstreams.py`` builds it.
"""

from typing import Any
from urllib.parse import quote

import httpx

from connectors.errors import BusinessRejection, ConnectorError, IndeterminateError
from connectors.http import get_optional, json_body, reconcile, send
from domain.order import Address
from domain.shipping import Label, LabelRequest, LabelVoid, Parcel, Tracking, TrackingStatus

UPSTREAM = "carrier"

_TRACKING = {
    "pre_transit": TrackingStatus.LABEL_CREATED,
    "in_transit": TrackingStatus.IN_TRANSIT,
    "out_for_delivery": TrackingStatus.OUT_FOR_DELIVERY,
    "available_for_pickup": TrackingStatus.AVAILABLE_FOR_PICKUP,
    "delivered": TrackingStatus.DELIVERED,
    "return_to_sender": TrackingStatus.RETURNING_TO_SENDER,
    "failure": TrackingStatus.EXCEPTION,
    "error": TrackingStatus.EXCEPTION,
    "cancelled": TrackingStatus.CANCELLED,
}

_POSTAGE_EXISTS = "SHIPMENT.POSTAGE.EXISTS"


def _rejection(response: httpx.Response) -> ConnectorError | None:
    error = json_body(response).get("error") or {}
    code = str(error.get("code") or "")
    if code == _POSTAGE_EXISTS:
        # Only an earlier attempt of ours can have bought this shipment's postage: reconcile, don't fail.
        return IndeterminateError("label already bought", upstream=UPSTREAM, code=code)
    if response.status_code == 422:
        return BusinessRejection(f"carrier refused: {code}", upstream=UPSTREAM, code=code)
    return None


class EasyPostCarrier:
    """``Carrier`` on EasyPost (or any service speaking its shipments wire protocol)."""

    def __init__(self, http: httpx.AsyncClient, *, ship_from: Address, ship_from_name: str) -> None:
        self._http = http
        self._from = _address(ship_from, ship_from_name)

    async def buy_label(self, request: LabelRequest) -> Label:
        shipment = await self._find(request.reference)
        if shipment is None:
            shipment = await reconcile(lambda: self._create(request), lambda: self._find(request.reference))
        if shipment.get("postage_label"):
            return _label(shipment)  # an earlier attempt bought it: never buy twice
        rate = min(shipment.get("rates") or [{}], key=lambda r: float(r.get("rate") or "inf"))
        if "id" not in rate:
            raise BusinessRejection("no rate offered for this shipment", upstream=UPSTREAM, code="no_rates")

        async def attempt() -> Label:
            response = await send(
                lambda: self._http.post(f"/shipments/{shipment['id']}/buy", json={"rate": {"id": rate["id"]}}),
                upstream=UPSTREAM,
                mutation=True,
                vendor=_rejection,
            )
            return _label(json_body(response))

        async def lookup() -> Label | None:
            found = await self._find(request.reference)
            return _label(found) if found and found.get("postage_label") else None

        return await reconcile(attempt, lookup)

    async def void_label(self, reference: str) -> LabelVoid:
        shipment = await self._find(reference)
        if shipment is None or not shipment.get("postage_label"):
            return LabelVoid(reference=reference, voided=False)
        if shipment.get("refund_status") in ("submitted", "refunded"):
            return LabelVoid(reference=reference, voided=True)
        response = await send(
            lambda: self._http.post(f"/shipments/{shipment['id']}/refund", json={}),
            upstream=UPSTREAM,
            mutation=True,
            vendor=_rejection,
        )
        if json_body(response).get("refund_status") == "rejected":
            raise BusinessRejection("carrier refused to void the label", upstream=UPSTREAM, code="void_rejected")
        return LabelVoid(reference=reference, voided=True)

    async def track(self, reference: str) -> Tracking:
        shipment = await self._find(reference)
        tracker = (shipment or {}).get("tracker") or {}
        raw = str(tracker.get("status") or "unknown")
        return Tracking(
            reference=reference,
            tracking_code=(shipment or {}).get("tracking_code"),
            status=_TRACKING.get(raw, TrackingStatus.UNKNOWN),
            raw_status=raw,
        )

    async def reference_of(self, shipment_id: str) -> str | None:
        """Our reference on the carrier's shipment ``shipment_id``: how a tracking webhook finds its order."""
        shipment = await self._find(shipment_id)
        return str(shipment["reference"]) if shipment and shipment.get("reference") else None

    async def _find(self, reference: str) -> dict[str, Any] | None:
        response = await get_optional(self._http, f"/shipments/{quote(reference, safe='')}", upstream=UPSTREAM)
        return None if response is None else json_body(response)

    async def _create(self, request: LabelRequest) -> dict[str, Any]:
        shipment: dict[str, Any] = {
            "reference": request.reference,
            "to_address": _address(request.to_address, request.to_name),
            "from_address": self._from,
            "parcel": _parcel(request.parcel),
            "options": {"label_format": "PDF"},
        }
        if request.is_return:
            # EasyPost's returns: send the addresses exactly as for the outbound shipment (to = the customer,
            # from = our warehouse) with ``is_return: true``, and EasyPost swaps them itself, so the label goes
            # from the customer back to the warehouse. Swapping them here as well would send the parcel back
            # to the customer. https://docs.easypost.com/docs/shipments/returns
            shipment["is_return"] = True
        body = {"shipment": shipment}
        response = await send(
            lambda: self._http.post("/shipments", json=body),
            upstream=UPSTREAM,
            mutation=True,
            vendor=_rejection,
        )
        return json_body(response)


def _label(shipment: dict[str, Any]) -> Label:
    rate = shipment.get("selected_rate") or {}
    tracker = shipment.get("tracker") or {}
    return Label(
        reference=shipment.get("reference", ""),
        shipment_id=shipment["id"],
        carrier=rate.get("carrier", ""),
        service=rate.get("service", ""),
        tracking_code=shipment.get("tracking_code") or tracker.get("tracking_code") or "",
        tracking_url=tracker.get("public_url"),
        label_url=(shipment.get("postage_label") or {}).get("label_url", ""),
        cost=str(rate.get("rate", "")),
    )


def _address(address: Address, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "street1": address.line1,
        "street2": address.line2,
        "city": address.city,
        "state": address.region,
        "zip": address.postal_code,
        "country": address.country,
    }


def _parcel(parcel: Parcel) -> dict[str, float]:
    return {
        "weight": parcel.weight_oz,
        "length": parcel.length_in,
        "width": parcel.width_in,
        "height": parcel.height_in,
    }
