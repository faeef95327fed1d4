"""Docker Compose itself, where its CLI plugin is installed: `docker compose config`
validates and merges the files offline, with no engine. Skipped elsewhere (CI has none);
the schema checks in test_compose_schema.py do not depend on it."""

import shutil
import subprocess

import pytest

from tests.deploy import compose


@pytest.fixture(scope="module")
def docker_compose() -> list[str]:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI here")
    version = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    if version.returncode != 0:
        pytest.skip("the docker CLI here has no compose plugin")
    return [docker, "compose"]


@pytest.mark.parametrize("variant", compose.VARIANTS)
def test_docker_compose_accepts_the_files(docker_compose: list[str], variant: str) -> None:
    files = [arg for path in compose.VARIANTS[variant] for arg in ("-f", str(path))]
    done = subprocess.run(
        [
            *docker_compose,
            *files,
            "--env-file",
            str(compose.ENV_EXAMPLE),
            "--profile",
            "redis",
            "config",
            "--quiet",
        ],
        cwd=compose.REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
