"""``hub bench`` / ``make bench``: throughput, latency and Temporal cost of the hub, against a reference workflow.

- :mod:`hub.bench.run` drives orders through a :class:`hub.harness.Harness` and collects the figures;
- :mod:`hub.bench.reference` is the yardstick: the same number of no-op activities, nothing else;
- :mod:`hub.bench.histories` counts billed actions and history size over every run of a workflow;
- :mod:`hub.bench.cpu` reads the CPU each process of the stack used, to say where a window's time went;
- :mod:`hub.bench.report` turns the figures into the JSON line, the chart and ``docs/benchmarks.md``;
- :mod:`hub.bench.command` is the command line (``hub bench``, ``python -m hub.bench``).
"""
