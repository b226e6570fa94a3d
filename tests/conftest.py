"""Shared fixtures: every semantic test runs on every backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from solver.solve import BACKENDS

DATA = Path(__file__).parent / "data"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each of the three backends in turn: cpsat, highs, cbc."""
    return str(request.param)


def load(name: str) -> dict[str, Any]:
    """A scenario from ``tests/data`` (``conformance/tiny`` or ``tiny``)."""
    return json.loads((DATA / f"{name}.json").read_text())
