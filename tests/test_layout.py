"""The layout rules of docs/architecture.md, checked on the source (AST, no imports run).

- Every SQL statement lives under ``geo/db/``: no ``sqlalchemy.text``, ``read_sql``,
  ``read_postgis``, ``exec_driver_sql`` or raw cursor anywhere else in ``geo/`` or
  ``dashboards/``.
- ``geo/db`` imports only frames, projection, settings, errors and itself from ``geo``.
- A package's private modules (``geo/<pkg>/_x.py``) are imported only inside that package.
- Tests import no other test module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GEO = ROOT / "geo"
SQL_CALLS = {"read_sql", "read_sql_query", "read_sql_table", "read_postgis", "exec_driver_sql"}
DB_MAY_IMPORT = {"geo.frames", "geo.projection", "geo.settings", "geo.errors", "geo.db"}


def _sources(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.py"))


def _imports(tree: ast.AST) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import in ``tree``, nested ones included."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name, []) for a in node.names)
    return found


def _sql_sites(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    shown = path.relative_to(ROOT) if ROOT in path.parents else path.name
    sites = []
    for line, module, names in _imports(tree):
        if module.startswith("sqlalchemy") and "text" in names:
            sites.append(f"{shown}:{line}: imports sqlalchemy.text")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name in SQL_CALLS or name == "cursor":
                sites.append(f"{shown}:{node.lineno}: calls {name}()")
    return sites


def test_sql_lives_only_under_geo_db() -> None:
    outside = [p for p in _sources(GEO, ROOT / "dashboards") if GEO / "db" not in p.parents]
    sites = [site for p in outside for site in _sql_sites(p)]
    assert not sites, "SQL outside geo/db:\n" + "\n".join(sites)


def test_the_sql_check_can_fail(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from sqlalchemy import text\nimport pandas as pd\n"
        "pd.read_sql('SELECT 1', c)\nraw.cursor()\nc.exec_driver_sql('x')\n"
    )
    assert [site.split(": ", 1)[1] for site in _sql_sites(probe)] == [
        "imports sqlalchemy.text",
        "calls read_sql()",
        "calls cursor()",
        "calls exec_driver_sql()",
    ]


def test_geo_db_imports_no_analysis_module() -> None:
    bad = []
    for path in _sources(GEO / "db"):
        for line, module, _ in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            top = ".".join(module.split(".")[:2])
            if module.startswith("geo.") and top not in DB_MAY_IMPORT:
                bad.append(f"{path.relative_to(ROOT)}:{line}: imports {module}")
            if module == "geo":
                bad.append(f"{path.relative_to(ROOT)}:{line}: imports from the geo package")
    assert not bad, "geo/db reaches into analysis modules:\n" + "\n".join(bad)


@pytest.mark.parametrize("package", ["grids", "plans", "load", "synth", "cli"])
def test_private_modules_stay_inside_their_package(package: str) -> None:
    prefix = f"geo.{package}._"
    bad = []
    for path in _sources(GEO, ROOT / "dashboards", ROOT / "benchmarks"):
        if GEO / package in path.parents:
            continue
        for line, module, _ in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if module.startswith(prefix):
                bad.append(f"{path.relative_to(ROOT)}:{line}: imports {module}")
    assert not bad, f"private modules of geo.{package} used outside it:\n" + "\n".join(bad)


def test_tests_import_no_other_test_module() -> None:
    bad = []
    for path in _sources(ROOT / "tests"):
        for line, module, _ in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            last = module.rsplit(".", 1)[-1]
            if module.startswith("tests") and last.startswith("test_"):
                bad.append(f"{path.relative_to(ROOT)}:{line}: imports {module}")
    assert not bad, "\n".join(bad)


def test_package_faces_hold_no_logic() -> None:
    bad = []
    for init in sorted(GEO.glob("*/__init__.py")):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                bad.append(f"{init.relative_to(ROOT)}:{node.lineno}: defines {node.name}")
    assert not bad, "\n".join(bad)
