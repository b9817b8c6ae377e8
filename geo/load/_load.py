"""Loading a county's own files: read any format, validate every row, load in one transaction.

Two halves:

- **pure** -- :func:`check_file` / :func:`check_frame` read a file (GeoPackage, GeoJSON,
  Shapefile, GeoParquet, FlatGeobuf, CSV with lon/lat or WKT) through pyogrio/GDAL, pandas
  and geopandas, convert its declared CRS (EPSG:4490, 3857, UTM ...) and, on request, GCJ-02
  to EPSG:4326, and check every row (:mod:`geo.load._validate` lists the faults and repairs).
  No database: a notebook can validate a file on its own.
- **database** -- :func:`load_file` does the same with the database's codes as references,
  then, in one transaction, upserts the clean rows by code (re-loading a file is
  idempotent), writes every faulty row to ``quarantine`` (file, row, field, fault, raw row
  as JSON) and one ``load_run`` row.  A fatal error leaves the database as it was.

Nothing is lost: ``rows_in == loaded + quarantined`` (repaired rows are loaded).

Example
-------
>>> import geo
>>> checked = geo.load.check_file("households.gpkg", "households")   # doctest: +SKIP
>>> checked.faults.head()                                            # doctest: +SKIP
>>> with engine.begin() as conn:                                     # doctest: +SKIP
...     report = geo.load.load_file(conn, "households.gpkg", "households")
>>> print(report.summary())                                          # doctest: +SKIP
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from geo.db import load_store
from geo.errors import DataError
from geo.load._checked import Checked, References
from geo.load._kinds import KINDS, SNAP_TOLERANCE_M, kind_spec
from geo.load._read import ReadResult, read_any
from geo.load._validate import validate
from geo.projection import require_crs

__all__ = [
    "LoadReport",
    "check_file",
    "check_frame",
    "load_file",
    "load_frame",
    "parse_mapping",
    "read",
    "references",
    "summary",
]


@dataclass
class LoadReport:
    """What a load did: counts, faults by kind, notes, and the full :class:`Checked`."""

    load_id: str
    kind: str
    file: str
    table: str
    source_crs: str | None
    checked: Checked
    written: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def rows_in(self) -> int:
        return self.checked.rows_in

    @property
    def loaded(self) -> int:
        return len(self.checked.clean)

    @property
    def repaired(self) -> int:
        return self.checked.repaired

    @property
    def quarantined(self) -> int:
        return self.checked.quarantined

    def summary(self) -> str:
        """A few lines for people: counts, faults by kind, repairs and notes."""
        return summary(self.checked, source_crs=self.source_crs, load_id=self.load_id)


def summary(checked: Checked, *, source_crs: str | None = None, load_id: str | None = None) -> str:
    """The report printed by ``wangge load``: counts, then faults, repairs and notes."""
    head = (
        f"{checked.file} ({checked.kind}): {checked.rows_in:,} rows -> "
        f"{len(checked.clean):,} loaded ({checked.repaired:,} repaired), "
        f"{checked.quarantined:,} quarantined"
    )
    lines = [head]
    if source_crs:
        lines.append(f"  source CRS {source_crs}, stored as EPSG:4326")
    for fault, count in checked.by_fault().items():
        example = checked.faults[checked.faults["fault"] == fault].iloc[0]
        lines.append(
            f"  {fault}: {count:,} rows (e.g. row {example['row']}, {example['field']}: "
            f"{example['message']})"
        )
    for repair, count in checked.repairs["repair"].value_counts().items():
        lines.append(f"  repaired {repair}: {count:,} rows")
    lines += [f"  {note}" for note in checked.notes]
    if load_id:
        lines.append(f"  load id {load_id} (quarantine rows carry it)")
    return "\n".join(lines)


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    """``["old=new", ...]`` (the ``--map`` option) as a dict; :class:`DataError` if malformed."""
    mapping = {}
    for item in items or []:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise DataError(f"--map {item!r} is not OLD=NEW")
        mapping[old.strip()] = new.strip()
    return mapping


def read(
    path: str | Path,
    *,
    crs: str | int | None = None,
    swap_xy: bool = False,
    layer: str | None = None,
    encoding: str | None = None,
) -> ReadResult:
    """Read ``path`` as it is (its own CRS, its own column names), or fail in one line.

    The first step of :func:`check_file` and :func:`load_file`, for callers that want to
    know a file is readable before they connect to a database; pass the result on to
    :func:`load_file` in place of the path.

    Raises
    ------
    DataError
        If the file cannot be read at all (missing, empty, truncated, unknown format,
        missing sidecar); the message names the file and the fault.
    CRSError
        If the file has no CRS, none was given and its coordinates are not degrees.
    """
    return read_any(path, layer=layer, encoding=encoding, crs=crs, swap_xy=swap_xy)


def _read(path, *, layer, encoding, crs, swap_xy) -> ReadResult:
    if isinstance(path, ReadResult):
        return path
    return read(path, layer=layer, encoding=encoding, crs=crs, swap_xy=swap_xy)


def check_file(
    path: str | Path,
    kind: str,
    *,
    refs: References | None = None,
    columns: dict[str, str] | None = None,
    crs: str | int | None = None,
    gcj02: bool = False,
    swap_xy: bool = False,
    layer: str | None = None,
    encoding: str | None = None,
    snap_tolerance_m: float = SNAP_TOLERANCE_M,
) -> Checked:
    """Read and validate ``path`` as a file of ``kind`` without touching a database.

    Parameters
    ----------
    path
        GeoPackage, GeoJSON, Shapefile, GeoParquet, FlatGeobuf or CSV file.
    kind
        One of :data:`KINDS`: ``county``, ``townships``, ``villages``, ``natural_units``,
        ``households``, ``service_points``, ``workers``, ``visits``, ``incidents``.
    refs
        Codes rows may refer to and natural units to place households in; None skips
        those checks.
    columns
        Column mapping ``{old: new}`` applied before the built-in aliases.
    crs
        CRS of a file that declares none (or overrides a wrong one), e.g. ``"EPSG:4490"``.
    gcj02
        The coordinates are GCJ-02 (Chinese phone maps): convert them to WGS 84.
    swap_xy
        The file has latitude first: swap x and y.
    layer, encoding
        Layer of a multi-layer file; text encoding of a Shapefile ``.dbf``.
    snap_tolerance_m
        Households at most this far (metres) outside every natural unit are moved in.

    Returns
    -------
    Checked
        Clean rows in EPSG:4326, faults, repairs, overlaps and notes.

    Raises
    ------
    DataError
        If the file cannot be read at all or lacks a column every row needs.
    CRSError
        If the file has no CRS and its coordinates are not degrees.
    """
    result = _read(path, layer=layer, encoding=encoding, crs=crs, swap_xy=swap_xy)
    return _check(result, kind, refs, columns, gcj02, snap_tolerance_m)


def _check(result: ReadResult, kind, refs, columns, gcj02, snap_tolerance_m) -> Checked:
    notes = list(result.notes)
    if gcj02:
        notes.append("coordinates converted from GCJ-02 to WGS 84 (--gcj02)")
    return validate(
        result.frame,
        kind,
        refs=refs,
        file=result.file,
        columns=columns,
        gcj02=gcj02,
        snap_tolerance_m=snap_tolerance_m,
        notes=notes,
    )


def check_frame(
    frame: pd.DataFrame,
    kind: str,
    *,
    refs: References | None = None,
    columns: dict[str, str] | None = None,
    gcj02: bool = False,
    snap_tolerance_m: float = SNAP_TOLERANCE_M,
    name: str = "<frame>",
) -> Checked:
    """Validate an in-memory frame as a file of ``kind`` (see :func:`check_file`).

    A GeoDataFrame must have its CRS set (the CRS is never guessed for frames).
    """
    if isinstance(frame, gpd.GeoDataFrame) and frame.crs is None:
        require_crs(frame, name=name)
    return validate(
        frame,
        kind,
        refs=refs,
        file=name,
        columns=columns,
        gcj02=gcj02,
        snap_tolerance_m=snap_tolerance_m,
    )


# -- database ------------------------------------------------------------------------------


def references(conn: Connection, kind: str) -> References:
    """The codes ``kind``'s rows may refer to, and the natural units for households."""
    name, spec = kind_spec(kind)
    codes = load_store.reference_codes(conn, spec.refs.values())
    units = load_store.natural_units(conn) if name == "households" else None
    return References(codes=codes, natural_units=units)


def load_file(
    con: Connection | Engine,
    path: str | Path | ReadResult,
    kind: str,
    *,
    columns: dict[str, str] | None = None,
    crs: str | int | None = None,
    gcj02: bool = False,
    swap_xy: bool = False,
    layer: str | None = None,
    encoding: str | None = None,
    snap_tolerance_m: float = SNAP_TOLERANCE_M,
) -> LoadReport:
    """Read, validate and load ``path`` as ``kind`` into PostGIS in one transaction.

    With an :class:`~sqlalchemy.Engine` the load runs in its own transaction, committed at
    the end; with a :class:`~sqlalchemy.Connection` it runs in a savepoint of the caller's
    transaction.  Either way a fatal error rolls everything back and is raised.

    Parameters are those of :func:`check_file`; ``path`` may also be the result of
    :func:`read` (then ``crs``, ``swap_xy``, ``layer`` and ``encoding`` are not used).

    Returns
    -------
    LoadReport
        Counts, the :class:`Checked` result and the load id of the quarantine rows.

    Raises
    ------
    DataError
        If the file cannot be read, lacks a needed column, or the database refuses a row.
    CRSError
        If the file has no CRS and its coordinates are not degrees.
    """
    result = _read(path, layer=layer, encoding=encoding, crs=crs, swap_xy=swap_xy)
    return _in_transaction(
        con,
        lambda conn: _load(conn, result, kind, columns, gcj02, snap_tolerance_m, file=result.file),
    )


def load_frame(
    con: Connection | Engine,
    frame: pd.DataFrame,
    kind: str,
    *,
    name: str = "<frame>",
    columns: dict[str, str] | None = None,
    gcj02: bool = False,
    snap_tolerance_m: float = SNAP_TOLERANCE_M,
) -> LoadReport:
    """Validate and load an in-memory frame as ``kind`` (see :func:`load_file`)."""
    if isinstance(frame, gpd.GeoDataFrame) and frame.crs is None:
        require_crs(frame, name=name)
    source = frame.crs.to_string() if isinstance(frame, gpd.GeoDataFrame) else None
    result = ReadResult(frame, name, "frame", source)
    return _in_transaction(
        con, lambda conn: _load(conn, result, kind, columns, gcj02, snap_tolerance_m, file=name)
    )


def _in_transaction(con: Connection | Engine, work):
    try:
        if isinstance(con, Engine):
            with con.begin() as conn:
                return work(conn)
        with con.begin_nested():
            return work(con)
    except DBAPIError as exc:
        first = str(exc.orig or exc).strip().splitlines()[0]
        raise DataError(f"the database refused the load ({first}); nothing was written") from exc


def _load(conn: Connection, result: ReadResult, kind, columns, gcj02, tol, *, file) -> LoadReport:
    name, spec = kind_spec(kind)
    checked = _check(result, name, references(conn, name), columns, gcj02, tol)
    load_id = f"{name[:12]}-{uuid.uuid4().hex[:16]}"
    written = _write_rows(conn, checked.clean, name)
    _write_quarantine(conn, checked, load_id, file)
    report = LoadReport(load_id, name, file, spec.table, result.source_crs, checked, written)
    _write_run(conn, report, result)
    return report


def _write_rows(conn: Connection, clean: pd.DataFrame, kind: str) -> int:
    spec = KINDS[kind]
    existing = "keep" if kind == "visits" else "update"
    return load_store.write_rows(conn, clean, spec.table, key=spec.key, existing=existing)


def _write_quarantine(conn: Connection, checked: Checked, load_id: str, file: str) -> None:
    if checked.faults.empty:
        return
    raw = {row: checked.raw_row(row) for row in checked.faults["row"].unique()}
    rows = [
        {
            "load_id": load_id,
            "kind": checked.kind,
            "file": file,
            "row_number": int(f.row),
            "field": f.field,
            "fault": f"{f.fault}: {f.message}",
            "raw": raw[f.row],
        }
        for f in checked.faults.itertuples(index=False)
    ]
    load_store.write_quarantine(conn, rows)


def _write_run(conn: Connection, report: LoadReport, result: ReadResult) -> None:
    checked = report.checked
    notes = {
        "format": result.format,
        "encoding": result.encoding,
        "by_fault": checked.by_fault(),
        "repairs": {str(k): int(v) for k, v in checked.repairs["repair"].value_counts().items()},
        "overlaps": checked.overlaps.to_dict("records"),
        "notes": checked.notes,
    }
    run = load_store.LoadRunRecord(
        id=report.load_id,
        kind=report.kind,
        file=report.file,
        rows_in=report.rows_in,
        loaded=report.loaded,
        repaired=report.repaired,
        quarantined=report.quarantined,
        source_crs=report.source_crs,
        notes=notes,
    )
    load_store.write_run(conn, run)
