"""Webhook lookups (a shipment's reference, a payment's order) are asked of the vendor once per object."""

from collections import Counter

from api.webhooks import remembered


async def test_an_answer_is_kept_not_found_is_asked_again_and_the_oldest_answer_goes_first() -> None:
    asked: Counter[str] = Counter()
    answers = {"shp_1": "A-1:shipment:1", "shp_2": "A-2:shipment:1", "shp_3": "A-3:shipment:1"}

    async def carrier(shipment_id: str) -> str | None:
        asked[shipment_id] += 1
        return answers.get(shipment_id)

    lookup = remembered(carrier, capacity=2)
    assert [await lookup("shp_1") for _ in range(3)] == ["A-1:shipment:1"] * 3  # three scans of one parcel
    assert await lookup("shp_new") is None
    answers["shp_new"] = "A-4:shipment:1"  # bought a moment later: found now
    assert await lookup("shp_new") == "A-4:shipment:1"
    assert await lookup("shp_2") == "A-2:shipment:1"  # over capacity: shp_1, the least recent, is dropped
    assert await lookup("shp_1") == "A-1:shipment:1"
    assert asked == Counter({"shp_1": 2, "shp_new": 2, "shp_2": 1})
