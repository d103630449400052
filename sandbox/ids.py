"""Vendor-shaped random identifiers (``pi_…``, ``shp_…``).

Adapters and tests sometimes recognise objects by their prefix, so ids keep each vendor's convention; the
random part is alphanumeric like the real ones.
"""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int = 24) -> str:
    """A random alphanumeric string of ``length`` characters."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    """A new identifier such as ``pi_3MtwBwLkdIwHu7ix28a3tqPa`` for ``prefix="pi"``."""
    return f"{prefix}_{random_token(length)}"
