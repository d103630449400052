"""ISO 4217 currencies and their minor units.

Amounts are always integers of the currency's minor unit (cents for EUR, yen for JPY, fils for KWD), so the
exponent is needed to show an amount to a person and nowhere else.
"""

from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

# Active ISO 4217 codes mapped to their minor-unit exponent (ISO 4217 amendment 179). Codes not listed here
# are either historic or funds codes that no shop charges in.
_TWO_DECIMALS = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CNY
    COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS
    INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN
    NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP
    STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD XCG YER ZAR ZMW ZWG
"""
_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND"

MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(_TWO_DECIMALS.split(), 2),
    **dict.fromkeys(_ZERO_DECIMALS.split(), 0),
    **dict.fromkeys(_THREE_DECIMALS.split(), 3),
}


def _known_currency(code: str) -> str:
    if code not in MINOR_UNITS:
        raise ValueError(f"{code!r} is not an active ISO 4217 currency code")
    return code


CurrencyCode = Annotated[
    str,
    AfterValidator(_known_currency),
    # Published in the OpenAPI schema too, so clients (and generated tests) know the accepted codes.
    WithJsonSchema({"type": "string", "enum": sorted(MINOR_UNITS), "description": "ISO 4217 currency code"}),
]
"""An upper-case ISO 4217 code such as ``EUR``."""


def format_amount(amount: int, currency: str) -> str:
    """``12900, "EUR"`` → ``"129.00 EUR"``: locale-neutral, for logs, summaries and the Temporal UI."""
    exponent = MINOR_UNITS[currency]
    if exponent == 0:
        return f"{amount} {currency}"
    sign = "-" if amount < 0 else ""
    units, minor = divmod(abs(amount), 10**exponent)
    return f"{sign}{units}.{minor:0{exponent}d} {currency}"
