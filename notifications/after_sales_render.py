"""The words of after-sales messages (returns, exchanges, claims), in English and French, plain text.

One RMA tells one consistent story (story 3): an exchange's messages speak of a replacement at no new charge and
of the item to send back, never of a refund; a message that carries the return label always shows its address.
"""

from notifications.notice import CustomerNotice, NoticeKind, NoticeLine, Undone
from notifications.render import Rendered, language_of, money

# Per kind: (subject, {variant: lead paragraph}), the variant being the RMA's kind, "refund_fallback" or "*".
_Text = dict[NoticeKind, tuple[str, dict[str, str]]]

_EN: _Text = {
    NoticeKind.RETURN_LABEL: (
        "Your return label for order {order_id} (return {rma_id})",
        {
            "exchange": "Here is the prepaid return label for the item you are sending back ({items}). Print it, "
            "stick it on the parcel and hand it to the carrier: the postage is on us.",
            "*": "Here is the prepaid return label for your return of {items}. Print it, stick it on the parcel and "
            "hand it to the carrier: the postage is on us. We refund you as soon as the items are back.",
        },
    ),
    NoticeKind.RETURN_REMINDER: (
        "Reminder: your return {rma_id} for order {order_id}",
        {
            "exchange": "We have not received the item you are sending back for exchange {rma_id} ({items}) yet. "
            "Your prepaid return label is still valid.",
            "*": "We have not received your return {rma_id} ({items}) yet. Your prepaid return label is still "
            "valid. If you have changed your mind, there is nothing to do: the return will close on its own.",
        },
    ),
    NoticeKind.RETURN_RECEIVED: (
        "We have received your return {rma_id}",
        {
            "exchange": "We have received the item you sent back for exchange {rma_id}. Your exchange is "
            "complete: nothing was charged for the replacement.",
            "*": "We have received your return {rma_id}. Inspection found the items damaged, so under our returns "
            "policy there is nothing to refund.",
        },
    ),
    NoticeKind.RETURN_REFUNDED: (
        "Return {rma_id}: {amount} refunded",
        {"*": "We have received your return {rma_id} and refunded {amount} to your original payment method."},
    ),
    NoticeKind.RETURN_EXPIRED: (
        "Your return {rma_id} has expired",
        {
            "exchange": "We did not receive the item you were to send back for exchange {rma_id} ({items}) in "
            "time, so its return label has been cancelled. Contact us if you still want to send it back.",
            "*": "We did not receive the items of your return {rma_id} ({items}) in time, so the return has "
            "closed and its label has been cancelled. Nothing was refunded.",
        },
    ),
    NoticeKind.RETURN_CANCELED: (
        "{canceled}",
        {"*": "{canceled} ({items}) because {reason}."},
    ),
    NoticeKind.EXCHANGE_CONFIRMED: (
        "Exchange {rma_id} confirmed: your replacement is on its way",
        {
            "*": "Your exchange {rma_id} is confirmed: we are sending you {items} to replace what you received, "
            "at no extra charge: it is a straight swap, nothing new is charged.",
        },
    ),
    NoticeKind.REPLACEMENT_SHIPPED: (
        "Claim {rma_id}: your replacement is on its way",
        {"*": "Following your claim {rma_id}, we are sending you a replacement for {items}, at no charge."},
    ),
    NoticeKind.CLAIM_RECEIVED: (
        "We have received your claim {rma_id}",
        {
            "*": "We have received your claim {rma_id} about {items} (order {order_id}). A member of our team is "
            "reviewing it and we will write to you with the outcome."
        },
    ),
    NoticeKind.CLAIM_APPROVED: (
        "Claim {rma_id}: {amount} refunded",
        {
            "refund_fallback": "We could not send a replacement for {items} because {reason}, so we have refunded "
            "{amount} to your original payment method instead.",
            "*": "Your claim {rma_id} about {items} is accepted: we have refunded {amount} to your original "
            "payment method.",
        },
    ),
    NoticeKind.CLAIM_DECLINED: (
        "Your claim {rma_id}",
        {
            "*": "We are sorry: after review, your claim {rma_id} about {items} was not accepted. Nothing has "
            "been charged or refunded. Contact us if you would like us to look at it again."
        },
    ),
}

_FR: _Text = {
    NoticeKind.RETURN_LABEL: (
        "Votre étiquette de retour pour la commande {order_id} (retour {rma_id})",
        {
            "exchange": "Voici l'étiquette de retour prépayée pour l'article que vous nous renvoyez ({items}). "
            "Imprimez-la, collez-la sur le colis et remettez-le au transporteur : l'envoi est à nos frais.",
            "*": "Voici l'étiquette de retour prépayée pour votre retour de {items}. Imprimez-la, collez-la sur le "
            "colis et remettez-le au transporteur : l'envoi est à nos frais. Nous vous remboursons dès réception.",
        },
    ),
    NoticeKind.RETURN_REMINDER: (
        "Rappel : votre retour {rma_id} pour la commande {order_id}",
        {
            "exchange": "Nous n'avons pas encore reçu l'article que vous nous renvoyez pour l'échange {rma_id} "
            "({items}). Votre étiquette de retour prépayée est toujours valable.",
            "*": "Nous n'avons pas encore reçu votre retour {rma_id} ({items}). Votre étiquette de retour "
            "prépayée est toujours valable. Si vous avez changé d'avis, vous n'avez rien à faire : le retour se "
            "clôturera de lui-même.",
        },
    ),
    NoticeKind.RETURN_RECEIVED: (
        "Nous avons reçu votre retour {rma_id}",
        {
            "exchange": "Nous avons reçu l'article que vous nous avez renvoyé pour l'échange {rma_id}. Votre "
            "échange est terminé : le remplacement ne vous a rien coûté.",
            "*": "Nous avons reçu votre retour {rma_id}. Les articles sont arrivés endommagés : selon nos "
            "conditions de retour, il n'y a rien à rembourser.",
        },
    ),
    NoticeKind.RETURN_REFUNDED: (
        "Retour {rma_id} : {amount} remboursés",
        {"*": "Nous avons reçu votre retour {rma_id} et vous avons remboursé {amount} sur votre moyen de paiement."},
    ),
    NoticeKind.RETURN_EXPIRED: (
        "Votre retour {rma_id} a expiré",
        {
            "exchange": "Nous n'avons pas reçu à temps l'article à renvoyer pour l'échange {rma_id} ({items}) : "
            "son étiquette de retour a été annulée. Contactez-nous si vous souhaitez toujours le renvoyer.",
            "*": "Nous n'avons pas reçu à temps les articles de votre retour {rma_id} ({items}) : le retour est "
            "clôturé et son étiquette annulée. Rien n'a été remboursé.",
        },
    ),
    NoticeKind.RETURN_CANCELED: (
        "{canceled}",
        {"*": "{canceled} ({items}) car {reason}."},
    ),
    NoticeKind.EXCHANGE_CONFIRMED: (
        "Échange {rma_id} confirmé : votre article de remplacement est en route",
        {
            "*": "Votre échange {rma_id} est confirmé : nous vous envoyons {items} en remplacement de ce que vous "
            "avez reçu, sans frais : c'est un simple échange, rien de plus n'est débité.",
        },
    ),
    NoticeKind.REPLACEMENT_SHIPPED: (
        "Réclamation {rma_id} : votre article de remplacement est en route",
        {"*": "Suite à votre réclamation {rma_id}, nous vous envoyons gratuitement un remplacement pour {items}."},
    ),
    NoticeKind.CLAIM_RECEIVED: (
        "Nous avons reçu votre réclamation {rma_id}",
        {
            "*": "Nous avons reçu votre réclamation {rma_id} concernant {items} (commande {order_id}). Un membre de "
            "notre équipe l'examine et nous vous écrirons pour vous donner sa réponse."
        },
    ),
    NoticeKind.CLAIM_APPROVED: (
        "Réclamation {rma_id} : {amount} remboursés",
        {
            "refund_fallback": "Nous n'avons pas pu vous envoyer de remplacement pour {items} car {reason} : nous "
            "vous avons donc remboursé {amount} sur votre moyen de paiement.",
            "*": "Votre réclamation {rma_id} concernant {items} est acceptée : nous vous avons remboursé {amount} "
            "sur votre moyen de paiement.",
        },
    ),
    NoticeKind.CLAIM_DECLINED: (
        "Votre réclamation {rma_id}",
        {
            "*": "Nous sommes désolés : après examen, votre réclamation {rma_id} concernant {items} n'a pas été "
            "acceptée. Rien n'a été débité ni remboursé. Contactez-nous si vous souhaitez que nous la réexaminions."
        },
    ),
}

_COMMON = {
    "en": {
        "greeting": "Hello {name},",
        "label": "Your return label: {url}",
        "store": "You handed the item back in store: there is nothing to send.",
        "tracking": "Track it with {carrier}: {code}",
        "line": "{quantity} x {sku}: {condition}",
        "restock": "received in resaleable condition",
        "damaged": "received damaged",
        "label_voided": "The return label has been cancelled.",
        "return": "Your return {rma_id} is cancelled",
        "exchange": "Your exchange {rma_id} is cancelled",
        "claim": "Your claim {rma_id} is cancelled",
        "sign_off": "We will keep you informed at every step.",
    },
    "fr": {
        "greeting": "Bonjour {name},",
        "label": "Votre étiquette de retour : {url}",
        "store": "Vous avez rapporté l'article en magasin : vous n'avez rien à envoyer.",
        "tracking": "Suivez-le chez {carrier} : {code}",
        "line": "{quantity} x {sku} : {condition}",
        "restock": "reçu en état d'être revendu",
        "damaged": "reçu endommagé",
        "label_voided": "L'étiquette de retour a été annulée.",
        "return": "Votre retour {rma_id} est annulé",
        "exchange": "Votre échange {rma_id} est annulé",
        "claim": "Votre réclamation {rma_id} est annulée",
        "sign_off": "Nous vous tiendrons informé à chaque étape.",
    },
}

# Why an RMA was cancelled, or why a claim was refunded rather than replaced (a FailureReason's value).
_REASONS = {
    "en": {
        "canceled_by_customer": "you asked us to cancel it",
        "canceled_by_merchant": "we had to cancel it",
        "out_of_stock": "the item is out of stock",
        "label_rejected": "our carrier could not create a label for your address",
        "system_error": "a problem on our side stopped us",
    },
    "fr": {
        "canceled_by_customer": "vous nous avez demandé de l'annuler",
        "canceled_by_merchant": "nous avons dû l'annuler",
        "out_of_stock": "l'article est en rupture de stock",
        "label_rejected": "notre transporteur n'a pas pu créer d'étiquette pour votre adresse",
        "system_error": "un problème de notre côté nous en a empêchés",
    },
}

_WORDS = {"en": _EN, "fr": _FR}

# Kinds whose message shows the return label (when there is one) and the replacement's tracking.
_SHOWS_LABEL = frozenset({NoticeKind.RETURN_LABEL, NoticeKind.RETURN_REMINDER, NoticeKind.EXCHANGE_CONFIRMED})
_SHOWS_TRACKING = frozenset({NoticeKind.EXCHANGE_CONFIRMED, NoticeKind.REPLACEMENT_SHIPPED})
_SHOWS_CONDITION = frozenset({NoticeKind.RETURN_REFUNDED, NoticeKind.RETURN_RECEIVED})


def render_after_sales(notice: CustomerNotice) -> Rendered:
    """Subject and body of an after-sales notice (one with ``rma_id`` set)."""
    language = language_of(notice.customer.locale)
    common = _COMMON[language]
    subject, leads = _WORDS[language][notice.kind]
    kind = notice.after_sales_kind.value if notice.after_sales_kind else "return"
    reasons = _REASONS[language]
    rma_id = notice.rma_id or ""
    values = {
        "order_id": notice.order_id,
        "rma_id": rma_id,
        "items": _items(notice.lines),
        "amount": money(notice.amount_returned, notice.currency, language),
        "canceled": common[kind].format(rma_id=rma_id),
        "reason": reasons.get(notice.reason.value, reasons["system_error"]) if notice.reason else "",
    }
    variant = kind
    if notice.kind is NoticeKind.CLAIM_APPROVED and notice.reason is not None:
        variant = "refund_fallback"
    lead = leads.get(variant, leads["*"])
    paragraphs = [str(common["greeting"]).format(name=notice.customer.name), lead.format(**values)]
    if notice.kind in _SHOWS_CONDITION and any(line.disposition for line in notice.lines):
        paragraphs.append(
            "\n".join(
                str(common["line"]).format(
                    sku=line.sku, quantity=line.quantity, condition=common[line.disposition.value]
                )
                for line in notice.lines
                if line.disposition is not None
            )
        )
    if notice.kind in _SHOWS_TRACKING:
        paragraphs += [
            str(common["tracking"]).format(carrier=link.carrier, code=link.tracking_code)
            + (f" ({link.url})" if link.url else "")
            for link in notice.tracking
        ]
    if notice.kind in _SHOWS_LABEL:
        if notice.label_url:
            paragraphs.append(str(common["label"]).format(url=notice.label_url))
        elif notice.kind is NoticeKind.EXCHANGE_CONFIRMED:
            paragraphs.append(str(common["store"]))
    if Undone.LABEL_VOIDED in notice.undone:
        paragraphs.append(str(common["label_voided"]))
    paragraphs.append(str(common["sign_off"]))
    return Rendered(subject=subject.format(**values), text="\n\n".join(paragraphs) + "\n")


def _items(lines: list[NoticeLine]) -> str:
    return ", ".join(f"{line.quantity} x {line.sku}" for line in lines)
