"""Metrics and tracing for the worker and the API, both off unless configured.

Metrics: a Temporal ``Runtime`` with a Prometheus endpoint (``HUB_METRICS__BIND_ADDRESS``). The SDK's own
metrics (task latencies, schedule-to-start, failures) and the hub's counters share it, because the hub counts
through the SDK's meters: ``workflow.metric_meter()`` in workflows (replay-safe), ``activity.metric_meter()`` in
the activity boundary. The runtime is given to one client, never made the process default, so a process (or a
test session) can hold clients with and without it.

Tracing: ``temporalio.contrib.opentelemetry.TracingInterceptor`` on the client, which the SDK also applies to
every worker built on that client, so a span started by the API's ``start_workflow`` continues through the
workflow and its activities. Spans go to an OTLP/HTTP collector or to stdout (``HUB_TRACING__EXPORTER``).
"""

from collections.abc import Sequence

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from hub.runtime.settings import TracingSettings


def prometheus_runtime(bind_address: str | None) -> Runtime | None:
    """A runtime serving Prometheus metrics on ``bind_address`` (``host:port``), or None when unset."""
    if not bind_address:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))


def tracing_interceptors(settings: TracingSettings, component: str) -> Sequence[Interceptor]:
    """The client interceptors that trace this process (``component``: ``worker`` or ``api``), or none."""
    if settings.exporter is None:
        return []
    exporter: SpanExporter
    if settings.exporter == "console":
        exporter = ConsoleSpanExporter()
    else:
        # Imported here: only a process that exports over OTLP needs the exporter's protobuf machinery.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.endpoint)
    # A provider of our own rather than the global one: the global can be set once per process, and tests
    # build several clients.
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.service_name, "component": component}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return [TracingInterceptor(provider.get_tracer("order-hub"))]
