"""What the first-run docs promise matches the code: the weight files' names, addresses
and hashes, and the compose override that mounts weights copied by hand."""

from __future__ import annotations

import re

import yaml

from core.vocab import VOCAB_FILE
from tests.deploy import compose
from worker.engine.weights import MODEL_FILES, model_files

SELF_HOSTING = compose.REPO / "docs" / "self-hosting.md"


def section(title: str) -> str:
    text = SELF_HOSTING.read_text()
    start = text.index(f"\n## {title}\n")
    return text[start : text.index("\n## ", start + 1)]


def test_the_weights_table_gives_each_file_s_address_and_hash() -> None:
    rows = [line for line in section("Weights without internet").splitlines() if "| `" in line]
    files = [*model_files(list(MODEL_FILES)), VOCAB_FILE]
    assert len(rows) == len(files)
    for file, row in zip(files, rows, strict=True):
        assert row.startswith(f"| `{file.name}` |")
        assert f"<{file.origin}>" in row
        assert f"`{file.sha256}`" in row


def test_the_override_for_copied_weights_gives_the_worker_the_folder() -> None:
    [block] = re.findall(r"```yaml\n(.*?)```", section("Weights without internet"), re.DOTALL)
    override = yaml.safe_load(re.sub(r"^ {3}", "", block, flags=re.MULTILINE))
    worker = compose.merged([compose.COMPOSE])["services"]["worker"]
    env = {**compose.environment(worker), **compose.environment(override["services"]["worker"])}
    [mount] = override["services"]["worker"]["volumes"]
    _, target, mode = mount.split(":")
    assert (target, mode) == ("/weights", "ro")
    assert env["IMAGINE_WEIGHTS"] == target
    assert env["IMAGINE_VOCAB"] == f"{target}/{VOCAB_FILE.name}"
    assert not compose.schema_errors(override)
