"""Metrics and tracing are off unless configured, and configured from the environment like everything else."""

import httpx
import pytest
from fastapi import FastAPI
from temporalio.contrib.opentelemetry import TracingInterceptor

from api import metrics
from hub.runtime.settings import Settings, TracingSettings
from hub.runtime.telemetry import prometheus_runtime, tracing_interceptors
from sandbox.process import free_port


def test_off_by_default() -> None:
    settings = Settings()
    assert settings.metrics.bind_address is None and settings.tracing.exporter is None
    assert prometheus_runtime(settings.metrics.bind_address) is None
    assert tracing_interceptors(settings.tracing, "worker") == []


def test_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_METRICS__BIND_ADDRESS", "0.0.0.0:9464")
    monkeypatch.setenv("HUB_TRACING__EXPORTER", "otlp")
    monkeypatch.setenv("HUB_TRACING__ENDPOINT", "http://collector:4318/v1/traces")
    settings = Settings()
    assert settings.metrics.bind_address == "0.0.0.0:9464"
    assert settings.tracing == TracingSettings(exporter="otlp", endpoint="http://collector:4318/v1/traces")


@pytest.mark.parametrize("exporter", ["otlp", "console"])
def test_tracing_interceptor_for_each_exporter(exporter: str) -> None:
    [interceptor] = tracing_interceptors(TracingSettings.model_validate({"exporter": exporter}), "api")
    assert isinstance(interceptor, TracingInterceptor)


async def test_api_counts_requests_by_route_template_on_its_own_endpoint() -> None:
    port = free_port()
    runtime = prometheus_runtime(f"127.0.0.1:{port}")
    assert runtime is not None
    app = FastAPI()

    @app.get("/orders/{order_id}")
    async def order(order_id: str) -> dict[str, str]:
        return {"order_id": order_id}

    metrics.install(app, runtime.metric_meter)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
        for order_id in ("A-1", "A-2"):
            assert (await api.get(f"/orders/{order_id}")).status_code == 200
        assert (await api.get("/nowhere")).status_code == 404
    async with httpx.AsyncClient() as http:
        scraped = (await http.get(f"http://127.0.0.1:{port}/metrics")).text

    lines = [line for line in scraped.splitlines() if line.startswith("hub_api_requests{")]
    assert len(lines) == 2
    [found] = [line for line in lines if 'route="/orders/{order_id}"' in line]
    assert 'method="GET"' in found and 'status="200"' in found and found.endswith(" 2")
    [missing] = [line for line in lines if 'route="unmatched"' in line]
    assert 'status="404"' in missing and missing.endswith(" 1")
    assert "A-1" not in scraped
