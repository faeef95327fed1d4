"""The compose files against the Compose Specification's JSON schema (the copy that
check-jsonschema ships, pinned in constraints.txt), and the checker against broken copies."""

import copy
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy import compose
from tests.deploy.compose import Document


@pytest.mark.parametrize("path", [compose.COMPOSE, compose.CPU], ids=lambda p: p.name)
def test_each_compose_file_follows_the_compose_specification(path: Path) -> None:
    assert compose.schema_errors(compose.load(path)) == []


def test_the_commented_second_worker_is_valid_once_uncommented() -> None:
    document = compose.load_text(compose.with_second_worker())
    assert compose.schema_errors(document) == []
    second = document["services"]["worker-gpu1"]
    first = document["services"]["worker"]
    assert _device_ids(second) != _device_ids(first)
    assert (second["build"], second["environment"]) == (first["build"], first["environment"])


def _device_ids(service: Document) -> list[str]:
    [device] = service["deploy"]["resources"]["reservations"]["devices"]
    return list(device["device_ids"])


def _unknown_service_key(d: Document) -> None:
    d["services"]["worker"]["gpu_count"] = 1


def _capabilities_not_a_list(d: Document) -> None:
    [device] = d["services"]["worker"]["deploy"]["resources"]["reservations"]["devices"]
    device["capabilities"] = "gpu"


def _healthcheck_test_a_number(d: Document) -> None:
    d["services"]["bot"]["healthcheck"]["test"] = 1


def _unknown_top_level_key(d: Document) -> None:
    d["service"] = d.pop("services")


def _volume_mount_a_mapping_without_target(d: Document) -> None:
    d["services"]["bot"]["volumes"] = [{"type": "volume", "source": "data", "tagret": "/data"}]


BREAKAGES: list[Callable[[Document], None]] = [
    _unknown_service_key,
    _capabilities_not_a_list,
    _healthcheck_test_a_number,
    _unknown_top_level_key,
    _volume_mount_a_mapping_without_target,
]


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda f: f.__name__.strip("_"))
def test_a_broken_copy_fails_the_check(breakage: Callable[[Document], None]) -> None:
    broken = copy.deepcopy(compose.load(compose.COMPOSE))
    breakage(broken)
    assert compose.schema_errors(broken) != []


def test_a_broken_file_fails_the_check_as_text() -> None:
    text = compose.COMPOSE.read_text().replace("restart: unless-stopped", "restart: [always]", 1)
    assert compose.schema_errors(compose.load_text(text)) != []
