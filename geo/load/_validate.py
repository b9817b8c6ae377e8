"""Row-by-row validation of a county file: every fault collected, nothing thrown away.

Pure: frames in, frames out, no database.  :func:`validate` takes a frame as read by
:mod:`geo.load._read` (in the file's own CRS) and returns a :class:`Checked`: the clean rows in
EPSG:4326 shaped like their table, the faults (row, field, fault, message) of the rows that
cannot be loaded, the repairs made to rows that are loaded, overlaps between admin units
and notes.  All checks are vectorised (shapely 2 / geopandas), so 68,487 households are
checked in a couple of seconds.

Faults (one per problem; a row with any fault is quarantined):

``empty_geometry``          null or empty geometry
``non_finite_coordinates``  NaN or infinite coordinates
``out_of_range``            coordinates outside -180..180 / -90..90 after conversion
``swapped_lonlat``          latitude and longitude swapped (a Chinese point read as y, x)
``wrong_geometry_type``     e.g. a line where a polygon is expected
``invalid_geometry``        invalid and ``make_valid`` changes its type or its area >= 1 %
``missing_value``           a required field is empty
``bad_value``               a value of the wrong type or outside its allowed values
``duplicate_code``          the key repeats an earlier row of the file (the first is kept)
``unknown_parent``          a code that refers to nothing in the database (or a village
                            code that is not the natural unit's village)
``outside_natural_units``   a household farther than the snap tolerance from every unit

Repairs (the row is loaded, the repair recorded):

``made_valid``                 ``make_valid`` kept the type and changed the area < 1 %
``snapped_into_natural_unit``  a household outside every natural unit but within
                               :data:`SNAP_TOLERANCE_M` of one was moved into it
``footprint_from_point``       a household given as a point got a derived courtyard
                               footprint (:mod:`geo.load._footprints`)
``placed_in_unit``             a household with no location but a known natural unit was
                               placed inside it (and given a footprint)
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import DataError
from geo.frames import UNIT_KINDS
from geo.load._attributes import check_attributes, check_duplicates, check_parents, check_required
from geo.load._checked import Checked, Collector, References
from geo.load._geometry import check_geometry, overlaps
from geo.load._households import household_defaults, households_located
from geo.load._kinds import SNAP_TOLERANCE_M, KindSpec, column_mapping, kind_spec
from geo.load._read import UNREADABLE
from geo.projection import STORAGE_CRS


def validate(
    frame: pd.DataFrame,
    kind: str,
    *,
    refs: References | None = None,
    file: str = "<frame>",
    columns: dict[str, str] | None = None,
    gcj02: bool = False,
    snap_tolerance_m: float = SNAP_TOLERANCE_M,
    notes: list[str] | None = None,
) -> Checked:
    """Check every row of ``frame`` as a file of ``kind``; see the module docstring.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        The rows as read, in the file's own CRS (a GeoDataFrame must have one).
    kind : str
        One of :data:`~geo.load._kinds.KINDS` or an alias of one.
    refs : References, optional
        Codes rows may refer to and the natural units (EPSG:4326) households must lie in;
        None skips those checks.
    file : str
        Name used in messages and in :attr:`Checked.file`.
    columns : dict, optional
        Column mapping ``{old: new}`` applied before the built-in aliases.
    gcj02 : bool
        Convert the coordinates from GCJ-02 to WGS 84.
    snap_tolerance_m : float
        Households at most this far (metres, measured in the units' UTM zone) outside every
        natural unit are moved into the nearest one.
    notes : list of str, optional
        Notes gathered before the check (CRS, encoding); kept first in the result.

    Returns
    -------
    Checked
        Clean rows in EPSG:4326, faults, repairs, overlaps and notes.

    Raises
    ------
    DataError
        If ``kind`` is unknown, or a column every row needs is missing (a fatal fault).
    """
    kind, spec = kind_spec(kind)
    notes = list(notes or [])
    df = _named(frame, columns, kind, spec, notes).reset_index(drop=True)
    if spec.from_points and not isinstance(df, gpd.GeoDataFrame):
        # a register with no location at all: every row is placed by its natural unit
        df = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries([None] * len(df)), crs=STORAGE_CRS)
    _require_columns(df, kind, spec, refs, file)
    out = Collector()
    n = len(df)
    unreadable = frame.attrs.get(UNREADABLE, {})
    rows = np.array(sorted(unreadable), dtype=int)
    out.fault(rows, "geometry", "invalid_geometry", [unreadable[r] for r in rows])
    geoms = check_geometry(df.geometry, spec, out, gcj02=gcj02) if spec.geometry else None
    cols = check_attributes(df, spec, out)
    if spec.from_points and geoms is not None:
        geoms = households_located(
            geoms, cols, refs, out, notes, tolerance_m=snap_tolerance_m, gcj02=gcj02
        )
    check_required(cols, spec.required, out)
    if kind == "households":
        check_required(cols, ("natural_unit_code",), out, skip=out.bad_rows(n, "geometry"))
        household_defaults(cols, out)
    check_duplicates(cols, spec, out)
    check_parents(cols, spec, refs, out)
    clean = _assemble(cols, geoms, spec, n, out.bad_rows(n))
    over = _overlaps(clean, spec, notes)
    return Checked(
        kind=kind,
        file=file,
        rows_in=n,
        clean=clean,
        faults=out.table(out.faults, "fault"),
        repairs=out.table(out.repairs, "repair"),
        overlaps=over,
        notes=notes,
        raw=frame.reset_index(drop=True),
    )


def _named(
    frame: pd.DataFrame, columns: dict[str, str] | None, kind: str, spec: KindSpec, notes
) -> pd.DataFrame:
    """``frame`` with its columns renamed to the canonical names; notes say which became
    which and which columns are not loaded."""
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    names = [c for c in frame.columns if c != geometry]
    rename = column_mapping(names, columns, kind=kind)
    if rename:
        notes.append("columns: " + ", ".join(f"{old} -> {new}" for old, new in rename.items()))
    known = set(spec.fields) | {"parent_code"}
    unused = [str(c) for c in names if rename.get(c, c) not in known]
    if unused:
        notes.append(f"columns not loaded: {', '.join(unused)}")
    return frame.rename(columns=rename)


def _require_columns(
    df: pd.DataFrame, kind: str, spec: KindSpec, refs: References | None, file: str
) -> None:
    """Raise :class:`DataError` for a column every row needs, or a geometry, that is missing."""
    need = [c for c in spec.required if c not in df.columns]
    if kind == "households" and (refs is None or refs.natural_units is None):
        need += [] if "natural_unit_code" in df.columns else ["natural_unit_code"]
    if need:
        names = [str(c) for c in df.columns if c != getattr(df, "_geometry_column_name", None)]
        found = ", ".join(n if len(n) <= 30 else n[:29] + "…" for n in names[:12])
        found = (found + (f" and {len(names) - 12} more" if len(names) > 12 else "")) or "none"
        raise DataError(
            f"{file}: no column {', '.join(need)} for {kind}; the file has {found}; "
            "rename with --map OLD=NEW"
        )
    if spec.geometry and not isinstance(df, gpd.GeoDataFrame):
        raise DataError(
            f"{file}: {kind} need a geometry; the file has none (CSV files need lon/lat or "
            "WKT columns)"
        )


def _overlaps(clean: pd.DataFrame, spec: KindSpec, notes: list[str]) -> pd.DataFrame:
    """Overlaps between the clean admin units (m², a note for each); empty for other kinds."""
    over = pd.DataFrame({"code_a": [], "code_b": [], "area_m2": []})
    if spec.level and len(clean) > 1:
        over = overlaps(clean)
        for a, b, area in over.itertuples(index=False):
            notes.append(f"warning: {spec.level.replace('_', ' ')}s {a} and {b} overlap by "
                         f"{area:,.1f} m²")  # fmt: skip
    return over


def _assemble(cols, geoms, spec: KindSpec, n: int, bad: np.ndarray) -> pd.DataFrame:
    keep = ~bad
    data = {}
    for name, series in cols.items():
        values = series[keep]
        if spec.fields.get(name) == "int":
            values = values.astype("int64") if values.notna().all() else values.astype("Int64")
        data[name] = values
    index = np.flatnonzero(keep)
    if spec.level:
        data["level"] = pd.Series(spec.level, index=index)
        data.setdefault("kind", pd.Series(None, index=index, dtype=object))
        data["kind"] = data["kind"].where(data["kind"].notna(), UNIT_KINDS[spec.level][0])
        data["parent_code"] = data.get("parent_code", pd.Series(None, index=index, dtype=object))
    frame = pd.DataFrame(data, index=index)
    if geoms is None:
        return frame
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms[keep], index=index), crs=4326)
