"""What the issue asks of the compose files beyond the schema: a GPU for the worker (none
with the CPU override), restarts, health checks, rotated logs, volumes, the Redis profile."""

import re

import pytest

from tests.deploy import compose

DOCKERFILE = compose.REPO / "Dockerfile"


def services(variant: str = "gpu") -> dict[str, compose.Document]:
    document = compose.merged(compose.VARIANTS[variant])
    services: dict[str, compose.Document] = document["services"]
    return services


def devices(service: compose.Document) -> list[compose.Document]:
    found: list[compose.Document] = (
        service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    )
    return found


def test_the_worker_reserves_an_nvidia_gpu() -> None:
    [device] = devices(services()["worker"])
    assert device["driver"] == "nvidia"
    assert "gpu" in device["capabilities"]
    assert services()["worker"]["build"]["args"]["TENSORFLOW"] == "gpu"


def test_the_cpu_override_reserves_no_gpu_and_builds_for_the_cpu() -> None:
    worker = services("cpu")["worker"]
    assert devices(worker) == []
    assert worker["build"]["args"]["TENSORFLOW"] == "cpu"
    # `!reset` is what removes the reservation when Compose merges the files.
    assert re.search(r"devices: !reset \[\]", compose.CPU.read_text())


@pytest.mark.parametrize("variant", compose.VARIANTS)
def test_every_service_restarts_and_rotates_its_logs(variant: str) -> None:
    for name, service in services(variant).items():
        assert service["restart"] == "unless-stopped", name
        logging = service["logging"]
        assert logging["driver"] == "json-file", name
        assert {"max-size", "max-file"} <= set(logging["options"]), name


@pytest.mark.parametrize(("name", "check"), [("bot", "bot"), ("worker", "worker")])
def test_health_checks_ask_the_program_itself(name: str, check: str) -> None:
    healthcheck = services()[name]["healthcheck"]
    assert healthcheck["test"] == ["CMD", "python", "-m", check, "check"]


def test_data_and_model_cache_are_named_volumes() -> None:
    document = compose.load(compose.COMPOSE)
    assert {"data", "models"} <= set(document["volumes"])
    assert "models:/cache" in document["services"]["worker"]["volumes"]
    for name in ("bot", "worker"):
        assert "data:/data" in document["services"][name]["volumes"]


def test_redis_runs_only_with_its_profile_durably_and_with_a_password() -> None:
    redis = services()["redis"]
    assert redis["profiles"] == ["redis"]
    assert redis["image"].startswith("redis:7")
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert '--requirepass "$$REDIS_PASSWORD"' in command
    assert 'test -n "$$REDIS_PASSWORD"' in command  # an empty password refuses to start
    assert any(mount.endswith(":/data") for mount in redis["volumes"])


def test_every_build_target_is_a_stage_of_the_dockerfile() -> None:
    stages = set(re.findall(r"^FROM \S+ AS (\w+)$", DOCKERFILE.read_text(), re.MULTILINE))
    document = compose.load_text(compose.with_second_worker())
    for service in compose.project_services(document).values():
        assert service["build"]["target"] in stages
