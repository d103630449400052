"""The chaos run (``make chaos``, ``hub chaos``): orders under worker kills, upstream faults and a server restart,
then every invariant checked against the upstreams' records. See :mod:`hub.verify.chaos.run`."""
