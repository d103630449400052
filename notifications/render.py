"""Turning a notice into a subject and a plain-text body, in the customer's language (English or French).

Transactional content only. The words say plainly what happened and what was undone, because a customer who
has to phone to find out is the failure this hub exists to prevent.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.backorder import BackorderChoice
from domain.currency import MINOR_UNITS
from domain.order_view import FailureReason
from notifications.notice import CustomerNotice, NoticeKind, Undone


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str


def language_of(locale: str) -> str:
    return "fr" if locale.split("-")[0].lower() == "fr" else "en"


def money(amount: int, currency: str, language: str) -> str:
    """``12900, EUR`` → ``129.00 EUR`` (en) or ``129,00 EUR`` (fr)."""
    exponent = MINOR_UNITS.get(currency, 2)
    units, minor = divmod(amount, 10**exponent) if exponent else (amount, 0)
    whole = f"{units:,}".replace(",", "\u202f" if language == "fr" else ",")
    if not exponent:
        return f"{whole} {currency}"
    separator = "," if language == "fr" else "."
    return f"{whole}{separator}{minor:0{exponent}d} {currency}"


_REASONS = {
    "en": {
        FailureReason.PAYMENT_DECLINED: "your bank declined the payment",
        FailureReason.OUT_OF_STOCK: "some items are out of stock",
        FailureReason.LABEL_REJECTED: "our carrier could not accept a parcel for your address",
        FailureReason.CAPTURE_FAILED: "we could not collect the payment for your order",
        FailureReason.CANCELED_BY_CUSTOMER: "you asked us to cancel it",
        FailureReason.CANCELED_BY_MERCHANT: "we had to cancel it",
        FailureReason.SYSTEM_ERROR: "a problem on our side stopped us from processing it",
        FailureReason.AUTHORIZATION_RENEWAL_DECLINED: "your bank declined to renew the payment authorization "
        "while the items were on their way to us",
        FailureReason.RESTOCK_TOO_LATE: "the missing items did not come back in stock in time",
        FailureReason.CANCELED_MISSING_ITEMS: "you asked us to drop the missing items",
    },
    "fr": {
        FailureReason.PAYMENT_DECLINED: "votre banque a refusé le paiement",
        FailureReason.OUT_OF_STOCK: "certains articles sont en rupture de stock",
        FailureReason.LABEL_REJECTED: "notre transporteur n'a pas pu accepter un colis pour votre adresse",
        FailureReason.CAPTURE_FAILED: "nous n'avons pas pu encaisser le paiement de votre commande",
        FailureReason.CANCELED_BY_CUSTOMER: "vous nous avez demandé de l'annuler",
        FailureReason.CANCELED_BY_MERCHANT: "nous avons dû l'annuler",
        FailureReason.SYSTEM_ERROR: "un problème de notre côté nous a empêchés de la traiter",
        FailureReason.AUTHORIZATION_RENEWAL_DECLINED: "votre banque a refusé de renouveler l'autorisation de "
        "paiement pendant que nous attendions les articles",
        FailureReason.RESTOCK_TOO_LATE: "les articles manquants ne sont pas revenus en stock à temps",
        FailureReason.CANCELED_MISSING_ITEMS: "vous nous avez demandé de retirer les articles manquants",
    },
}

_UNDONE = {
    "en": {
        Undone.PAYMENT_VOIDED: "The authorization of {amount} on your payment method has been released: "
        "no money was taken.",
        Undone.PAYMENT_REFUNDED: "{amount} has been refunded to your original payment method.",
        Undone.STOCK_RELEASED: "The items reserved for you have been released.",
        Undone.LABEL_VOIDED: "The shipping label prepared for your parcel has been cancelled.",
    },
    "fr": {
        Undone.PAYMENT_VOIDED: "L'autorisation de {amount} sur votre moyen de paiement a été levée : "
        "aucune somme n'a été prélevée.",
        Undone.PAYMENT_REFUNDED: "{amount} vous ont été remboursés sur votre moyen de paiement d'origine.",
        Undone.STOCK_RELEASED: "Les articles réservés pour vous ont été remis en stock.",
        Undone.LABEL_VOIDED: "L'étiquette d'expédition préparée pour votre colis a été annulée.",
    },
}

_TEXT = {
    "en": {
        "greeting": "Hello {name},",
        NoticeKind.ORDER_CONFIRMED: (
            "Order {order_id} confirmed",
            "Thank you for your order {order_id}. We have reserved your items and authorized {total}; "
            "you will only be charged when your parcel ships.",
        ),
        NoticeKind.ORDER_SHIPPED: (
            "Order {order_id} has shipped",
            "Your order {order_id} is on its way. We have charged {total}.",
        ),
        NoticeKind.ORDER_CANCELED: (
            "Order {order_id} cancelled",
            "We are sorry: your order {order_id} has been cancelled because {reason}.",
        ),
        NoticeKind.ORDER_BACKORDERED: (
            "Order {order_id}: some items are out of stock",
            "Thank you for your order {order_id}. Some items are not in stock right now:",
        ),
        NoticeKind.BACKORDER_DECIDED: (
            "Order {order_id}: what happens next",
            "Here is what happens to your order {order_id} now.",
        ),
        NoticeKind.ITEMS_CANCELED: (
            "Order {order_id}: some items cancelled",
            "We are sorry: some items of your order {order_id} have been cancelled because {reason}. "
            "Everything that has already shipped stays as it is.",
        ),
        "missing": "- {sku}: {missing} missing{restock}",
        "restock": ", expected back on {date}",
        "choices": "Please tell us by {deadline} (UTC) what you prefer:\n"
        "- ship_available: we ship what we have now, and the rest as soon as it arrives;\n"
        "- wait_for_all: we wait and ship everything together;\n"
        "- cancel_missing: we drop the missing items and ship the rest now; you pay only for what you receive.\n"
        "Without an answer we will {default}.",
        BackorderChoice.SHIP_AVAILABLE: "ship what we have now and the rest as soon as it arrives",
        BackorderChoice.WAIT_FOR_ALL: "wait and ship everything together",
        BackorderChoice.CANCEL_MISSING: "drop the missing items and ship the rest now",
        "decided_customer": "As you asked, we will {choice}.",
        "decided_default": "We did not hear from you, so as announced we will {choice}.",
        "canceled": "Cancelled: {skus}.",
        "tracking": "Track it with {carrier}: {code}",
        "short": "Out of stock: {skus}.",
        "sign_off": "We will keep you informed at every step.",
    },
    "fr": {
        "greeting": "Bonjour {name},",
        NoticeKind.ORDER_CONFIRMED: (
            "Commande {order_id} confirmée",
            "Merci pour votre commande {order_id}. Vos articles sont réservés et {total} ont été autorisés ; "
            "vous ne serez débité qu'à l'expédition de votre colis.",
        ),
        NoticeKind.ORDER_SHIPPED: (
            "Votre commande {order_id} est expédiée",
            "Votre commande {order_id} est en route. Nous avons débité {total}.",
        ),
        NoticeKind.ORDER_CANCELED: (
            "Commande {order_id} annulée",
            "Nous sommes désolés : votre commande {order_id} a été annulée car {reason}.",
        ),
        NoticeKind.ORDER_BACKORDERED: (
            "Commande {order_id} : des articles sont en rupture",
            "Merci pour votre commande {order_id}. Certains articles ne sont pas en stock pour le moment :",
        ),
        NoticeKind.BACKORDER_DECIDED: (
            "Commande {order_id} : la suite",
            "Voici ce qui se passe maintenant pour votre commande {order_id}.",
        ),
        NoticeKind.ITEMS_CANCELED: (
            "Commande {order_id} : articles annulés",
            "Nous sommes désolés : des articles de votre commande {order_id} ont été annulés car {reason}. "
            "Ce qui a déjà été expédié n'est pas concerné.",
        ),
        "missing": "- {sku} : {missing} manquant(s){restock}",
        "restock": ", retour prévu le {date}",
        "choices": "Dites-nous avant le {deadline} (UTC) ce que vous préférez :\n"
        "- ship_available : nous expédions ce que nous avons maintenant, le reste dès son arrivée ;\n"
        "- wait_for_all : nous attendons et expédions tout ensemble ;\n"
        "- cancel_missing : nous retirons les articles manquants et expédions le reste maintenant ; "
        "vous ne payez que ce que vous recevez.\n"
        "Sans réponse, nous allons {default}.",
        BackorderChoice.SHIP_AVAILABLE: "expédier ce que nous avons maintenant et le reste dès son arrivée",
        BackorderChoice.WAIT_FOR_ALL: "attendre et tout expédier ensemble",
        BackorderChoice.CANCEL_MISSING: "retirer les articles manquants et expédier le reste maintenant",
        "decided_customer": "Comme vous l'avez demandé, nous allons {choice}.",
        "decided_default": "Sans réponse de votre part, comme annoncé, nous allons {choice}.",
        "canceled": "Annulé(s) : {skus}.",
        "tracking": "Suivez-la chez {carrier} : {code}",
        "short": "En rupture de stock : {skus}.",
        "sign_off": "Nous vous tiendrons informé à chaque étape.",
    },
}


def render(notice: CustomerNotice) -> Rendered:
    if notice.rma_id is not None:
        # After-sales words live in their own module, which builds on this one (hence imported here).
        from notifications.after_sales_render import render_after_sales

        return render_after_sales(notice)
    language = language_of(notice.customer.locale)
    text = _TEXT[language]
    subject, lead = text[notice.kind]
    values = {
        "order_id": notice.order_id,
        "total": money(notice.total, notice.currency, language),
        "reason": _REASONS[language][notice.reason] if notice.reason else "",
    }
    paragraphs = [str(text["greeting"]).format(name=notice.customer.name), str(lead).format(**values)]
    if notice.short_skus:
        paragraphs.append(str(text["short"]).format(skus=", ".join(notice.short_skus)))
    paragraphs += _backorder_paragraphs(notice, text)
    returned = money(notice.amount_returned, notice.currency, language)
    paragraphs += [_UNDONE[language][undone].format(amount=returned) for undone in notice.undone]
    paragraphs += [
        str(text["tracking"]).format(carrier=link.carrier, code=link.tracking_code)
        + (f" ({link.url})" if link.url else "")
        for link in notice.tracking
    ]
    paragraphs.append(str(text["sign_off"]))
    return Rendered(subject=str(subject).format(**values), text="\n\n".join(paragraphs) + "\n")


def _backorder_paragraphs(notice: CustomerNotice, text: Mapping[Any, Any]) -> list[str]:
    """What is missing and the choices (``order-backordered``); what was decided and by whom (``backorder-
    decided``); what was dropped (``items-canceled``, ``backorder-decided`` after ``cancel_missing``)."""
    backorder = notice.backorder
    paragraphs: list[str] = []
    if notice.kind is NoticeKind.ORDER_BACKORDERED and backorder is not None:
        paragraphs.append(
            "\n".join(
                str(text["missing"]).format(
                    sku=line.sku,
                    missing=line.missing,
                    restock=str(text["restock"]).format(date=line.restock_date.isoformat())
                    if line.restock_date
                    else "",
                )
                for line in backorder.lines
            )
        )
        deadline = backorder.decide_by.strftime("%Y-%m-%d %H:%M")
        paragraphs.append(str(text["choices"]).format(deadline=deadline, default=text[backorder.default]))
    if notice.kind is NoticeKind.BACKORDER_DECIDED and backorder is not None and backorder.choice is not None:
        key = "decided_customer" if backorder.decided_by == "customer" else "decided_default"
        paragraphs.append(str(text[key]).format(choice=text[backorder.choice]))
    if notice.kind in (NoticeKind.ITEMS_CANCELED, NoticeKind.BACKORDER_DECIDED) and notice.canceled_skus:
        paragraphs.append(str(text["canceled"]).format(skus=", ".join(notice.canceled_skus)))
    return paragraphs
