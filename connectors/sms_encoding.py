"""How long an SMS really is: GSM-7 or UCS-2, and how many segments the network bills for.

An SMS body travels in GSM 03.38's 7-bit alphabet when every character is in it (160 septets in one segment, 153
per segment once concatenated; ``€ [ ] { } ^ ~ | \\`` take two septets each). A single character outside it (``ç``,
``ê``, an emoji, the no-break space babel writes in ``42,00 €``) sends the whole message as UCS-2: 70 UTF-16 units,
67 per concatenated segment. Each segment is billed, and phones reassemble at most a few reliably.

``gsm_friendly`` replaces the typographic characters our own words and formatters produce with their GSM-7
lookalikes (as Twilio's "smart encoding" does), so that a French amount does not cost three times as much.
Letters are never changed: a word with ``ç`` stays correct and costs UCS-2.
"""

_GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = "^{}\\[~]|€\f"
_GSM = frozenset(_GSM_BASIC) | frozenset(_GSM_EXTENSION)

_LOOKALIKES = str.maketrans(
    {
        "\u00a0": " ",  # no-break space (babel: "42,00 €")
        "\u202f": " ",  # narrow no-break space (babel, French: "42,00 €", "10 h 30")
        "\u2009": " ",  # thin space
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u00ab": '"',  # « »
        "\u00bb": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
    }
)


def gsm_friendly(text: str) -> str:
    """``text`` with typographic spaces, quotes, dashes and the ellipsis replaced by their GSM-7 lookalikes."""
    return text.translate(_LOOKALIKES)


def is_gsm(text: str) -> bool:
    return all(char in _GSM for char in text)


def segments(text: str) -> int:
    """How many SMS segments ``text`` is sent as.

    A character is never split between two segments: an extension character's escape and its code, or a
    surrogate pair's two halves (an emoji), travel together, so a segment they would straddle ends one unit short.
    """
    if is_gsm(text):
        units, single, per_part = [2 if char in _GSM_EXTENSION else 1 for char in text], 160, 153
    else:
        units, single, per_part = [len(char.encode("utf-16-le")) // 2 for char in text], 70, 67
    if sum(units) <= single:
        return 1
    count, filled = 1, 0
    for size in units:
        if filled + size > per_part:
            count, filled = count + 1, 0
        filled += size
    return count


def cut_to(text: str, max_segments: int, *, keep: str = "") -> str:
    """``text`` followed by ``keep``, with ``text`` shortened (ending in "...") until both fit in
    ``max_segments``; ``keep`` itself is never cut."""
    if segments(text + keep) <= max_segments:
        return text + keep
    low, high = 0, len(text)  # the longest prefix that fits: segments grow with the prefix's length
    while low < high:
        middle = (low + high + 1) // 2
        if segments(text[:middle].rstrip() + "..." + keep) <= max_segments:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "..." + keep
