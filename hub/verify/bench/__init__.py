"""``hub bench`` / ``make bench``: throughput, latency and Temporal cost of the hub, against a reference workflow.

- :mod:`hub.verify.bench.run` drives orders through a :class:`hub.dev.harness.Harness` and collects the
  figures;
- :mod:`hub.verify.bench.reference` is the yardstick: the same number of no-op activities, nothing else;
- :mod:`hub.verify.bench.histories` counts billed actions and history size over every run of a workflow;
- :mod:`hub.verify.bench.cpu` reads the CPU each process of the stack used, to say where a window's time went;
- :mod:`hub.verify.bench.report` turns the figures into the JSON line, the chart and ``docs/benchmarks.md``;
- :mod:`hub.verify.bench.config` declares the options and their defaults once;
- :mod:`hub.verify.bench.command` is the command line (``hub bench``, ``python -m hub.verify.bench``).
"""
