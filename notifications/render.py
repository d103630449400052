"""Turning a notice into a subject, a plain-text part and an HTML part, in the customer's language.

The words live in Jinja templates under ``notifications/templates/``, one per notice kind and language
(``en/order-shipped.j2``, ``fr/order-shipped.j2``): a ``subject`` block, an ``sms`` block (the same facts and
links in a sentence or two) and the body. The body writes its words once, as paragraphs and lists
through format macros, and is rendered twice: with ``macros.txt.j2`` and no escaping for the text part, with
``macros.html.j2`` and autoescaping for the HTML part. Every value is ready-formatted here (money and dates per
locale, with babel), and ``StrictUndefined`` makes a template that names a missing value fail rather than print
nothing.

Transactional content only. The words say plainly what happened and what was undone, because a customer who has
to phone to find out is the failure this hub exists to prevent.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.numbers import format_currency
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from domain.backorder import Backorder
from domain.currency import MINOR_UNITS
from notifications.notice import CustomerNotice, NoticeLine

LANGUAGES = ("en", "fr")
"""The languages every notice kind has templates in; any other locale gets the first."""
DEFAULT_LANGUAGE = LANGUAGES[0]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    sms: str
    """The template's ``sms`` block on one line: the facts and links of the email, for a text message that must
    stand alone (the SMS channel may be the customer's only one for this kind)."""


def render(notice: CustomerNotice) -> Rendered:
    """The notice in the language of ``notice.customer.locale`` (``fr``, ``fr-FR``, ``fr-CA`` → French)."""
    language, locale = resolve_locale(notice.customer.locale)
    values = _values(notice, language, locale)
    name = f"{language}/{notice.kind.value}.j2"
    text_variables, html_variables = _variables(values, autoescape=False), _variables(values, autoescape=True)
    text_template = _environment(autoescape=False).get_template(name)
    # The subject is the template's ``subject`` block alone, unescaped (the HTML layout also shows it as the title).
    context = text_template.new_context(text_variables)
    subject = _squash("".join(text_template.blocks["subject"](context)))
    sms = _squash("".join(text_template.blocks["sms"](context)))
    text = _tidy(text_template.render(text_variables))
    html = _environment(autoescape=True).get_template(name).render(html_variables)
    return Rendered(subject=subject, text=text, html=html, sms=sms)


def resolve_locale(locale: str) -> tuple[str, Locale]:
    """The template language and the babel locale to format with. A customer whose language has no templates
    reads English, so the numbers and dates are formatted the English way too."""
    language = locale.replace("_", "-").split("-")[0].lower()
    if language not in LANGUAGES:
        return DEFAULT_LANGUAGE, Locale.parse(DEFAULT_LANGUAGE)
    try:
        return language, Locale.parse(locale, sep="-")
    except (ValueError, UnknownLocaleError):
        return language, Locale.parse(language)


def format_money(amount: int, currency: str, locale: Locale | str) -> str:
    """Minor units as the locale writes money: ``4200, "EUR"`` → ``€42.00`` (en), ``42,00 €`` (fr)."""
    exponent = MINOR_UNITS.get(currency, 2)
    parsed = Locale.parse(locale, sep="-") if isinstance(locale, str) else locale
    pattern = parsed.currency_formats["standard"].pattern
    # ISO 4217's exponent, not CLDR's: they differ for a few currencies (CLDR shows IQD without decimals).
    pattern = re.sub(r"\.0+", "." + "0" * exponent if exponent else "", pattern)
    value = Decimal(amount).scaleb(-exponent)
    return format_currency(value, currency, format=pattern, locale=parsed, currency_digits=False)


def _values(notice: CustomerNotice, language: str, locale: Locale) -> dict[str, Any]:
    """Everything a template may show, formatted for the locale."""
    return {
        "lang": language,
        "name": notice.customer.name,
        "order_id": notice.order_id,
        "rma_id": notice.rma_id or "",
        "after_sales_kind": notice.after_sales_kind.value if notice.after_sales_kind else "return",
        "total": format_money(notice.total, notice.currency, locale),
        "amount": format_money(notice.amount_returned, notice.currency, locale),
        "refunded": notice.amount_returned,
        "delayed": format_money(notice.amount_delayed, notice.currency, locale),
        "charged": format_money(notice.amount_charged, notice.currency, locale),
        "reason": notice.reason.value if notice.reason else None,
        "short_skus": ", ".join(notice.short_skus),
        "canceled_skus": ", ".join(notice.canceled_skus),
        "undone": [undone.value for undone in notice.undone],
        "tracking": [{"carrier": t.carrier, "code": t.tracking_code, "url": t.url} for t in notice.tracking],
        "backorder": _backorder(notice.backorder, locale),
        "label_url": notice.label_url,
        "bring_to_store": notice.bring_to_store,
        "decision_url": notice.decision_url,
        "items": _items(notice.lines),
        "lines": [
            {"sku": line.sku, "quantity": line.quantity, "condition": line.disposition.value}
            for line in notice.lines
            if line.disposition is not None
        ],
        "delay": notice.delay.value if notice.delay else None,
        "promised_by": _date(notice.promised_by, locale) if notice.promised_by else None,
        "parcel_fate": notice.parcel_fate.value if notice.parcel_fate else None,
        "sent_again": notice.sent_again,
        "refunded_in_full": notice.amount_returned >= notice.total > 0,
    }


def _backorder(backorder: Backorder | None, locale: Locale) -> dict[str, Any] | None:
    if backorder is None:
        return None
    deadline = backorder.decide_by
    deadline = deadline.replace(tzinfo=UTC) if deadline.tzinfo is None else deadline.astimezone(UTC)
    return {
        "lines": [
            {"sku": line.sku, "missing": line.missing, "restock": _date(line.restock_date, locale)}
            if line.restock_date
            else {"sku": line.sku, "missing": line.missing, "restock": None}
            for line in backorder.lines
        ],
        "deadline_date": _date(deadline.date(), locale),
        "deadline_time": format_time(deadline.time(), format="short", locale=locale),
        "default": backorder.default.value,
        "choice": backorder.choice.value if backorder.choice else None,
        "decided_by": backorder.decided_by,
    }


def _date(day: date | datetime, locale: Locale) -> str:
    return format_date(day, format="long", locale=locale)


def _items(lines: list[NoticeLine]) -> str:
    return ", ".join(f"{line.quantity} x {line.sku}" for line in lines)


_LAYOUT_SPACE = re.compile(r"[ \t\r\n]+")
"""Spaces and line breaks of the template source; not the no-break spaces babel writes (``42,00\u00a0€``)."""


def _squash(value: str) -> str:
    """One line: the template's own line breaks are layout, not words."""
    squashed = _LAYOUT_SPACE.sub(" ", str(value)).strip()
    return Markup(squashed) if isinstance(value, Markup) else squashed


@cache
def _environment(*, autoescape: bool) -> Environment:
    environment = Environment(
        loader=PackageLoader("notifications", "templates"),
        # The templates are package data and do not change under a running process: no file check per message.
        auto_reload=False,
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["squash"] = _squash
    return environment


def _variables(values: dict[str, Any], *, autoescape: bool) -> dict[str, Any]:
    """The values plus the layout, format macros (``m``) and phrases (``t``) of this format and language."""
    environment = _environment(autoescape=autoescape)
    suffix = "html" if autoescape else "txt"
    return {
        **values,
        "layout": f"layout.{suffix}.j2",
        "m": environment.get_template(f"macros.{suffix}.j2").module,
        "t": environment.get_template(f"{values['lang']}/_phrases.j2").module,
    }


def _tidy(text: str) -> str:
    """Paragraphs separated by exactly one blank line, no trailing spaces, one final newline."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"
