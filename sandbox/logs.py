"""The sandbox's log lines: JSON unless on a terminal, like the hub's, but its own code.

The sandbox stands in for other companies' systems, so it shares no code with the hub (the architecture test
checks it). It logs through the standard library only (uvicorn's access and error lines, webhook delivery
failures); structlog renders them.
"""

import logging
import sys

import structlog


def configure_logging(level: str = "info") -> None:
    """One handler on the root logger, so uvicorn's loggers (``log_config=None``) write through it too."""
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer() if sys.stderr.isatty() else structlog.processors.JSONRenderer()
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.processors.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *([] if sys.stderr.isatty() else [structlog.processors.format_exc_info]),
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
