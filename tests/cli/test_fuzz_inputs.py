"""No input ends in a traceback: a corpus of malformed files and arguments through the CLI.

Every file of :mod:`tests._fixtures.fuzz_corpus` goes through ``wangge load --check`` (and a
sample through a real load), every incident file through ``wangge incidents load``, and bad
arguments and settings through the commands that take them.  Each must end in exit code 0
or 1, at most one ``error:`` line (exactly one line when it is fatal), no traceback, no
"unexpected" error, and -- when the file was read -- every row accounted for.  User text
with Rich markup (``[/bold]``) is printed as it was typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from geo import auth, incidents
from geo.cli import app
from geo.db import io
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from tests._fixtures.county import tiny_county
from tests._fixtures.fuzz_corpus import incident_corpus, load_corpus
from tests._fixtures.load_files import lonlat

runner = CliRunner()
SUMMARY = re.compile(
    r"\((\w+)\): ([\d,]+) rows -> ([\d,]+) loaded \(([\d,]+) repaired\), ([\d,]+) quarantined"
)


def _n(text_: str) -> int:
    return int(text_.replace(",", ""))


def assert_one_line(result: Result, *, fatal: bool | None = None) -> None:
    """The CLI's promise for any input: no traceback, exit 0/1, one line when fatal."""
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}"
    )
    assert "Traceback" not in output
    assert "unexpected" not in output, output
    assert result.exit_code in (0, 1), output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) <= 1, output
    summary = SUMMARY.search(output)
    if summary:
        rows_in, loaded, _, quarantined = (_n(summary.group(i)) for i in (2, 3, 4, 5))
        assert rows_in == loaded + quarantined, output
    if fatal or (fatal is None and errors and not summary):
        assert result.exit_code == 1
        lines = [line for line in output.splitlines() if line.strip()]
        assert len(lines) == 1, output
        assert errors, output


def test_every_corpus_file_checked_without_a_database(tmp_path: Path) -> None:
    corpus = load_corpus(tmp_path / "corpus")
    assert len(corpus) > 250
    outcomes = {"fatal": 0, "read": 0}
    for name, path, kind in corpus:
        result = runner.invoke(app, ["load", kind, str(path), "--check"])
        try:
            assert_one_line(result)
        except AssertionError as exc:
            raise AssertionError(f"{name} ({kind}): {exc}") from None
        outcomes["read" if SUMMARY.search(result.output) else "fatal"] += 1
    assert outcomes["fatal"] > 50
    assert outcomes["read"] > 20


def test_fatal_files_name_the_file_and_the_fault(tmp_path: Path) -> None:
    files = {name: (path, kind) for name, path, kind in load_corpus(tmp_path, truncations=5)}
    for name, expected in [
        ("truncated_0040.geojson", "is the file truncated"),
        ("empty.csv", "the file is empty"),
        ("binary.gpkg", "GDAL cannot read it"),
        ("unknown.xyz", "unknown format"),
        ("lonely.shp", "missing its .shx, .dbf"),
        ("unknown_kind.geojson", "unknown kind 'spaceships'"),
        ("markup_kind.geojson", "unknown kind '[/bold]'"),
    ]:
        if name not in files:
            continue
        path, kind = files[name]
        result = runner.invoke(app, ["load", kind, str(path), "--check"])
        assert_one_line(result, fatal=True)
        assert expected in result.output, (name, result.output)
        if name != "unknown_kind.geojson" and "kind" not in name:
            assert path.name in result.output


def test_rows_of_malformed_geometries_are_quarantined_not_fatal(tmp_path: Path) -> None:
    files = {name: (path, kind) for name, path, kind in load_corpus(tmp_path, truncations=1)}
    for name in ("geom_ring_bowtie.geojson", "geom_ring_huge.geojson", "geom_line.geojson",
                 "geom_point_huge.geojson", "huge_numbers.csv", "non_finite.csv",
                 "bad_wkt.csv"):  # fmt: skip
        path, kind = files[name]
        result = runner.invoke(app, ["load", kind, str(path), "--check"])
        assert_one_line(result)
        assert SUMMARY.search(result.output), (name, result.output)


# -- through the database --------------------------------------------------------------------


PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def fuzz_db(server_url: str) -> Iterator[str]:
    with scratch_database(server_url, "fuzz") as url:
        c = tiny_county()
        with get_engine(url).begin() as conn:
            for level in ("county", "township", "village", "natural_unit"):
                io.copy_frame(conn, io.admin_rows(c.level(level), level), "admin_unit")
            incidents.sync_platforms(conn, "small")
            auth.add_user(conn, "ops", role="centre", password=PASSWORD)
        yield url


@pytest.fixture
def db(fuzz_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The fuzz database; commands that act as an account get :data:`PASSWORD`."""
    monkeypatch.setenv("DATABASE_URL", fuzz_db)
    monkeypatch.setenv("WANGGE_PASSWORD", PASSWORD)
    return fuzz_db


def _counts(url: str) -> dict[str, int]:
    with get_engine(url).connect() as conn:
        return {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("household", "quarantine", "load_run", "incident", "service_point")
        }


def test_corpus_through_real_loads(db: str, tmp_path: Path) -> None:
    corpus = load_corpus(tmp_path / "corpus", truncations=12)
    for name, path, kind in corpus[::3]:
        before = _counts(db)
        result = runner.invoke(app, ["load", kind, str(path), "--allow-quarantine"])
        try:
            assert_one_line(result)
        except AssertionError as exc:
            raise AssertionError(f"{name} ({kind}): {exc}") from None
        after = _counts(db)
        summary = SUMMARY.search(result.output)
        if summary is None:
            assert after == before, f"{name}: a fatal error changed the database"
        else:
            assert after["load_run"] == before["load_run"] + 1, name


def test_incident_corpus(db: str, tmp_path: Path) -> None:
    for name, path, line in incident_corpus(tmp_path):
        before = _counts(db)
        result = runner.invoke(app, ["incidents", "load", str(path)])
        try:
            assert_one_line(result, fatal=True if line else None)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
        if line is not None:
            assert f"{path.name}: line {line}:" in result.output, (name, result.output)
        if "rows:" not in result.output:
            assert _counts(db) == before, f"{name}: a fatal error changed the database"
    mixed = runner.invoke(app, ["incidents", "load", str(tmp_path / "mixed_offsets.csv")])
    assert mixed.exit_code == 0, mixed.output
    assert "3 rows: 0 new incidents, 3 known, 0 quarantined" in mixed.output  # loaded above
    with get_engine(db).connect() as conn:
        times = dict(conn.execute(text(
            "SELECT client_key, to_char(reported_at AT TIME ZONE 'UTC', 'HH24:MI') "
            "FROM incident WHERE client_key LIKE 'm_'")).all())  # fmt: skip
    assert times == {"m1": "00:00", "m2": "00:30", "m3": "01:00"}  # +08:00, Z, naive local
    bad = runner.invoke(app, ["incidents", "load", str(tmp_path / "bad_values.csv")])
    assert bad.exit_code == 1
    for line, fault in [(2, "bad_value"), (3, "future_time"), (4, "missing_value"),
                        (5, "out_of_range"), (6, "non_finite_coordinates"),
                        (7, "before_epoch")]:  # fmt: skip
        assert f"bad_values.csv: line {line}: {fault}:" in bad.output, bad.output


def _report_args(*extra: str, key: str = "arg-1") -> list[str]:
    lon, lat = lonlat(300, 300)
    return ["incidents", "report", key, "--category", "fire", "--source", "whistle",
            "--actor", "a", "--lon", str(lon), "--lat", str(lat), *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (_report_args("--at", "garbage"), "--at 'garbage' is not a date and time"),
        (_report_args("--at", "9999-12-31T00:00Z"), "future_time"),
        (_report_args("--at", "1900-01-01"), "before_epoch"),
        (_report_args(key=" "), "client_key is empty"),
        (["incidents", "report", "k", "--category", "fire", "--source", "whistle", "--actor",
          "a", "--lon", "1000", "--lat", "37"], "out_of_range"),
        (["incidents", "report", "k", "--category", "fire", "--source", "whistle", "--actor",
          "a", "--lon", "inf", "--lat", "37"], "not finite"),
        (["incidents", "report", "k", "--category", "fire", "--source", "whistle", "--actor",
          "a", "--lon", "106"], "give both --lon and --lat"),
        (["incidents", "history", "999999"], "no incident with id 999999"),
        (["incidents", "move", "999999", "accepted", "--user", "ops"],
         "no incident with id 999999"),
        (["incidents", "move", "1", "flying", "--user", "ops"], "unknown status 'flying'"),
        (["incidents", "move", "1", "accepted", "--user", "ghost"], "wrong login or password"),
        (["grids", "build", "--plan", "p", "--user", "ops"], "has the role centre"),
        (["db", "upgrade", "--revision", "nonexistent_rev"], "nonexistent_rev"),
        (["db", "downgrade", "zzz999", "--yes"], "zzz999"),
        (["export", "plan", "987654", "out.gpkg"], "987654"),
        (["load", "households", "/nonexistent/dir/x.gpkg"], "file not found"),
        (["load", "households", "x.csv", "--map", "oops"], "is not OLD=NEW"),
        (["load", "households", "x.csv", "--crs", "EPSG:999999999", "--check"], "x.csv"),
    ],
)  # fmt: skip
def test_bad_arguments_one_line(db: str, args: list[str], expected: str, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    lon, lat = lonlat(300, 300)
    (tmp_path / "x.csv").write_text(f"code,natural_unit_code,residents,lon,lat\nh,n,1,{lon},"
                                    f"{lat}\n", encoding="utf-8")  # fmt: skip
    result = runner.invoke(app, args)
    assert_one_line(result, fatal=True)
    assert expected in result.output, result.output


@pytest.mark.parametrize(
    ("variable", "value", "args"),
    [
        ("WANGGE_PG_PORT", "abc", ["info"]),
        ("WANGGE_SEED", "-3", ["info"]),
        ("WANGGE_CLOCK_SKEW_MIN", "ten", _report_args()),
        ("WANGGE_CLOCK_SKEW_MIN", "nan", _report_args()),
        ("WANGGE_EPOCH", "the dawn of time", _report_args()),
        ("WANGGE_SUPPRESS_BELOW", "5.5", ["export", "heatmap", "h.gpkg"]),
    ],
)
def test_bad_settings_one_line_naming_the_variable(
    db: str, variable: str, value: str, args: list[str], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    result = runner.invoke(app, args)
    assert_one_line(result, fatal=True)
    assert f"ConfigError: setting {variable}={value!r}" in result.output


# -- user text is text ------------------------------------------------------------------------

MARKUP = "[/bold]"


def test_markup_in_keys_notes_and_categories_is_printed_as_text(db: str) -> None:
    made = runner.invoke(app, [*_report_args(key=f"{MARKUP}key"), "--description", "[red]x[/]"])
    assert made.exit_code == 0, made.output
    incident_id = re.search(r"incident (\d+)", made.output).group(1)
    moved = runner.invoke(app, ["incidents", "move", incident_id, "accepted", "--user", "ops",
                                "--note", f"{MARKUP} note [b]loud[/b]"])  # fmt: skip
    assert moved.exit_code == 0, moved.output
    shown = runner.invoke(app, ["incidents", "history", incident_id])
    assert shown.exit_code == 0, shown.output
    assert "[b]loud[/b]" in shown.output.replace("\n", "").replace(" ", "").replace("│", "") \
        or "[b]loud" in shown.output  # fmt: skip
    args = ["incidents", "report", "k9", "--category", MARKUP, "--source", "whistle", "--actor",
            "a", "--lon", "106.1", "--lat", "37.7"]  # fmt: skip
    refused = runner.invoke(app, args)
    assert_one_line(refused, fatal=True)
    assert f"unknown incident category '{MARKUP}'" in refused.output
    moved_bad = runner.invoke(app, ["incidents", "move", incident_id, MARKUP, "--user", "ops"])
    assert_one_line(moved_bad, fatal=True)
    assert MARKUP in moved_bad.output


def test_markup_in_names_loaded_and_shown(db: str, tmp_path: Path) -> None:
    county = tiny_county("888888").county.assign(name=f"{MARKUP}县[red]")
    path = tmp_path / "[b]county[i].geojson"
    county.drop(columns=["parent_code"]).to_file(path)
    loaded = runner.invoke(app, ["load", "county", str(path)])
    assert loaded.exit_code == 0, loaded.output
    assert "[b]county[i].geojson" in loaded.output
    info = runner.invoke(app, ["info"])
    assert info.exit_code == 0, info.output
    assert MARKUP in info.output
    csv = tmp_path / "sp.csv"
    lon, lat = lonlat(300, 300)
    csv.write_text(f"code,{MARKUP},kind,name,lon,lat\ns1,x,clinic,[b]诊所[/b],{lon},{lat}\n",
                   encoding="utf-8")  # fmt: skip
    checked = runner.invoke(app, ["load", "service_points", str(csv), "--check"])
    assert checked.exit_code == 0, checked.output
    assert f"columns not loaded: {MARKUP}" in checked.output


def test_markup_in_province_run_table(capsys: pytest.CaptureFixture) -> None:
    import typer

    from geo.cli import _province

    report = pd.DataFrame({"county_code": ["640323"], "status": ["failed"], "seconds": [1.0],
                           "rows": [0], "worker": ["w[/]"],
                           "error": [f"{MARKUP} broke"]})  # fmt: skip
    with pytest.raises(typer.Exit):
        _province._finish(report, label=f"{MARKUP}run")
    shown = capsys.readouterr().out
    assert f"{MARKUP}run" in shown
    assert f"{MARKUP} broke" in shown
