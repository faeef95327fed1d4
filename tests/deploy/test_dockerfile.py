"""The images install the pinned set the tests run with, and everything their code imports."""

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.deploy import compose, images

# The values the worker's TENSORFLOW build argument may take (its `case` in the Dockerfile).
TENSORFLOW = ("gpu", "cpu")
# What each image holds of the repository, and the extras it is tested with here
# (the GPU image's TensorFlow provides the same modules as tensorflow-cpu).
IMAGES = {
    "bot": (("core", "bot"), {"bot"}),
    "worker": (("core", "worker"), {"worker", "cpu"}),
    "worker-jax": (("core", "worker"), {"worker", "jax"}),
}
# The worker's code imports each Keras backend only when it runs on it (IMAGINE_BACKEND),
# so each worker image may lack the other one.
OTHER_BACKEND = {"worker": {"jax"}, "worker-jax": {"tensorflow"}}


def test_every_pip_install_uses_the_constraints_file() -> None:
    for stage in images.stages().values():
        for command in images.pip_installs(stage):
            assert re.search(r"(?:-c|--constraint)[ =]constraints\.txt\b", command), command


@pytest.mark.parametrize("target", IMAGES)
def test_constraints_are_in_the_image_before_pip_runs(target: str) -> None:
    keywords = images.stages()[target].instructions
    copied = next(i for i, (k, a) in enumerate(keywords) if k == "COPY" and "constraints.txt" in a)
    first_pip = next(i for i, (k, a) in enumerate(keywords) if k == "RUN" and "pip install" in a)
    assert copied < first_pip


def test_the_images_install_the_extras_compose_asks_for() -> None:
    stages = images.stages()
    [command] = images.pip_installs(stages["worker"])
    accepted = re.search(r'case "\$TENSORFLOW" in\s+([\w|]+)\)', command)
    assert accepted, command
    assert set(accepted[1].split("|")) == set(TENSORFLOW)
    build_args = {
        service["build"]["args"]["TENSORFLOW"]
        for variant in compose.VARIANTS.values()
        for service in compose.project_services(compose.merged(variant)).values()
        if service["build"]["target"] == "worker"
    }
    assert build_args == set(TENSORFLOW)
    assert images.install_sets(stages["bot"], {}) == [{"bot"}]
    worker_sets = images.install_sets(stages["worker"], {"TENSORFLOW": TENSORFLOW})
    assert worker_sets == [{"worker", "gpu"}, {"worker", "cpu"}]


@pytest.mark.parametrize(
    "extras",
    [
        {"bot"},
        {"worker", "gpu"},
        {"worker", "cpu"},
        {"worker", "jax"},
        {"worker", "jax-cuda"},
        {"test"},
    ],
)
def test_every_requirement_of_each_install_is_pinned_within_its_range(extras: set[str]) -> None:
    pins = images.pins()
    for requirement in images.direct_requirements(extras):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} vs {requirement}"


@pytest.mark.parametrize("extras", [{"bot"}, {"worker", "cpu"}, {"worker", "jax"}, {"test"}])
def test_everything_an_install_brings_in_is_pinned(extras: set[str]) -> None:
    unpinned = images.closure(extras) - set(images.pins())
    assert not unpinned, f"not pinned in constraints.txt: {sorted(unpinned)}"


def test_the_gpu_image_runs_the_tensorflow_the_tests_run() -> None:
    pins = images.pins()
    assert pins["tensorflow"] == pins["tensorflow-cpu"]


def test_the_tests_run_on_the_pinned_versions() -> None:
    wrong = {}
    for name, version in images.pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # the GPU image's wheels
        if installed != version:
            wrong[name] = (installed, version)
    assert not wrong, f"installed here vs pinned: {wrong}; run scripts/setup.sh"


def test_the_images_use_the_python_the_pins_were_made_with() -> None:
    image = images.default_arg("PYTHON_IMAGE")
    match = re.fullmatch(r"python:(\d+)\.(\d+)-slim-\w+", image)
    assert match, image
    assert (int(match[1]), int(match[2])) == sys.version_info[:2]


def test_dockerignore_lets_in_what_the_images_copy_and_keeps_secrets_out() -> None:
    lines = images.DOCKERIGNORE.read_text().splitlines()
    assert lines[lines.index("*") + 1 :]  # everything out, then only what is let back in
    allowed = {line.removeprefix("!") for line in lines if line.startswith("!")}
    for stage in images.stages().values():
        for keyword, args in stage.instructions:
            if keyword == "COPY":
                assert set(args.split()[:-1]) <= allowed, args
    assert not {".env", "data/", ".venv/"} & allowed


def third_party_imports(packages: tuple[str, ...]) -> set[str]:
    """Top-level modules the packages import (anywhere, lazily too), not stdlib or ours."""
    names = set()
    for package in packages:
        for path in Path(compose.REPO, package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__", *IMAGES, "core", "tests"}


@pytest.mark.parametrize("image", IMAGES)
def test_each_image_installs_what_its_code_imports(image: str) -> None:
    packages, extras = IMAGES[image]
    installed = images.closure(extras)
    providers = metadata.packages_distributions()
    missing = {
        module
        for module in third_party_imports(packages)
        if not {canonicalize_name(d) for d in providers.get(module, [])} & installed
    } - OTHER_BACKEND.get(image, set())
    assert not missing, f"the {image} image lacks {sorted(missing)}"


# The extras whose own requirements must name what each package imports: a package that
# arrives only as another's dependency can vanish with that dependency's next version.
# The tests run with every extra installed (scripts/test.sh).
DECLARED = {
    "core": set(),
    "bot": {"bot"},
    "worker": {"worker", "cpu", "jax"},  # either backend's package, whichever is chosen
    "tests": {"bot", "worker", "cpu", "jax", "test"},
}


@pytest.mark.parametrize("package", DECLARED)
def test_every_package_imported_is_a_direct_requirement(package: str) -> None:
    declared = {canonicalize_name(r.name) for r in images.direct_requirements(DECLARED[package])}
    providers = metadata.packages_distributions()
    undeclared = {
        module
        for module in third_party_imports((package,))
        if not {canonicalize_name(d) for d in providers.get(module, [])} & declared
    }
    assert not undeclared, f"{package}/ imports {sorted(undeclared)}, not in pyproject.toml"
