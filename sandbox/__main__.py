"""``python -m sandbox``: serve the sandbox on loopback until interrupted.

Every flag has a ``SANDBOX_*`` environment variable (``--http-port`` ↔ ``SANDBOX_HTTP_PORT``); a flag wins.
"""

import argparse
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.logs import configure_logging

_DEFAULTS = SandboxConfig()


def _option(
    parser: argparse.ArgumentParser, name: str, kind: Callable[[str], Any], default: Any, help_text: str
) -> None:
    env = "SANDBOX_" + name.upper().replace("-", "_")
    raw = os.environ.get(env)
    parser.add_argument(f"--{name}", type=kind, default=kind(raw) if raw else default, help=f"{help_text} (env {env})")


def parse_config(argv: Sequence[str] | None = None) -> SandboxConfig:
    """Flags, then ``SANDBOX_*`` variables, then the documented defaults."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    _option(parser, "host", str, _DEFAULTS.host, "interface to listen on")
    _option(parser, "http-port", int, _DEFAULTS.http_port, "HTTP port (Stripe, EasyPost, ERP, control)")
    _option(parser, "smtp-port", int, _DEFAULTS.smtp_port, "SMTP port")
    _option(parser, "seed", int, _DEFAULTS.seed, "seed of the fault decisions")
    _option(
        parser,
        "hang-seconds",
        float,
        _DEFAULTS.hang_seconds,
        "how long a timeout-after-apply holds the answer",
    )
    _option(parser, "transit-seconds", float, _DEFAULTS.transit_seconds, "tracking auto-advance step")
    _option(parser, "default-stock", int, _DEFAULTS.default_stock, "on-hand quantity of a SKU never set")
    _option(parser, "log-level", str, _DEFAULTS.log_level, "uvicorn log level")
    args = parser.parse_args(argv)
    return SandboxConfig(
        host=args.host,
        http_port=args.http_port,
        smtp_port=args.smtp_port,
        seed=args.seed,
        hang_seconds=args.hang_seconds,
        transit_seconds=args.transit_seconds,
        default_stock=args.default_stock,
        log_level=args.log_level,
    )


class _PathWithoutQuery(logging.Filter):
    """Access lines without query strings: a Twilio lookup's ``To=`` is a customer's phone number."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, version, status = record.args
            record.args = (client, method, str(path).split("?", 1)[0], version, status)
        return True


def main(argv: Sequence[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM."""
    config = parse_config(argv)
    # JSON lines unless on a terminal, uvicorn's own lines included: log_config=None leaves its loggers to the
    # root handler.
    configure_logging(config.log_level)
    logging.getLogger("uvicorn.access").addFilter(_PathWithoutQuery())
    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.http_port,
        log_level=config.log_level,
        log_config=None,
        # A response held by a timeout-after-apply fault must not delay shutdown.
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
