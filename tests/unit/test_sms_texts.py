"""Text messages that stand alone: every notice kind's SMS carries its facts and links, in at most three segments,
in GSM-7 where our own words allow, and without the customer's name."""

import re
from itertools import product

import pytest

from connectors.sms_encoding import cut_to, gsm_friendly, is_gsm, segments
from connectors.twilio_sms import MAX_SEGMENTS, reference_of, sms_text
from domain.notification import OutboundMessage
from domain.order_view import FailureReason
from domain.returns import AfterSalesKind
from notifications.notice import CustomerNotice, DelayCause, NoticeKind, TrackingLink, Undone
from notifications.render import LANGUAGES, render
from notifications.samples import sample

NAME = "Camille Martin"
TRACKED = {
    NoticeKind.ORDER_SHIPPED,
    NoticeKind.ORDER_DELAYED,
    NoticeKind.REPLACEMENT_SHIPPED,
    NoticeKind.EXCHANGE_CONFIRMED,
}
"""The kinds whose text gives every parcel's tracking link (a delivered order's no longer needs one)."""
SECOND_PARCEL = TrackingLink(carrier="DHL", tracking_code="JD014600006281230704", url="https://track.example.com/JD01")


def variants(kind: NoticeKind, locale: str) -> list[CustomerNotice]:
    """The sample, and the same notice along the template's other branches."""
    base = sample(kind, locale, name=NAME)
    changes: list[dict[str, object]] = [
        {"reason": None},
        {"undone": [Undone.PAYMENT_REFUNDED], "amount_returned": 4200},
        {"tracking": [*base.tracking, SECOND_PARCEL]} if base.tracking else {},
        {"delay": DelayCause.CARRIER_EXCEPTION, "promised_by": None},
        {"backorder": None, "short_skus": ["INK-CARTRIDGE-07"]},
        {"reason": FailureReason.AUTHORIZATION_RENEWAL_DECLINED},
        {"decision_url": None},
    ]
    if base.after_sales_kind is not None:
        changes += [{"after_sales_kind": other} for other in AfterSalesKind]
    return [base] + [base.model_copy(update=change) for change in changes if change]


def sms_of(notice: CustomerNotice) -> str:
    rendered = render(notice)
    message = OutboundMessage(
        notification_id=notice.notification_id,
        order_id=notice.order_id,
        recipient="+33612345678",
        subject=rendered.subject,
        text=rendered.text,
        short_text=rendered.sms,
        event=notice.kind.value,
        locale=notice.customer.locale,
    )
    return sms_text(message)


@pytest.mark.parametrize(("kind", "locale"), list(product(NoticeKind, LANGUAGES)))
def test_every_kind_has_a_text_message_that_stands_alone(kind: NoticeKind, locale: str) -> None:
    for notice in variants(kind, locale):
        body = sms_of(notice)
        words = body.removesuffix("\n" + reference_of(notice.notification_id))
        assert words != body, "the reference comes last"
        assert "..." not in words, f"cut: {body!r}"  # every kind fits whole: nothing a customer needs is cut
        assert segments(body) <= MAX_SEGMENTS
        assert NAME not in body and "None" not in body
        assert (notice.rma_id or notice.order_id) in words
        for parcel in notice.tracking if kind in TRACKED else []:
            assert (parcel.url or parcel.tracking_code) in words, f"{parcel.url} missing from {body!r}"
        for link in (notice.label_url, notice.decision_url):
            assert link is None or link in words
        unlinked = re.sub(r"https?://\S+", "LINK", words)
        assert not re.search(r"[.!?:;,][^\s\d/)\"']", unlinked), f"words run together: {body!r}"
        assert "  " not in words


@pytest.mark.parametrize("locale", LANGUAGES)
def test_our_own_words_stay_in_gsm_7_so_a_text_costs_one_or_two_segments(locale: str) -> None:
    bodies = [sms_of(sample(kind, locale)) for kind in NoticeKind]
    assert all(is_gsm(body) for body in bodies), [body for body in bodies if not is_gsm(body)]
    assert max(segments(body) for body in bodies) <= 2


def test_the_text_message_carries_what_the_customer_must_act_on() -> None:
    backordered = sms_of(sample(NoticeKind.ORDER_BACKORDERED, "en"))
    assert "INK-CARTRIDGE-07" in backordered and "November 26, 2026" in backordered
    assert "(without an answer: ship what is here now)" in backordered
    assert backordered.endswith(
        "Here: https://shop.example.com/orders/A-10042/backorder\n"
        + reference_of(sample(NoticeKind.ORDER_BACKORDERED).notification_id)
    )
    refunded = sms_of(sample(NoticeKind.RETURN_REFUNDED, "fr"))
    assert "42,00 € remboursés" in refunded  # babel's no-break space became a plain one
    cancelled = sms_of(sample(NoticeKind.ORDER_CANCELED, "en"))
    assert "No money was taken" in cancelled


def test_segments_follow_the_encoding() -> None:
    assert (segments("a" * 160), segments("a" * 161), segments("a" * 306), segments("a" * 307)) == (1, 2, 2, 3)
    assert (segments("€" * 80), segments("€" * 81)) == (1, 2)  # an extension character takes two septets
    assert (segments("ç" * 70), segments("ç" * 71), segments("ç" * 134), segments("ç" * 135)) == (1, 2, 2, 3)
    assert segments("a" * 150 + "ç") == 3  # one character outside GSM-7 makes the whole message UCS-2
    assert gsm_friendly("42,00\u00a0€ « reçu » 10\u202fh \u2013 fin\u2026") == '42,00 € " reçu " 10 h - fin...'


def test_a_character_that_would_straddle_a_segment_boundary_starts_the_next_segment() -> None:
    """Also list of issue 14: the count was one short when an escape or a surrogate pair straddled a boundary."""
    # 152 septets, then "€" (escape + code) cannot take the 153rd septet alone: it opens segment 2 (2 + 151),
    # and the last "a" needs a third segment, although 306 septets would fit in two if split anywhere.
    assert segments("a" * 152 + "€" + "a" * 152) == 3
    assert segments("a" * 151 + "€" + "a" * 153) == 2  # the escape fits at the end of segment 1: no straddle
    # The same for an emoji's two UTF-16 halves in a UCS-2 message (67 units per segment).
    assert segments("ç" * 66 + "\U0001f600" + "ç" * 66) == 3
    assert segments("ç" * 65 + "\U0001f600" + "ç" * 67) == 2


def test_a_cut_keeps_the_reference_and_fits() -> None:
    cut = cut_to("word " * 200, 2, keep="\nRef 0123456789")
    assert cut.endswith("...\nRef 0123456789") and segments(cut) == 2
    unicode_cut = cut_to("reçu " * 100, 2, keep="\nRef 0123456789")
    assert unicode_cut.endswith("\nRef 0123456789") and segments(unicode_cut) == 2
    assert cut_to("short", 1, keep="\nRef 1") == "short\nRef 1"
