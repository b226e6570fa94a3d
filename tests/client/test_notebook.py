"""``notebooks/what-if.ipynb`` executed top to bottom by a real Jupyter kernel against the test
server: any cell that raises fails the test."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest

from tests.api.service import Server
from tests.client.conftest import API_KEY, ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.service

NOTEBOOK = ROOT / "notebooks" / "what-if.ipynb"


def test_what_if_notebook_runs_against_the_server(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the kernel inherits this environment: the notebook reads the server from it
    monkeypatch.setenv("RDPLAN_URL", server.url)
    monkeypatch.setenv("RDPLAN_API_KEY", API_KEY)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    try:
        client.execute()  # raises CellExecutionError on the first cell that fails
    finally:
        # keep the executed notebook for a look after a failure (RDPLAN_NOTEBOOK_OUT to keep it elsewhere)
        nbformat.write(
            nb, os.environ.get("RDPLAN_NOTEBOOK_OUT", str(tmp_path / "what-if.executed.ipynb"))
        )

    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [
        o
        for o in outputs
        if o.output_type in ("display_data", "execute_result") and "image/png" in o.get("data", {})
    ]
    # timeline, map, served share and the batch chart, and a comparison per what-if with a plan
    assert len(images) >= 4
    text = "".join(
        o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stdout"
    )
    assert f"solving on {server.url}" in text  # the server, not the in-process fallback
    # the prose cells read the results: every question gets its verdict
    for name in ("fewer crews 2027", "3 per province", "lead time 2"):
        assert f"- {name}: " in text
    # and says what the tables say: a base plan not proved optimal is within its gap as the
    # plan's summary shows it (the prose said "within 0.0 %" of a plan with a gap of 0.01 %)
    results = "".join(
        o.get("data", {}).get("text/plain", "")
        for o in outputs
        if o.output_type == "execute_result"
    )
    base = re.search(r"Plan\('base': (\w+), objective [\d,]+, gap ([\d.]+ %)", results)
    assert base is not None, results
    if base[1] == "feasible":
        assert f"so this one is within {base[2]} of the best possible" in text, text
    # the solves ran on the server: the base and the three what-ifs at least
    jobs = httpx.get(
        f"{server.url}/v1/solves", params={"limit": 100}, headers={"X-API-Key": API_KEY}, timeout=30
    )
    scenarios = {j["scenario_id"] for j in jobs.json()["items"] if j["status"] == "done"}
    assert len(scenarios) >= 4
