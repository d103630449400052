"""Fault injection: which requests get slow, fail transiently, hang after applying, or are rejected.

Decisions are deterministic so a failing chaos run can be replayed: each one is derived from a sha256 of the
seed, the rule's index, the operation, the request's key and how many times that key has been seen for that
operation since the rules were last set. A mutation's key is its idempotency key, reference, hold id, return
receipt id or Message-ID; a read's (operation ``read``, every GET of a vendor API) is its method, path and sorted query
string (:func:`read_key`). A client that retries with the same key therefore gets a fresh, but reproducible,
draw on every attempt.

Reads only get latency and transient failures: they change nothing, so there is nothing to reject and
nothing to apply before a hang.

Each upstream renders the decision in its own wire format; this module only decides.
"""

import asyncio
import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Self
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, model_validator

UpstreamName = Literal["payment", "carrier", "erp", "email", "sms"]

# The operation of every GET of a vendor wire API (not the ``/_sandbox`` pages); email has no reads.
READ = "read"

OPERATIONS: dict[UpstreamName, tuple[str, ...]] = {
    "payment": ("authorize", "capture", "cancel", "refund", READ),
    "carrier": ("shipment.create", "shipment.buy", "shipment.refund", READ),
    "erp": ("hold.put", "hold.release", "hold.commit", "return.put", READ),
    "email": ("send",),
    "sms": ("send", READ),
}

Operation = Literal[
    "authorize",
    "capture",
    "cancel",
    "refund",
    "shipment.create",
    "shipment.buy",
    "shipment.refund",
    "hold.put",
    "hold.release",
    "hold.commit",
    "return.put",
    "send",
    "read",
    "*",
]

# The transient failures an HTTP upstream may answer; 429 comes with ``Retry-After: 1``.
TRANSIENT_STATUSES: tuple[int, ...] = (500, 502, 503, 429)


class RejectSpec(BaseModel):
    """A business rejection, rendered in the upstream's error format with this code and message."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1)
    message: str = "Rejected by a sandbox fault rule."
    decline_code: str | None = Field(default=None, description="Stripe card errors only (authorize).")


class FaultRule(BaseModel):
    """Which requests a rule applies to and what it does to them."""

    model_config = ConfigDict(extra="forbid")

    upstream: Literal["payment", "carrier", "erp", "email", "sms", "*"] = "*"
    operation: Operation = "*"
    order_prefix: str = ""
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    timeout_after_apply_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    faults_per_request: int | None = Field(
        default=None,
        ge=1,
        description="Inject a transient failure or hang into at most this many attempts of the same request, "
        "so a test's worst case is bounded (the real world rarely fails one request ten times in a row).",
    )
    reject: RejectSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.error_rate + self.timeout_after_apply_rate > 1.0:
            raise ValueError("error_rate + timeout_after_apply_rate must not exceed 1")
        if self.upstream != "*" and self.operation != "*" and self.operation not in OPERATIONS[self.upstream]:
            raise ValueError(f"operation {self.operation!r} does not belong to upstream {self.upstream!r}")
        return self

    def matches(self, upstream: UpstreamName, operation: str, order_id: str) -> bool:
        """Whether this rule applies to a request."""
        return (
            self.upstream in ("*", upstream)
            and self.operation in ("*", operation)
            and order_id.startswith(self.order_prefix)
        )


class FaultSettings(BaseModel):
    """Body of ``PUT /_sandbox/faults``; a missing seed keeps the current one."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = None
    rules: list[FaultRule] = Field(default_factory=list)


@dataclass(frozen=True)
class Decision:
    """What to do with one request. The fields are checked in this order by every upstream:

    wait ``latency_s``; if ``transient_status``, fail without applying anything; if ``reject``, answer the
    business rejection (nothing applied); otherwise apply, and if ``timeout_after_apply``, hold the answer for
    the configured hang time before sending it. A read's decision never has ``reject`` or
    ``timeout_after_apply``.
    """

    latency_s: float = 0.0
    transient_status: int | None = None
    reject: RejectSpec | None = None
    timeout_after_apply: bool = False

    async def wait_latency(self) -> None:
        """Sleep for the injected latency, if any."""
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)


NO_FAULT = Decision()


def read_key(method: str, path: str, query: Iterable[tuple[str, str]]) -> str:
    """The fault key of a read: ``GET /v1/refunds?payment_intent=pi_1``, query parameters sorted."""
    encoded = urlencode(sorted(query))
    return f"{method.upper()} {path}" + (f"?{encoded}" if encoded else "")


def draw(seed: int, rule_index: int, operation: str, key: str, nth: int) -> tuple[float, int]:
    """A deterministic uniform float in [0, 1) plus an integer for secondary choices (the error status)."""
    digest = hashlib.sha256(f"{seed}\x1f{rule_index}\x1f{operation}\x1f{key}\x1f{nth}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64, int.from_bytes(digest[8:16], "big")


class FaultEngine:
    """Holds the active rules and turns each request into a :class:`Decision`."""

    def __init__(self, seed: int, hang_seconds: float) -> None:
        self._default_seed = seed
        self.seed = seed
        self.hang_seconds = hang_seconds
        self.rules: list[FaultRule] = []
        self._seen: Counter[tuple[str, str]] = Counter()
        self.stats: Counter[str] = Counter()

    def configure(self, settings: FaultSettings) -> None:
        """Replace the rules; occurrence counters restart so the same requests replay the same outcomes."""
        if settings.seed is not None:
            self.seed = settings.seed
        self.rules = list(settings.rules)
        self._seen.clear()
        self.stats.clear()

    def clear(self) -> None:
        """Remove every rule and go back to the seed the process was started with."""
        self.configure(FaultSettings(seed=self._default_seed))

    def snapshot(self) -> dict[str, Any]:
        """The active settings, as served by the control API."""
        return {"seed": self.seed, "rules": [r.model_dump() for r in self.rules]}

    def note(self, kind: str) -> None:
        """Count an injected fault: ``delayed``, ``transient``, ``rejected`` or ``timeout_after_apply``.

        Upstreams note rejections themselves: a request that would apply nothing new is answered normally.
        """
        self.stats[kind] += 1

    def stats_snapshot(self) -> dict[str, int]:
        """Faults injected since the rules were last set, as served by ``GET /_sandbox/faults/stats``."""
        kinds = ("delayed", "transient", "rejected", "timeout_after_apply")
        return {kind: self.stats[kind] for kind in kinds}

    def decide(self, upstream: UpstreamName, operation: str, order_id: str, key: str) -> Decision:
        """Decide the fate of one request: a mutation, or a read (``operation`` :data:`READ`).

        Every matching rule adds its latency. The first matching rule whose draw falls under ``error_rate``
        makes the request fail transiently; otherwise, for a mutation, the first rule with a ``reject`` rejects
        it; otherwise a draw in ``[error_rate, error_rate + timeout_after_apply_rate)`` makes a mutation hang
        after applying. Rejections and hangs never apply to reads.
        """
        self._seen[(operation, key)] += 1
        if not self.rules:
            return NO_FAULT
        nth = self._seen[(operation, key)]
        latency_ms = 0
        transient: int | None = None
        reject: RejectSpec | None = None
        hang = False
        mutation = operation != READ
        for index, rule in enumerate(self.rules):
            if not rule.matches(upstream, operation, order_id):
                continue
            latency_ms += rule.latency_ms
            u, pick = draw(self.seed, index, operation, key, nth)
            if rule.faults_per_request is not None and nth > rule.faults_per_request:
                u = 1.0  # this request has had its share of failures; later attempts go through
            if transient is None and u < rule.error_rate:
                transient = TRANSIENT_STATUSES[pick % len(TRANSIENT_STATUSES)]
            elif mutation and u < rule.error_rate + rule.timeout_after_apply_rate:
                hang = True
            if mutation and reject is None and rule.reject is not None:
                reject = rule.reject
        if latency_ms:
            self.note("delayed")
        if transient is not None:
            self.note("transient")  # every upstream answers a transient failure at once
            return Decision(latency_ms / 1000, transient_status=transient)
        if reject is not None:
            return Decision(latency_ms / 1000, reject=reject)
        return Decision(latency_ms / 1000, timeout_after_apply=hang)

    async def hang(self, decision: Decision) -> None:
        """Hold the response of an applied request when the decision says so (the client times out)."""
        if decision.timeout_after_apply:
            self.note("timeout_after_apply")
            await asyncio.sleep(self.hang_seconds)


def retry_after_headers(status: int) -> dict[str, str]:
    """Headers of a transient failure: a 429 tells the client when to come back."""
    return {"Retry-After": "1"} if status == 429 else {}
