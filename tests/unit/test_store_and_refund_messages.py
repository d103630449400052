"""The words of issue 14's scenarios 26 and 30, in both languages: an exchange whose item goes back over a store's
counter says so (never "print the label", never "you handed it back" before they have), and a refund the provider
reports failed on an order (no RMA) names the order."""

import pytest

from notifications.notice import NoticeKind
from notifications.render import render
from notifications.samples import sample


@pytest.mark.parametrize(
    ("locale", "words", "untrue"),
    [("en", "Bring it to one of our stores", "You handed"), ("fr", "Rapportez-le", "Vous avez rapporté")],
)
def test_an_exchange_brought_to_a_store_says_to_bring_the_item(locale: str, words: str, untrue: str) -> None:
    notice = sample(NoticeKind.EXCHANGE_CONFIRMED, locale).model_copy(
        update={"label_url": None, "bring_to_store": True}
    )
    rendered = render(notice)
    assert words in rendered.text and words in rendered.sms
    assert untrue not in rendered.text and untrue not in rendered.sms


@pytest.mark.parametrize(("locale", "words"), [("en", "Order A-"), ("fr", "Commande A-")])
def test_a_refund_delayed_on_an_order_names_the_order(locale: str, words: str) -> None:
    notice = sample(NoticeKind.REFUND_DELAYED, locale).model_copy(update={"rma_id": None, "amount_returned": 0})
    rendered = render(notice)
    assert rendered.subject.startswith(words), rendered.subject
    assert "32" in rendered.subject  # the delayed amount, not the order's total
