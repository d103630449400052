"""Turning a notice into a subject and a plain-text body, in the customer's language (English or French).

Transactional content only. The words say plainly what happened and what was undone, because a customer who
has to phone to find out is the failure this hub exists to prevent.
"""

from dataclasses import dataclass

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
    },
    "fr": {
        FailureReason.PAYMENT_DECLINED: "votre banque a refusé le paiement",
        FailureReason.OUT_OF_STOCK: "certains articles sont en rupture de stock",
        FailureReason.LABEL_REJECTED: "notre transporteur n'a pas pu accepter un colis pour votre adresse",
        FailureReason.CAPTURE_FAILED: "nous n'avons pas pu encaisser le paiement de votre commande",
        FailureReason.CANCELED_BY_CUSTOMER: "vous nous avez demandé de l'annuler",
        FailureReason.CANCELED_BY_MERCHANT: "nous avons dû l'annuler",
        FailureReason.SYSTEM_ERROR: "un problème de notre côté nous a empêchés de la traiter",
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
        "tracking": "Suivez-la chez {carrier} : {code}",
        "short": "En rupture de stock : {skus}.",
        "sign_off": "Nous vous tiendrons informé à chaque étape.",
    },
}


def render(notice: CustomerNotice) -> Rendered:
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
    returned = money(notice.amount_returned, notice.currency, language)
    paragraphs += [_UNDONE[language][undone].format(amount=returned) for undone in notice.undone]
    paragraphs += [
        str(text["tracking"]).format(carrier=link.carrier, code=link.tracking_code)
        + (f" ({link.url})" if link.url else "")
        for link in notice.tracking
    ]
    paragraphs.append(str(text["sign_off"]))
    return Rendered(subject=str(subject).format(**values), text="\n\n".join(paragraphs) + "\n")
