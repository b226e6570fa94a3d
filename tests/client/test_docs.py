"""The client's documentation: its Python examples, read in order as one notebook, use only
names they define (a reader runs them cell after cell)."""

from __future__ import annotations

import ast
import builtins
import json
import re

import pytest

from api.client import InvalidScenarioError, Scenario
from tests.client.conftest import ROOT


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def undefined_names(blocks: list[str]) -> list[tuple[int, str]]:
    """(block, name) for every name a block reads that neither it nor an earlier block defines."""
    defined = set(dir(builtins))
    missing = []
    for i, block in enumerate(blocks):
        tree = ast.parse(block)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
            elif isinstance(node, ast.alias):
                defined.add((node.asname or node.name).split(".")[0])
        for node in ast.walk(tree):
            load = isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
            if load and node.id not in defined:
                missing.append((i, node.id))
    return missing


@pytest.mark.parametrize(
    ("path", "start"),
    [("docs/client.md", None), ("README.md", "## Python client and notebooks")],
)
def test_examples_use_only_names_they_define(path: str, start: str | None) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    if start is not None:
        text = text[text.index(start) :]
    blocks = python_blocks(text)
    assert blocks
    assert undefined_names(blocks) == []


def test_the_invalid_scenario_example_is_what_the_client_says() -> None:
    """docs/client.md's example of an invalid scenario's message listed a window error
    ("sites[0].latest: latest 2020 is before earliest 2030") that a horizon ending before it
    starts no longer gives; the example is now the message, checked here."""
    text = (ROOT / "docs" / "client.md").read_text(encoding="utf-8")
    shown = re.search(r"error with its path:\n\n```\n(.*?)```", text, re.S)
    assert shown is not None
    doc = json.loads((ROOT / "tests" / "data" / "tiny.json").read_text(encoding="utf-8"))
    doc["horizon"]["end"] = 2020
    doc["sites"][0]["region"] = "nowhere"
    doc["sites"][1]["benefit"] = {"huge": 500}
    doc["crews"][0]["count"] = 0
    with pytest.raises(InvalidScenarioError) as caught:
        Scenario(doc)
    assert str(caught.value) + "\n" == shown[1]
