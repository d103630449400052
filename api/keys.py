"""``python -m api.keys new`` makes a key and its digest; ``python -m api.keys hash KEY`` digests a key."""

import secrets
import sys

from api.auth import hash_key

if __name__ == "__main__":
    match sys.argv[1:]:
        case ["new"]:
            key = "hub_" + secrets.token_urlsafe(32)
            print(f"key:    {key}\nsha256: {hash_key(key)}")
        case ["hash", key]:
            print(hash_key(key))
        case _:
            sys.exit(__doc__)
