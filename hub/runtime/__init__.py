"""What the worker and the API run on in production: settings, logging, telemetry, payload encryption, the
upstreams' connectors built from settings, API key digests, and the bootstrap that composes them.

Nothing here imports the local stack (``hub.dev``), the verification harnesses (``hub.verify``), the CLI or the
API: the architecture test (``tests/unit/test_architecture.py``) fails the build if it does.
"""
