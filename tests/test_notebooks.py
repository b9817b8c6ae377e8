"""Every notebook in notebooks/ runs top to bottom against a real database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from geo.db import io, migrate, provision
from geo.db.session import get_engine
from geo.settings import ROOT
from tests._county_fixture import tiny_county

pytestmark = [pytest.mark.db, pytest.mark.slow]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def notebook_db(server_url: str) -> Iterator[str]:
    name = f"wangge_test_nb_{uuid.uuid4().hex[:8]}"
    url = provision.create_database(server_url, name)
    migrate.upgrade(url)
    with get_engine(url).begin() as conn:
        io.write_county(conn, tiny_county())
    yield url
    get_engine(url).dispose()
    provision.drop_database(server_url, name)


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(
    path: Path, notebook_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", notebook_db)
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o for o in outputs if "text/html" in o.get("data", {})]
    assert any("leaflet" in o["data"]["text/html"].lower() for o in html), "no map drawn"
