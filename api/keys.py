"""``python -m api.keys new`` makes a key and its digest; ``python -m api.keys hash KEY`` digests a key."""

import sys

from hub.runtime.api_keys import hash_key, new_key

if __name__ == "__main__":
    match sys.argv[1:]:
        case ["new"]:
            key = new_key()
            print(f"key:    {key}\nsha256: {hash_key(key)}")
        case ["hash", key]:
            print(hash_key(key))
        case _:
            sys.exit(__doc__)
