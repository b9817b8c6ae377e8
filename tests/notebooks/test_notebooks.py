"""Every notebook in notebooks/ runs top to bottom against a fresh demo database.

The database is built once for the module the way an analyst's is: ``wangge demo --profile
small`` through the real CLI (a county, a published plan, workers, visits, service points,
five-colour history and incidents along every path of the closed loop).  The notebooks find
it through ``DATABASE_URL``.  A notebook that raises, or runs past its time limit, fails.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from typer.testing import CliRunner

from geo.cli import app
from geo.db.provision import scratch_database
from geo.settings import ROOT

pytestmark = [pytest.mark.db, pytest.mark.slow]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: Seconds a notebook may run on the small demo (each takes under 15 s on a busy 2-core box).
TIME_LIMIT_S = 240


@pytest.fixture(scope="module")
def demo_db(server_url: str) -> Iterator[str]:
    """A scratch database holding ``wangge demo --profile small``; dropped afterwards."""
    with pytest.MonkeyPatch.context() as patch, scratch_database(server_url, "nb") as url:
        patch.setenv("DATABASE_URL", url)
        result = CliRunner().invoke(app, ["demo", "--profile", "small", "--months", "3"])
        assert result.exit_code == 0, result.output
        yield url


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_stored_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert not [c for c in code if c.outputs or c.execution_count], "clear the outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(
    path: Path, demo_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", demo_db)
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(notebook, timeout=TIME_LIMIT_S, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    assert time.perf_counter() - started <= TIME_LIMIT_S, "the notebook ran past its limit"
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o for o in outputs if "text/html" in o.get("data", {})]
    assert any("leaflet" in o["data"]["text/html"].lower() for o in html), "no map drawn"
