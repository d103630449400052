"""Local, wire-compatible stand-ins for the hub's upstreams (Stripe, EasyPost, the ERP, SMTP).

One process serves them all so the demo and the integration tests exercise the hub's real adapters against
something that behaves like production, including injected faults. See ``docs/sandbox.md``.
"""
