"""The one way a test waits for something that happens on its own time: ``eventually``.

Every wait in the suite goes through it, so each one has a bound, and a failed wait says what it waited for and
what it saw last, instead of a loop counter running out somewhere.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

INTERVAL_S = 0.1
"""Between two reads: short next to any wait the suite does, long enough not to load what is read."""

_SHOWN_CHARS = 2000


async def eventually(
    read: Callable[[], Awaitable[T]],
    ready: Callable[[T], bool],
    *,
    what: str,
    timeout_s: float = 30.0,
    retry_on: tuple[type[Exception], ...] = (),
    show: Callable[[T], object] = repr,
) -> T:
    """The first value ``read()`` returns that is ``ready``; reads every ``INTERVAL_S`` until then.

    After ``timeout_s`` (a bound on how long something may take, never a timed assertion) it fails with an
    ``AssertionError`` naming ``what`` it waited for and ``show(value)`` of the last value read. A read that does
    not answer in the time left fails the same way.

    An exception raised by ``read`` propagates at once: a read that breaks is a failure to see, not a state to
    wait out. Only the exception types in ``retry_on`` mean "not yet" (a server still starting refuses
    connections); the last of those is reported if time runs out.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last = "nothing was read"
    while True:
        bound = asyncio.timeout_at(deadline)
        try:
            async with bound:
                value = await read()
        except Exception as error:
            if bound.expired():
                raise AssertionError(f"{what}: not within {timeout_s:g} s (a read was still pending); {last}") from None
            if not isinstance(error, retry_on):
                raise
            last = f"last read failed: {error!r}"
        else:
            if ready(value):
                return value
            last = "last read: " + _shortened(show(value))
        if loop.time() + INTERVAL_S > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:g} s; {last}")
        await asyncio.sleep(INTERVAL_S)


def _shortened(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + f"… ({len(text)} characters)"
