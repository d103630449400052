"""``eventually``, the suite's one way to wait: the first ready value, a failure that says what it waited for and
what it saw, and a read that breaks is a failure unless the test named it "not yet"."""

import asyncio

import pytest

from tests.eventually import eventually


class Counter:
    def __init__(self) -> None:
        self.reads = 0

    async def read(self) -> int:
        self.reads += 1
        return self.reads


async def test_returns_the_first_value_that_is_ready_and_reads_no_more() -> None:
    counter = Counter()
    assert await eventually(counter.read, lambda n: n >= 3, what="three reads") == 3
    assert counter.reads == 3


async def test_a_wait_that_runs_out_names_what_it_waited_for_and_the_last_value_read() -> None:
    async def pending() -> dict[str, str]:
        return {"status": "pending"}

    with pytest.raises(AssertionError) as failed:
        await eventually(pending, lambda o: o["status"] == "completed", what="order A-1 completed", timeout_s=0.3)
    assert str(failed.value) == "order A-1 completed: not within 0.3 s; last read: {'status': 'pending'}"


async def test_show_chooses_what_of_the_last_value_the_failure_prints() -> None:
    async def pending() -> dict[str, str]:
        return {"status": "pending", "noise": "x" * 100}

    with pytest.raises(AssertionError, match=r"last read: pending$"):
        await eventually(pending, lambda o: False, what="never", timeout_s=0.2, show=lambda o: o["status"])


async def test_an_exception_in_read_propagates_at_once() -> None:
    reads = 0

    async def broken() -> int:
        nonlocal reads
        reads += 1
        raise KeyError("status")

    with pytest.raises(KeyError):
        await eventually(broken, lambda n: True, what="a broken read")
    assert reads == 1


async def test_exceptions_named_in_retry_on_mean_not_yet() -> None:
    counter = Counter()

    async def starting() -> int:
        if await counter.read() < 3:
            raise ConnectionRefusedError("still starting")
        return counter.reads

    assert await eventually(starting, lambda n: True, what="a server up", retry_on=(ConnectionError,)) == 3

    async def down() -> int:
        raise ConnectionRefusedError("nobody listens")

    with pytest.raises(AssertionError, match=r"^a server up: not within 0.2 s; last read failed: .*nobody listens"):
        await eventually(down, lambda n: True, what="a server up", timeout_s=0.2, retry_on=(ConnectionError,))


async def test_a_read_that_does_not_answer_in_time_fails_the_wait() -> None:
    async def hangs() -> int:
        await asyncio.Event().wait()
        return 0

    with pytest.raises(AssertionError, match=r"^an answer: not within 0.2 s \(a read was still pending\)"):
        await eventually(hangs, lambda n: True, what="an answer", timeout_s=0.2)


async def test_a_timeout_raised_by_the_read_itself_is_the_reads_failure() -> None:
    async def times_out() -> int:
        raise TimeoutError("upstream")

    with pytest.raises(TimeoutError, match="upstream"):
        await eventually(times_out, lambda n: True, what="an answer")
