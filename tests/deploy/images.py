"""What the Dockerfile installs, read without a Docker engine: its stages, the extras each
image installs, and the pinned distributions that brings in."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.compose import REPO

DOCKERFILE = REPO / "Dockerfile"
CONSTRAINTS = REPO / "constraints.txt"
PYPROJECT = REPO / "pyproject.toml"
DOCKERIGNORE = REPO / ".dockerignore"
_EXTRAS = re.compile(r"\"\.\[([^\]]*)\]\"")


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def stages(text: str | None = None) -> dict[str, Stage]:
    """Each named stage, with the instructions of the stages it is built on first."""
    text = DOCKERFILE.read_text() if text is None else text
    found: dict[str, Stage] = {}
    current: Stage | None = None
    for keyword, args in _instructions(text):
        if keyword == "FROM":
            image, _, name = args.partition(" AS ")
            inherited = found[image].instructions if image in found else []
            current = found[name] = Stage(name, image, list(inherited))
        elif current is not None:
            current.instructions.append((keyword, args))
    return found


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    lines = [line.strip() for line in joined.splitlines()]
    pairs = [line.split(maxsplit=1) for line in lines if line and not line.startswith("#")]
    return [(pair[0].upper(), pair[1] if len(pair) > 1 else "") for pair in pairs]


def default_arg(name: str, text: str | None = None) -> str:
    text = DOCKERFILE.read_text() if text is None else text
    match = re.search(rf"^ARG {name}=(\S+)$", text, re.MULTILINE)
    assert match, f"the Dockerfile has no default for {name}"
    return match[1]


def pip_installs(stage: Stage) -> list[str]:
    return [
        args for keyword, args in stage.instructions if keyword == "RUN" and "pip install" in args
    ]


def install_sets(stage: Stage, choices: dict[str, Iterable[str]]) -> list[frozenset[str]]:
    """The extras each variant of `stage` installs; `$ARG`s take each of their `choices`."""
    sets = []
    for command in pip_installs(stage):
        for match in _EXTRAS.finditer(command):
            variants = [match[1]]
            for arg, values in choices.items():
                variants = [v.replace(f"${arg}", value) for v in variants for value in values]
            sets += [frozenset(v.split(",")) for v in variants]
    return sets


def pins() -> dict[str, str]:
    """constraints.txt as canonical name -> version."""
    pinned: dict[str, str] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pinned[canonicalize_name(name)] = version
    return pinned


def direct_requirements(extras: Iterable[str]) -> list[Requirement]:
    """The project's own requirements with these extras, from pyproject.toml."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project["optional-dependencies"][extra]
    return [Requirement(text) for text in texts]


def closure(extras: Iterable[str]) -> set[str]:
    """Every distribution installing the project with `extras` brings in, followed through
    the metadata of the distributions installed here."""
    seen: set[str] = set()
    todo = direct_requirements(extras)
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(name) or []:
            nested = Requirement(text)
            if _applies(nested, requirement.extras):
                todo.append(nested)
    return seen


def _applies(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in {"", *extras})
