"""The Temporal client of a hub process, from settings: address, namespace, credentials, payload encryption.

The worker and the API each add their own metrics runtime and tracing interceptors (``hub.runtime.telemetry``);
``hub.runtime.bootstrap`` says which.
"""

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import structlog
from temporalio.client import Client, Interceptor
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from hub.runtime.encryption import data_converter
from hub.runtime.settings import Settings, TemporalSettings

log = structlog.get_logger("hub.temporal")


async def connect_temporal(
    settings: Settings, *, runtime: Runtime | None = None, interceptors: Sequence[Interceptor] = ()
) -> Client:
    """Connect, waiting for the server for up to ``temporal.connect_timeout_s``: processes of a deployment start
    in any order, and a worker that dies because Temporal was a second late helps nobody.

    ``runtime`` carries the metrics exporter and ``interceptors`` the tracing (``hub.runtime.telemetry``);
    workers built on the client inherit both, and its data converter, which encrypts payloads when keys are
    configured (``hub.runtime.encryption``)."""
    deadline = time.monotonic() + settings.temporal.connect_timeout_s
    pause = 0.2
    while True:
        try:
            return await Client.connect(
                settings.temporal.address,
                namespace=settings.temporal.namespace,
                **security(settings.temporal),
                data_converter=data_converter(settings.temporal),
                interceptors=interceptors,
                runtime=runtime,
            )
        except RuntimeError:
            if time.monotonic() + pause > deadline:
                raise
            log.info("temporal_not_reachable_yet", address=settings.temporal.address, retry_in_s=pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)


def security(temporal: TemporalSettings) -> dict[str, Any]:
    """How to authenticate to the cluster: nothing (a local dev server), an API key over TLS (Temporal Cloud), or
    mTLS with a client certificate (Cloud or a self-hosted cluster), the server's own CA when it has one."""
    options: dict[str, Any] = {}
    if temporal.tls_cert_file is not None and temporal.tls_key_file is not None:
        ca = temporal.tls_server_ca_file.read_bytes() if temporal.tls_server_ca_file else None
        options["tls"] = TLSConfig(
            client_cert=temporal.tls_cert_file.read_bytes(),
            client_private_key=temporal.tls_key_file.read_bytes(),
            server_root_ca_cert=ca,
        )
    if temporal.api_key is not None:
        options["api_key"] = temporal.api_key.get_secret_value()
        options.setdefault("tls", True)
    return options
