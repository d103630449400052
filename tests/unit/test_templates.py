"""Every notice kind renders in every language from the templates: subject, text part, well-formed HTML part,
money and dates as the locale writes them, customer data escaped; and ``hub notifications preview``."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from notifications.notice import DelayCause, NoticeKind
from notifications.render import LANGUAGES, format_money, render
from notifications.samples import sample

LOCALES = [*LANGUAGES, "fr-FR", "fr-CA", "en-GB"]
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})
TAG = re.compile(r"</?[A-Za-z][^>]*>")


class _Balance(HTMLParser):
    """Fails on an end tag that closes anything but the innermost open element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <meta ... />: opens and closes at once

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:] or 'nothing'}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _well_formed(html: str) -> str:
    """The HTML's text, once checked that every element is closed in order."""
    parser = _Balance()
    parser.feed(html)
    parser.close()
    assert parser.open == [], f"unclosed: {parser.open}"
    return "".join(parser.text)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", list(NoticeKind))
def test_every_kind_renders_in_every_locale(kind: NoticeKind, locale: str) -> None:
    rendered = render(sample(kind, locale))  # StrictUndefined: a missing value raises here

    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.strip() and not TAG.search(rendered.text), rendered.text
    greeting = "Bonjour" if locale.startswith("fr") else "Hello"
    assert rendered.text.startswith(f"{greeting} Camille Martin,")
    assert rendered.html.startswith("<!DOCTYPE html>")
    shown = _well_formed(rendered.html)
    assert "Camille Martin" in shown and rendered.subject in shown  # the subject is the HTML title


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_english_and_french_words_differ_and_an_unknown_language_reads_english(kind: NoticeKind) -> None:
    english, french = render(sample(kind, "en")), render(sample(kind, "fr"))
    assert english.subject != french.subject and english.text != french.text
    assert render(sample(kind, "de-DE")) == english


def test_money_is_written_as_the_locale_writes_it() -> None:
    assert format_money(4200, "EUR", "fr") == "42,00\u00a0€"
    assert format_money(4200, "EUR", "en") == "€42.00"
    assert format_money(1290, "JPY", "en") == "¥1,290"  # yen have no minor unit
    assert format_money(1290, "KWD", "en") == "KWD1.290"  # three decimals (ISO 4217)
    assert format_money(1290, "IQD", "en") == "IQD1.290"  # ISO 4217's exponent, though CLDR shows none


def test_amounts_and_dates_in_messages_follow_the_locale() -> None:
    refunded = sample(NoticeKind.RETURN_REFUNDED)  # 4200 EUR back
    assert "€42.00" in render(refunded).text
    assert "42,00\u00a0€" in render(sample(NoticeKind.RETURN_REFUNDED, "fr-FR")).text
    in_yen = refunded.model_copy(update={"currency": "JPY", "amount_returned": 4200})
    assert "¥4,200 " in render(in_yen).text and "4,200." not in render(in_yen).text

    english, french = (render(sample(NoticeKind.ORDER_BACKORDERED, locale)).text for locale in ("en", "fr"))
    assert "expected back on December 10, 2026" in english and "by November 26, 2026 at 6:00" in english
    assert "retour prévu le 10 décembre 2026" in french and "avant le 26 novembre 2026 à 18:00" in french


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_customer_data_is_escaped_in_html_and_kept_verbatim_in_text(locale: str) -> None:
    name = '<script>alert("hi")</script> & Co'
    rendered = render(sample(NoticeKind.ORDER_SHIPPED, locale, name=name))

    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&#34;hi&#34;)&lt;/script&gt; &amp; Co" in rendered.html
    assert name in _well_formed(rendered.html)
    assert name in rendered.text  # plain text is never interpreted: it is the name as given


def test_text_and_html_tell_the_same_story() -> None:
    rendered = render(sample(NoticeKind.EXCHANGE_CONFIRMED, "en"))
    label = "https://labels.example.com/returns/R-2071.pdf"
    tracking = "https://track.example.com/9400111899223344558899"
    assert label in rendered.text and f'<a href="{label}">' in rendered.html
    assert tracking in rendered.text and f'<a href="{tracking}">' in rendered.html
    assert "no extra charge" in rendered.text and "no extra charge" in rendered.html
    assert "refund" not in (rendered.subject + rendered.text + rendered.html).lower()


def test_the_delay_says_why() -> None:
    carrier = sample(NoticeKind.ORDER_DELAYED).model_copy(
        update={"delay": DelayCause.CARRIER_EXCEPTION, "promised_by": None}
    )
    assert "reported a problem" in render(carrier).text
    assert "by December 10, 2026" in render(sample(NoticeKind.ORDER_DELAYED)).text
    assert "au plus tard le 10 décembre 2026" in render(sample(NoticeKind.ORDER_DELAYED, "fr")).text


runner = CliRunner()


def test_preview_writes_the_html_text_subject_and_sms(tmp_path: Path) -> None:
    result = runner.invoke(app, ["notifications", "preview", "order-shipped", "--locale", "fr", "--out", str(tmp_path)])

    assert result.exit_code == 0, result.output
    html, text, subject, sms = (tmp_path / f"order-shipped.fr.{suffix}" for suffix in ("html", "txt", "subject", "sms"))
    assert result.output.splitlines()[:4] == [str(html), str(text), str(subject), str(sms)]
    assert subject.read_text(encoding="utf-8") == "Votre commande A-10042 est expédiée\n"
    assert sms.read_text(encoding="utf-8").startswith(
        "Commande A-10042 expédiée, 42,00\u00a0€ débités. Suivi : https://"
    )
    assert text.read_text(encoding="utf-8").startswith("Bonjour Camille Martin,")
    assert "42,00\u00a0€" in _well_formed(html.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["order-lost", "--locale", "fr"], "unknown event 'order-lost': choose one of order-confirmed, order-shipped"),
        (["order-shipped", "--locale", "de"], "unsupported locale 'de': choose one of en, fr"),
        (["order-shipped", "--locale", "FR"], "unsupported locale 'FR'"),
    ],
)
def test_preview_refuses_an_unknown_event_or_locale(tmp_path: Path, arguments: list[str], said: str) -> None:
    result = runner.invoke(app, ["notifications", "preview", *arguments, "--out", str(tmp_path)])

    assert result.exit_code == 2
    assert said in result.stderr
    assert list(tmp_path.iterdir()) == []
