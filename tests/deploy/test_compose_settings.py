"""Every setting the compose files pass is one the code reads, every setting the code reads
is explained in .env.example and listed in docs/self-hosting.md, and a fresh .env gives
each service valid settings whose files land in its volumes."""

import re
from pathlib import Path, PurePosixPath

import pytest

from core.settings import BotSettings, CommonSettings, WorkerSettings
from tests.deploy import compose

PROGRAMS: dict[str, type[CommonSettings]] = {"bot": BotSettings, "worker": WorkerSettings}
SELF_HOSTING = compose.REPO / "docs" / "self-hosting.md"
# Read by docker compose itself, never passed to the code.
COMPOSE_OWN = {"COMPOSE_FILE", "COMPOSE_PROFILES"}


def aliases(kind: type[CommonSettings]) -> set[str]:
    return {field.alias for field in kind.model_fields.values() if field.alias}


def all_settings() -> set[str]:
    return aliases(BotSettings) | aliases(WorkerSettings)


def settings_class(service: compose.Document) -> type[CommonSettings]:
    return PROGRAMS[service["build"]["target"]]


@pytest.mark.parametrize("variant", compose.VARIANTS)
def test_each_service_gets_only_settings_its_program_reads(variant: str) -> None:
    document = compose.merged(compose.VARIANTS[variant])
    for name, service in compose.project_services(document).items():
        kind = settings_class(service)
        unknown = set(compose.environment(service)) - aliases(kind)
        assert not unknown, f"{name} is given {sorted(unknown)}; {kind.__name__} reads none"


def test_no_worker_is_given_a_discord_credential_or_a_shared_name() -> None:
    # A name set here would be the same for every worker on every host that uses this file.
    document = compose.load_text(compose.with_second_worker())
    for service in compose.project_services(document).values():
        if service["build"]["target"] == "worker":
            given = set(compose.environment(service))
            assert not [key for key in given if "DISCORD" in key]
            assert "IMAGINE_WORKER_ID" not in given


def test_every_setting_the_code_reads_is_explained_in_env_example() -> None:
    missing = all_settings() - set(compose.env_example())
    assert not missing, f".env.example does not explain {sorted(missing)}"


def test_the_settings_table_lists_every_setting_the_code_reads_and_no_other() -> None:
    listed = re.findall(r"^\| `([A-Z_]+)` \|", SELF_HOSTING.read_text(), re.MULTILINE)
    assert sorted(listed) == sorted(all_settings()), "docs/self-hosting.md's Settings table"


def test_env_example_holds_only_settings_and_variables_compose_uses() -> None:
    used = compose.variables(compose.merged(compose.VARIANTS["cpu"]))
    unknown = set(compose.env_example()) - all_settings() - used
    assert not unknown, f".env.example sets {sorted(unknown)}, which nothing reads"


def test_every_variable_compose_reads_is_in_env_example() -> None:
    used: set[str] = set()
    for path in (compose.COMPOSE, compose.CPU):
        used |= compose.variables(compose.load(path))
    missing = used - set(compose.env_example()) - COMPOSE_OWN
    assert not missing, f"compose reads {sorted(missing)}, which .env.example does not explain"


def test_env_example_leaves_every_value_empty() -> None:
    # Empty means the built-in default, which a copied value would hide.
    assert {key: value for key, value in compose.env_example().items() if value} == {}


def resolved_settings(
    variant: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, tuple[compose.Document, CommonSettings]]:
    """Each project service's settings as its program reads them in the container, with
    .env copied from .env.example and the token filled in."""
    dotenv = {**compose.env_example(), "DISCORD_TOKEN": "a.bot.token"}
    document = compose.merged(compose.VARIANTS[variant])
    result = {}
    for name, service in compose.project_services(document).items():
        with monkeypatch.context() as env:
            for key in all_settings():
                env.delenv(key, raising=False)
            for key, value in compose.environment(service).items():
                env.setenv(key, compose.interpolate(value, dotenv))
            result[name] = (service, settings_class(service)(_env_file=None))
    return result


@pytest.mark.parametrize("variant", compose.VARIANTS)
def test_a_fresh_env_gives_bot_and_worker_valid_and_matching_settings(
    variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = resolved_settings(variant, monkeypatch)
    bot, worker = services["bot"][1], services["worker"][1]
    assert (bot.store, bot.sizes) == (worker.store, worker.sizes)
    assert bot.metrics_port is None  # metrics are off until .env sets a port
    if variant == "cpu":
        assert max(max(size) for size in worker.sizes) <= 256
        assert isinstance(worker, WorkerSettings)
        assert worker.max_batch_images == 1


@pytest.mark.parametrize("variant", compose.VARIANTS)
def test_files_that_must_last_are_in_named_volumes(
    variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    volumes = set(compose.load(compose.COMPOSE)["volumes"])
    for name, (service, settings) in resolved_settings(variant, monkeypatch).items():
        mounts = [
            PurePosixPath(target)
            for source, target in (mount.split(":")[:2] for mount in service["volumes"])
            if source in volumes
        ]
        lasting = [settings.cache_dir, Path(settings.store.removeprefix("sqlite:///"))]
        if isinstance(settings, BotSettings):
            lasting.append(settings.bot_db)
        for path in lasting:
            posix = PurePosixPath(path.as_posix())
            assert any(posix.is_relative_to(m) for m in mounts), f"{name}: {path} is not kept"


@pytest.mark.parametrize("variant", compose.VARIANTS)
def test_a_worker_that_cannot_download_is_not_restarted_in_a_tight_loop(
    variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Docker waits only 100 ms before restarting a container that ran for 10 s or more
    # (its restart manager's doubling delay starts over then), and a worker fails a
    # download later than that: the worker's own pause before it exits sets the pace.
    workers = [
        (service, settings)
        for service, settings in resolved_settings(variant, monkeypatch).values()
        if isinstance(settings, WorkerSettings)
    ]
    assert workers
    for service, settings in workers:
        assert service["restart"] == "unless-stopped"
        assert settings.failure_pause_seconds >= 60
