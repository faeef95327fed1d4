"""The compose files read the way Docker Compose reads them, as far as the checks in
tests/deploy need it, so they run without a Docker engine."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
CPU = REPO / "docker-compose.cpu.yml"
ENV_EXAMPLE = REPO / ".env.example"
# Every way the stack is started: the GPU default, and with the CPU override.
VARIANTS = {"gpu": (COMPOSE,), "cpu": (COMPOSE, CPU)}
# The commented example of a second GPU worker starts at this line of docker-compose.yml.
SECOND_WORKER = "  # worker-gpu1:"

_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_]\w*)"
)

Document = dict[str, Any]


class ComposeLoader(yaml.SafeLoader):
    """YAML with Compose's merge tags: `!reset` and `!override` keep their value here."""


def _tagged(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    assert isinstance(node, yaml.ScalarNode)
    return loader.construct_scalar(node)


ComposeLoader.add_constructor("!reset", _tagged)
ComposeLoader.add_constructor("!override", _tagged)


def load_text(text: str) -> Document:
    document = yaml.load(text, ComposeLoader)  # a SafeLoader: no Python objects
    assert isinstance(document, dict)
    return document


def load(path: Path) -> Document:
    return load_text(path.read_text())


def with_second_worker() -> str:
    """docker-compose.yml with its commented second GPU worker uncommented."""
    lines = COMPOSE.read_text().splitlines()
    start = lines.index(SECOND_WORKER)
    end = start
    while end < len(lines) and lines[end].startswith("  #"):
        end += 1
    block = ["  " + line.removeprefix("  # ") for line in lines[start:end]]
    return "\n".join([*lines[:start], *block, *lines[end:]]) + "\n"


@cache
def _schema() -> Document:
    vendored = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(vendored.read_text())
    assert isinstance(schema, dict)
    return schema


def schema_errors(document: Document) -> list[str]:
    """What the Compose Specification's JSON schema says is wrong with `document`."""
    validator = jsonschema.Draft202012Validator(_schema())
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def variables(document: object) -> set[str]:
    """Names of the variables Compose interpolates in `document`'s values."""
    return {
        match["braced"] or match["bare"]
        for text in _strings(document)
        for match in _VARIABLE.finditer(text)
        if match[0] != "$$"
    }


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}`, `${NAME-default}` and `$$`."""

    def value(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name = match["braced"] or match["bare"]
        op, arg = match["op"], match["arg"] or ""
        if op == ":-" and not env.get(name):
            return arg
        if op == "-" and name not in env:
            return arg
        assert op in (None, ":-", "-"), f"no support for {match[0]} here"
        return env.get(name, "")

    return _VARIABLE.sub(value, text)


def merged(paths: Sequence[Path]) -> Document:
    """The files merged in order, as `docker compose -f A -f B` merges mappings (the
    later one wins per key); lists are taken whole, which is all these files need."""
    result: Document = {}
    for path in paths:
        result = _merge(result, load(path))
    return result


def _merge(base: Document, override: Document) -> Document:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def project_services(document: Document) -> dict[str, Document]:
    """The services built from this repository (not third-party images like Redis)."""
    return {name: s for name, s in document["services"].items() if "build" in s}


def environment(service: Document) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def env_example() -> dict[str, str]:
    """The settings .env.example gives (KEY=value lines; comments are explanations)."""
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs
