"""There is no Docker engine here, so the compose file is checked for what can go wrong without one: every
command and module it names exists, and every setting it passes is one the worker reads; the Dockerfile has the
image each service builds, and the production image installs the runtime's dependencies only."""

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from hub.runtime.settings import Settings
from workflows.search_attributes import ALL, cli_flag

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _build(service: dict[str, Any]) -> dict[str, str]:
    build = service["build"]
    return {"context": build} if isinstance(build, str) else build


def _stages() -> dict[str, str]:
    """Each ``FROM … AS name`` stage of the Dockerfile and its instructions, in order."""
    parts = re.split(r"^FROM \S+ AS (\S+)\n", DOCKERFILE, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _runs(stage: str) -> list[str]:
    return re.findall(r"^RUN (.+)$", stage, flags=re.MULTILINE)


def test_the_stack_has_temporal_the_sandbox_and_the_worker() -> None:
    assert set(COMPOSE["services"]) >= {"temporal", "sandbox", "worker", "api"}


def test_every_python_entry_point_named_exists() -> None:
    for name, service in COMPOSE["services"].items():
        command = service.get("command", [])
        if command[:2] == ["python", "-m"]:
            module = command[2].replace(".", "/")
            assert (ROOT / module / "__main__.py").exists() or (ROOT / f"{module}.py").exists(), name
        elif command[:1] == ["python"]:
            assert (ROOT / command[1]).exists(), name
        if "build" in service:
            assert (ROOT / _build(service)["context"] / "Dockerfile").exists(), name


def test_the_dockerfile_copies_every_package_the_entry_points_import() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("domain", "connectors", "activities", "workflows", "notifications", "hub", "api", "sandbox"):
        assert f"COPY {package} {package}" in dockerfile
    assert "COPY worker.py" in dockerfile


def test_each_service_builds_an_image_the_dockerfile_has_and_production_is_the_default() -> None:
    stages = _stages()
    targets = {
        name: _build(service).get("target") for name, service in COMPOSE["services"].items() if "build" in service
    }
    assert targets == {"sandbox": "sandbox", "api": "runtime", "worker": "runtime"}
    assert set(targets.values()) <= set(stages)
    assert list(stages)[-1] == "runtime"  # a plain `docker build .` makes the production image


def test_the_production_image_installs_the_runtime_lock_and_nothing_of_the_sandbox() -> None:
    runtime = _stages()["runtime"]
    assert _runs(runtime) == [
        "pip install --require-hashes -r requirements/runtime.lock",
        "pip install --no-deps .",
    ]
    assert "sandbox" not in runtime  # neither its lock, nor its code, nor an extra
    for package in ("domain", "connectors", "activities", "workflows", "notifications", "hub", "api"):
        assert f"COPY {package} {package}" in runtime


def test_the_sandbox_image_has_its_lock_and_its_code() -> None:
    sandbox = _stages()["sandbox"]
    assert _runs(sandbox) == ["pip install --require-hashes -r requirements/sandbox.lock"]
    assert "COPY sandbox sandbox" in sandbox
    assert COMPOSE["services"]["sandbox"]["command"][:3] == ["python", "-m", "sandbox"]


def _field_exists(model: type[BaseModel], path: list[str]) -> bool:
    field = model.model_fields.get(path[0].lower())
    if field is None:
        return False
    if len(path) == 1:
        return True
    nested = field.annotation
    return isinstance(nested, type) and issubclass(nested, BaseModel) and _field_exists(nested, path[1:])


def test_every_setting_is_one_the_hub_reads_and_parses() -> None:
    # ${VAR:-default} values come from the operator's secret store: present, but not checked here.
    environment: dict[str, str] = {
        key: "" if "${" in value else value for key, value in COMPOSE["services"]["worker"]["environment"].items()
    }
    assert COMPOSE["services"]["api"]["environment"] == COMPOSE["services"]["worker"]["environment"]
    for key in environment:
        assert key.startswith("HUB_") and _field_exists(Settings, key.removeprefix("HUB_").split("__")), key
    settings = Settings.model_validate(
        {k.removeprefix("HUB_").lower(): v for k, v in environment.items() if "__" not in k}
        | _nest({k.removeprefix("HUB_"): v for k, v in environment.items() if "__" in k and v})
    )
    assert settings.temporal.address == "temporal:7233"
    assert settings.email.port == 2525


def test_the_setup_service_registers_exactly_the_hub_search_attributes() -> None:
    setup = COMPOSE["services"]["temporal-setup"]
    script = ROOT / "deploy" / Path(setup["entrypoint"][-1]).name
    listed = re.findall(r"^  ([A-Za-z]+=[A-Za-z]+) ?\\?$", script.read_text(), flags=re.MULTILINE)
    assert listed == [cli_flag(key) for key in ALL]


def test_temporal_runs_on_postgresql_with_current_official_images_and_the_ui_decodes_through_the_hub() -> None:
    services = COMPOSE["services"]
    assert not any("auto-setup" in service.get("image", "") for service in services.values())
    assert services["temporal"]["image"].startswith("temporalio/server:")
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["temporal-schema"]["depends_on"]["postgresql"]["condition"] == "service_healthy"
    assert services["temporal"]["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    assert services["temporal-ui"]["environment"]["TEMPORAL_CODEC_ENDPOINT"].endswith("/codec")
    assert services["worker"]["deploy"]["replicas"] > 1


def test_every_script_a_service_runs_is_in_the_repository() -> None:
    for name, service in COMPOSE["services"].items():
        for part in service.get("entrypoint", []):
            if part.startswith("/deploy/"):
                assert (ROOT / part.lstrip("/")).exists(), name
        for volume in service.get("volumes", []):
            if volume.startswith("./"):
                assert (ROOT / volume.split(":")[0]).exists(), name


def _nest(flat: dict[str, str]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.lower().split("__")
        target = nested
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return nested
