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
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo.db.models import INCIDENT_SOURCES, INCIDENT_STATES
from geo.errors import DataError
from geo.frames import FIVE_COLOURS, UNIT_KINDS
from geo.load import _gcj02
from geo.load._read import CHINA_LAT, CHINA_LON
from geo.projection import STORAGE_CRS, utm_crs

#: Households whose point on surface is outside every natural unit but at most this far
#: (metres) from one are moved into it; farther ones are quarantined.  20 m covers the
#: digitising and GPS error of courtyard polygons drawn on imagery without pulling in
#: households that really belong to no unit.
SNAP_TOLERANCE_M = 20.0
#: Largest relative area change (fraction) a ``make_valid`` repair may make.
MAX_REPAIR_AREA_CHANGE = 0.01
#: Naive timestamps in files are taken in this time zone.
LOCAL_TZ = settings.LOCAL_TZ

FAULTS = (
    "empty_geometry",
    "non_finite_coordinates",
    "out_of_range",
    "swapped_lonlat",
    "wrong_geometry_type",
    "invalid_geometry",
    "missing_value",
    "bad_value",
    "duplicate_code",
    "unknown_parent",
    "outside_natural_units",
)
REPAIRS = ("made_valid", "snapped_into_natural_unit")


@dataclass(frozen=True)
class KindSpec:
    """What a kind of file holds: its table, key, fields (name -> type) and geometry."""

    table: str
    key: tuple[str, ...]
    fields: dict[str, str]
    required: tuple[str, ...]
    geometry: str | None
    level: str | None = None
    refs: dict[str, str] = field(default_factory=dict)


def _admin(level: str, parent: str | None) -> KindSpec:
    fields = {"code": "code", "name": "text", "kind": "unit_kind"}
    required: tuple[str, ...] = ("code", "name")
    refs = {}
    if parent:
        fields["parent_code"] = "code"
        required += ("parent_code",)
        refs = {"parent_code": parent}
    return KindSpec("admin_unit", ("code",), fields, required, "MultiPolygon", level, refs)


_TIMES = {"reported_at", "accepted_at", "resolved_at", "closed_at", "due_at"}
KINDS: dict[str, KindSpec] = {
    "county": _admin("county", None),
    "townships": _admin("township", "county"),
    "villages": _admin("village", "township"),
    "natural_units": _admin("natural_unit", "village"),
    "households": KindSpec(
        "household",
        ("code",),
        {
            "code": "code",
            "natural_unit_code": "code",
            "village_code": "code",
            "residents": "int",
            "residents_at_home": "int",
            "colour": "colour",
        },
        ("code", "residents"),
        "Polygon",
        refs={"natural_unit_code": "natural_unit", "village_code": "village"},
    ),
    "service_points": KindSpec(
        "service_point",
        ("code",),
        {"code": "code", "kind": "text", "name": "text", "village_code": "code"},
        ("code", "kind", "name"),
        "Point",
        refs={"village_code": "village"},
    ),
    "workers": KindSpec(
        "grid_worker",
        ("code",),
        {"code": "code", "name": "text", "phone": "code", "township_code": "code"},
        ("code", "name"),
        None,
        refs={"township_code": "township"},
    ),
    "visits": KindSpec(
        "visit",
        ("worker_code", "household_code", "visited_at"),
        {"worker_code": "code", "household_code": "code", "visited_at": "time", "note": "text"},
        ("worker_code", "household_code", "visited_at"),
        None,
        refs={"worker_code": "worker", "household_code": "household"},
    ),
    "incidents": KindSpec(
        "incident",
        ("client_key",),
        {
            "client_key": "code",
            "category_code": "code",
            "source": "source",
            "status": "status",
            **dict.fromkeys(sorted(_TIMES), "time"),
            "description": "text",
            "household_code": "code",
            "village_code": "code",
            "township_code": "code",
            "satisfaction": "int",
        },
        ("client_key", "category_code", "source", "reported_at"),
        "Point",
        refs={
            "category_code": "category",
            "household_code": "household",
            "village_code": "village",
            "township_code": "township",
        },
    ),
}
#: Other spellings of the kinds accepted on the command line.
KIND_ALIASES = {
    "township": "townships",
    "village": "villages",
    "natural_unit": "natural_units",
    "natural-units": "natural_units",
    "units": "natural_units",
    "household": "households",
    "service_point": "service_points",
    "service-points": "service_points",
    "worker": "workers",
    "grid_workers": "workers",
    "visit": "visits",
    "incident": "incidents",
}

#: Column names in Chinese (and a few English variants) -> canonical names.
COLUMN_ALIASES = {
    "编码": "code",
    "代码": "code",
    "编号": "code",
    "名称": "name",
    "名字": "name",
    "姓名": "name",
    "上级编码": "parent_code",
    "上级代码": "parent_code",
    "类型": "kind",
    "类别": "kind",
    "自然村编码": "natural_unit_code",
    "村编码": "village_code",
    "村居编码": "village_code",
    "乡镇编码": "township_code",
    "户籍人口": "residents",
    "在家人口": "residents_at_home",
    "常住人口": "residents_at_home",
    "颜色": "colour",
    "五色": "colour",
    "color": "colour",
    "电话": "phone",
    "手机": "phone",
    "网格员编码": "worker_code",
    "户编码": "household_code",
    "走访时间": "visited_at",
    "上报时间": "reported_at",
    "事件类别": "category_code",
    "来源": "source",
    "状态": "status",
    "描述": "description",
}
#: Aliases that only apply to one kind.
KIND_COLUMN_ALIASES = {
    "incidents": {"code": "client_key", "category": "category_code"},
}
COLOUR_ALIASES = {
    "红": "red",
    "红色": "red",
    "橙": "orange",
    "橙色": "orange",
    "黄": "yellow",
    "黄色": "yellow",
    "蓝": "blue",
    "蓝色": "blue",
    "绿": "green",
    "绿色": "green",
}
UNIT_KIND_ALIASES = {
    "县": "county",
    "乡": "township",
    "镇": "township",
    "乡镇": "township",
    "街道": "subdistrict",
    "村": "village",
    "行政村": "village",
    "社区": "community",
    "自然村": "hamlet",
    "小区": "compound",
    "楼栋": "building",
}


def kind_spec(kind: str) -> tuple[str, KindSpec]:
    """The canonical name and :class:`KindSpec` of ``kind``; :class:`DataError` if unknown."""
    name = KIND_ALIASES.get(kind.strip().lower().replace(" ", "_"), kind.strip().lower())
    if name not in KINDS:
        raise DataError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return name, KINDS[name]


@dataclass
class References:
    """What rows may refer to: code sets by name, and the natural units to place households.

    ``codes`` keys are ``"county"``, ``"township"``, ``"village"``, ``"natural_unit"``,
    ``"household"``, ``"worker"``, ``"category"``; a missing key skips that check.
    ``natural_units`` (EPSG:4326, columns ``code``, ``parent_code``) enables the
    containment check of households and the GCJ-02 hint.
    """

    codes: dict[str, set[str]] = field(default_factory=dict)
    natural_units: gpd.GeoDataFrame | None = None


@dataclass
class Checked:
    """The outcome of :func:`validate`.

    Attributes
    ----------
    kind, file : str
    rows_in : int
        Rows in the file.
    clean : GeoDataFrame or DataFrame
        Rows to load, columns named as the table's, EPSG:4326; index = 0-based input row.
    faults : DataFrame
        ``row`` (1-based), ``field``, ``fault`` (one of :data:`FAULTS`), ``message``.
    repairs : DataFrame
        ``row``, ``field``, ``repair`` (one of :data:`REPAIRS`), ``message``.
    overlaps : DataFrame
        ``code_a``, ``code_b``, ``area_m2`` for admin units that overlap.
    notes : list of str
        What was decided on the way (CRS, encoding, GCJ-02 hints, fills).
    raw : DataFrame
        The frame as read, for the quarantine's raw rows.
    """

    kind: str
    file: str
    rows_in: int
    clean: pd.DataFrame
    faults: pd.DataFrame
    repairs: pd.DataFrame
    overlaps: pd.DataFrame
    notes: list[str]
    raw: pd.DataFrame

    @property
    def quarantined(self) -> int:
        return int(self.faults["row"].nunique())

    @property
    def repaired(self) -> int:
        return int(self.repairs["row"].nunique())

    def by_fault(self) -> dict[str, int]:
        """Quarantined rows per fault (a row with two faults counts under both)."""
        counts = self.faults.drop_duplicates(["row", "fault"])["fault"].value_counts()
        return {str(k): int(v) for k, v in counts.items()}

    def raw_row(self, row: int) -> dict:
        """Input row ``row`` (1-based) as JSON-ready values (geometry as WKT)."""
        record = self.raw.iloc[row - 1]
        out = {}
        for column, value in record.items():
            if isinstance(value, shapely.Geometry):
                out[str(column)] = value.wkt
            elif value is None or (isinstance(value, float) and not math.isfinite(value)):
                out[str(column)] = None if value is None or math.isnan(value) else str(value)
            elif pd.isna(value) if np.ndim(value) == 0 else False:
                out[str(column)] = None
            else:
                value = value.item() if isinstance(value, np.generic) else value
                out[str(column)] = json.loads(json.dumps(value, default=str, ensure_ascii=False))
        return out


class _Collector:
    def __init__(self) -> None:
        self.faults: list[tuple[np.ndarray, str, str, object]] = []
        self.repairs: list[tuple[np.ndarray, str, str, object]] = []

    def fault(self, rows, column: str, fault: str, message) -> None:
        rows = np.asarray(rows, dtype=int)
        if rows.size:
            self.faults.append((rows, column, fault, message))

    def repair(self, rows, column: str, repair: str, message) -> None:
        rows = np.asarray(rows, dtype=int)
        if rows.size:
            self.repairs.append((rows, column, repair, message))

    @staticmethod
    def _frame(items, name: str) -> pd.DataFrame:
        parts = []
        for rows, column, what, message in items:
            messages = message if isinstance(message, (list, np.ndarray, pd.Series)) else None
            parts.append(
                pd.DataFrame(
                    {
                        "row": rows + 1,
                        "field": column,
                        name: what,
                        "message": list(messages) if messages is not None else message,
                    }
                )
            )
        if not parts:
            return pd.DataFrame({"row": [], "field": [], name: [], "message": []}).astype(
                {"row": int}
            )
        return pd.concat(parts, ignore_index=True).sort_values("row", kind="stable")

    def bad_rows(self, n: int, column: str | None = None) -> np.ndarray:
        """Rows with a fault (in ``column``, if given)."""
        mask = np.zeros(n, dtype=bool)
        for rows, field_, *_ in self.faults:
            if column is None or field_ == column:
                mask[rows] = True
        return mask


def map_columns(
    frame: pd.DataFrame, mapping: dict[str, str] | None = None, *, kind: str | None = None
) -> pd.DataFrame:
    """``frame`` with columns renamed to the canonical names (a copy).

    ``mapping`` (old -> new) is applied first, then :data:`COLUMN_ALIASES`, the aliases of
    ``kind``, case-insensitive canonical names and Shapefile's 10-character truncations.
    A name is never mapped onto a column that already exists.
    """
    mapping = dict(mapping or {})
    unknown = [old for old in mapping if old not in frame.columns]
    if unknown:
        raise DataError(
            f"--map names column(s) {', '.join(unknown)} that the file lacks; it has "
            f"{', '.join(map(str, frame.columns))}"
        )
    canonical = {name for spec in KINDS.values() for name in spec.fields} | {"parent_code"}
    aliases = dict(COLUMN_ALIASES)
    aliases.update({c[:10]: c for c in canonical if len(c) > 10})
    aliases.update(KIND_COLUMN_ALIASES.get(kind or "", {}))
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    rename: dict[str, str] = {}
    taken = set(frame.columns)
    for column in frame.columns:
        if column == geometry:
            continue
        target = mapping.get(column)
        if target is None:
            lower = str(column).strip().lower()
            target = aliases.get(str(column).strip()) or aliases.get(lower)
            if target is None and lower in canonical:
                target = lower
        if target and target != column and target not in taken:
            rename[column] = target
            taken.add(target)
    return frame.rename(columns=rename)


# -- geometry ------------------------------------------------------------------------------


def _all_coords_in(values: np.ndarray, rows: np.ndarray, test) -> np.ndarray:
    """For each of ``rows``, True when ``test(x, y)`` holds for all its coordinates."""
    if rows.size == 0:
        return np.zeros(0, dtype=bool)
    xy, idx = shapely.get_coordinates(values[rows], return_index=True)
    ok = test(xy[:, 0], xy[:, 1])
    bad = np.bincount(idx[~ok], minlength=rows.size)
    return bad == 0


def _geometry(geoms: gpd.GeoSeries, spec: KindSpec, out: _Collector, *, gcj02: bool) -> np.ndarray:
    """Geometries in EPSG:4326 of the right type and valid (None where a fault was found)."""
    values = np.asarray(geoms.values, dtype=object)
    n = len(values)
    missing = shapely.is_missing(values) | shapely.is_empty(values)
    out.fault(np.flatnonzero(missing), "geometry", "empty_geometry", "geometry is empty or null")
    rows = np.flatnonzero(~missing)
    finite = _all_coords_in(values, rows, lambda x, y: np.isfinite(x) & np.isfinite(y))
    out.fault(
        rows[~finite], "geometry", "non_finite_coordinates", "coordinates are NaN or infinite"
    )
    rows = rows[finite]
    src = geoms.crs
    if src is not None and src.is_geographic:
        rows = _check_degrees(values, rows, out)
    result = np.full(n, None, dtype=object)
    if src is not None and src != STORAGE_CRS and rows.size:
        moved = gpd.GeoSeries(values[rows], crs=src).to_crs(STORAGE_CRS).values
        values = values.copy()
        values[rows] = np.asarray(moved, dtype=object)
        ok = _all_coords_in(values, rows, _in_degrees)
        out.fault(
            rows[~ok],
            "geometry",
            "out_of_range",
            f"coordinates do not convert from {src.to_string()} to longitude/latitude",
        )
        rows = rows[ok]
    if gcj02 and rows.size:
        fixed = _gcj02.geoseries_gcj02_to_wgs84(gpd.GeoSeries(values[rows], crs=STORAGE_CRS))
        values = values.copy()
        values[rows] = np.asarray(fixed.values, dtype=object)
    rows, values = _coerce_type(values, rows, spec.geometry, out)
    rows, values = _repair(values, rows, spec.geometry, out)
    result[rows] = values[rows]
    return result


def _in_degrees(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90)


def _swapped(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x >= CHINA_LAT[0]) & (x <= CHINA_LAT[1]) & (y >= CHINA_LON[0]) & (y <= CHINA_LON[1])


def _check_degrees(values: np.ndarray, rows: np.ndarray, out: _Collector) -> np.ndarray:
    swapped = _all_coords_in(values, rows, _swapped)
    out.fault(
        rows[swapped],
        "geometry",
        "swapped_lonlat",
        "latitude and longitude look swapped (x is a Chinese latitude, y a Chinese "
        "longitude); fix the file or load it with --swap-xy",
    )
    rows = rows[~swapped]
    ok = _all_coords_in(values, rows, _in_degrees)
    out.fault(
        rows[~ok],
        "geometry",
        "out_of_range",
        "longitude outside -180..180 or latitude outside -90..90",
    )
    return rows[ok]


_POLYGON, _MULTIPOLYGON, _POINT, _MULTIPOINT, _COLLECTION = 3, 6, 0, 4, 7


def _coerce_type(values, rows, target, out: _Collector):
    types = shapely.get_type_id(values[rows])
    parts = shapely.get_num_geometries(values[rows])
    values = values.copy()
    if target == "Polygon":
        single_multi = (types == _MULTIPOLYGON) & (parts == 1)
        values[rows[single_multi]] = shapely.get_geometry(values[rows[single_multi]], 0)
        ok = (types == _POLYGON) | single_multi
    elif target == "MultiPolygon":
        poly = types == _POLYGON
        values[rows[poly]] = [shapely.MultiPolygon([g]) for g in values[rows[poly]]]
        ok = poly | (types == _MULTIPOLYGON)
    else:
        single_multi = (types == _MULTIPOINT) & (parts == 1)
        values[rows[single_multi]] = shapely.get_geometry(values[rows[single_multi]], 0)
        ok = (types == _POINT) | single_multi
    bad = rows[~ok]
    names = shapely.get_type_id(values[bad])
    type_names = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
                  5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}  # fmt: skip
    out.fault(
        bad,
        "geometry",
        "wrong_geometry_type",
        [f"{type_names.get(int(t), t)} where a {target} is expected" for t in names],
    )
    return rows[ok], values


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygons of a ``make_valid`` result (dropping the lines and points it may add)."""
    if shapely.get_type_id(geom) in (_POLYGON, _MULTIPOLYGON):
        return geom
    polys = [
        g for g in shapely.get_parts(geom) if shapely.get_type_id(g) in (_POLYGON, _MULTIPOLYGON)
    ]
    if not polys:
        return shapely.Polygon()
    merged = shapely.union_all(polys)
    return merged


def _repair(values, rows, target, out: _Collector):
    if target == "Point" or rows.size == 0:
        return rows, values
    invalid = rows[~shapely.is_valid(values[rows])]
    if invalid.size == 0:
        return rows, values
    values = values.copy()
    bad, fixed_rows, messages, bad_messages = [], [], [], []
    for row in invalid:
        before = values[row]
        after = _polygonal(shapely.make_valid(before))
        area0, area1 = abs(before.area), after.area
        change = abs(area1 - area0) / area0 if area0 > 0 else math.inf
        tid = shapely.get_type_id(after)
        if target == "Polygon" and tid == _MULTIPOLYGON and len(after.geoms) == 1:
            after, tid = after.geoms[0], _POLYGON
        if target == "MultiPolygon" and tid == _POLYGON:
            after, tid = shapely.MultiPolygon([after]), _MULTIPOLYGON
        wanted = _POLYGON if target == "Polygon" else _MULTIPOLYGON
        reason = shapely.is_valid_reason(before)
        if tid == wanted and not after.is_empty and change < MAX_REPAIR_AREA_CHANGE:
            values[row] = after
            fixed_rows.append(row)
            messages.append(f"{reason}; made valid, area changed {change:.3%}")
        else:
            bad.append(row)
            kind = ["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                    "MultiLineString", "MultiPolygon", "GeometryCollection"]  # fmt: skip
            got = kind[tid] if 0 <= tid < len(kind) else "empty"
            detail = (
                f"the repair is a {got}"
                if tid != wanted
                else f"the repair changes area {change:.1%}"
            )
            bad_messages.append(f"{reason}; cannot repair: {detail}")
    out.repair(np.array(fixed_rows, dtype=int), "geometry", "made_valid", messages)
    out.fault(np.array(bad, dtype=int), "geometry", "invalid_geometry", bad_messages)
    keep = np.setdiff1d(rows, np.array(bad, dtype=int))
    return keep, values


# -- attributes ----------------------------------------------------------------------------


def _blank(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _code(value) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if math.isfinite(value) and value == int(value) else str(value)
    if isinstance(value, (np.integer, int)):
        return str(int(value))
    return str(value).strip()


def _codes(series: pd.Series) -> pd.Series:
    """Codes as stripped strings (integers read as floats lose their ``.0``), None if blank."""
    return pd.Series([_code(v) for v in series.tolist()], index=series.index, dtype=object)


def _ints(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Integers as float64 values (NaN where missing) and a mask of non-integral values."""
    raw = series.astype(object).where(series.notna(), None)
    text_blank = raw.map(lambda v: v is None or (isinstance(v, str) and not v.strip()))
    numbers = pd.to_numeric(raw.where(~text_blank, None), errors="coerce").astype(float)
    bad = (~text_blank & (numbers.isna() | ~np.isfinite(numbers) | (numbers % 1 != 0))).to_numpy()
    return numbers.where(~text_blank, np.nan), bad


def _times(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series
    if pd.api.types.is_datetime64_dtype(series):
        return series.dt.tz_localize(LOCAL_TZ)
    values = []
    for value in series.astype(object):
        try:
            stamp = pd.Timestamp(value) if value is not None and str(value).strip() else pd.NaT
        except (ValueError, TypeError):
            stamp = pd.NaT
        if stamp is not pd.NaT and stamp.tzinfo is None:
            stamp = stamp.tz_localize(LOCAL_TZ)
        values.append(stamp if stamp is pd.NaT else stamp.tz_convert("UTC"))
    return pd.Series(pd.to_datetime(values, utc=True), index=series.index)


def _attributes(df: pd.DataFrame, spec: KindSpec, out: _Collector) -> dict[str, pd.Series]:
    cols: dict[str, pd.Series] = {}
    positions = np.arange(len(df))
    for name, kind in spec.fields.items():
        if name not in df.columns:
            continue
        series = df[name].reset_index(drop=True)
        if kind in ("code", "text"):
            value = (
                _codes(series)
                if kind == "code"
                else series.astype(object).where(series.notna(), None)
            )
        elif kind == "int":
            value, bad = _ints(series)
            low = 1 if name == "satisfaction" else 0
            high = 5 if name == "satisfaction" else np.inf
            out_of = (value < low) | (value > high)
            bad = bad | out_of.to_numpy()
            allowed = f"{low}..{high:g}" if name == "satisfaction" else "an integer >= 0"
            out.fault(
                positions[bad],
                name,
                "bad_value",
                [f"{name} {v!r} is not {allowed}" for v in series[bad]],
            )
            value = value.where(~bad, np.nan)
        elif kind == "time":
            value = _times(series)
            bad = (value.isna() & series.notna()).to_numpy()
            out.fault(
                positions[bad],
                name,
                "bad_value",
                [f"{name} {v!r} is not a date and time" for v in series[bad]],
            )
        else:
            allowed, aliases = {
                "colour": (FIVE_COLOURS, COLOUR_ALIASES),
                "unit_kind": (UNIT_KINDS.get(spec.level or "", ()), UNIT_KIND_ALIASES),
                "source": (INCIDENT_SOURCES, {}),
                "status": (INCIDENT_STATES, {}),
            }[kind]
            text = _codes(series)
            value = pd.Series(
                [None if v is None else aliases.get(v, v.lower()) for v in text],
                index=text.index,
                dtype=object,
            )
            bad = (value.notna() & ~value.isin(allowed)).to_numpy()
            out.fault(
                positions[bad],
                name,
                "bad_value",
                [f"{name} {v!r} is not one of {', '.join(allowed)}" for v in series[bad]],
            )
        cols[name] = value
    return cols


def _required(cols: dict[str, pd.Series], names, out: _Collector, *, skip=None) -> None:
    """Fault empty required fields, except in rows already faulted on that field (or ``skip``)."""
    for name in names:
        if name in cols:
            missing = cols[name].isna().to_numpy() & ~out.bad_rows(len(cols[name]), name)
            if skip is not None:
                missing &= ~skip
            out.fault(np.flatnonzero(missing), name, "missing_value", f"{name} is empty")


def _duplicates(cols: dict[str, pd.Series], spec: KindSpec, out: _Collector) -> None:
    keys = pd.DataFrame({k: cols[k] for k in spec.key if k in cols})
    if keys.empty or len(keys.columns) < len(spec.key):
        return
    present = keys.notna().all(axis=1)
    dup = (keys.duplicated(keep=False) & present).to_numpy()
    if not dup.any():
        return
    first = keys[dup].reset_index().groupby(list(spec.key), dropna=False)["index"].transform("min")
    later = keys[dup].index.to_numpy()[first.to_numpy() != keys[dup].index.to_numpy()]
    firsts = first[first.to_numpy() != keys[dup].index.to_numpy()].to_numpy()
    label = "/".join(spec.key)
    out.fault(
        later,
        spec.key[0],
        "duplicate_code",
        [
            f"{label} {'/'.join(str(keys.loc[r, k]) for k in spec.key)} repeats row {f + 1}"
            for r, f in zip(later, firsts, strict=True)
        ],
    )


def _parents(cols, spec: KindSpec, refs: References | None, out: _Collector) -> None:
    if refs is None:
        return
    for column, ref in spec.refs.items():
        if column not in cols or ref not in refs.codes:
            continue
        values = cols[column]
        unknown = (values.notna() & ~values.isin(refs.codes[ref])).to_numpy()
        rows = np.flatnonzero(unknown)
        out.fault(
            rows,
            column,
            "unknown_parent",
            [f"{column} {values.iloc[r]} is not a known {ref.replace('_', ' ')}" for r in rows],
        )


# -- households in natural units --------------------------------------------------------


def _households_in_units(
    geoms: np.ndarray,
    cols: dict[str, pd.Series],
    units: gpd.GeoDataFrame,
    out: _Collector,
    notes: list[str],
    *,
    tolerance_m: float,
    gcj02: bool,
) -> np.ndarray:
    rows = np.flatnonzero(~shapely.is_missing(geoms))
    if rows.size == 0 or units.empty:
        return geoms
    points = gpd.GeoSeries(shapely.point_on_surface(geoms[rows]), crs=STORAGE_CRS)
    tree = shapely.STRtree(units.geometry.values)
    pairs = tree.query(points.values, predicate="within")
    unit_of = np.full(rows.size, -1)
    unit_of[pairs[0][::-1]] = pairs[1][::-1]  # first match wins
    if not gcj02:
        _gcj_hint(points, unit_of, tree, notes)
    outside = np.flatnonzero(unit_of < 0)
    geoms = geoms.copy()
    if outside.size:
        metric = utm_crs(units)
        units_m = units.geometry.to_crs(metric).values
        pts_m = points.iloc[outside].to_crs(metric).values
        near, dist = shapely.STRtree(units_m).query_nearest(
            pts_m, max_distance=tolerance_m, return_distance=True, all_matches=False
        )
        target = np.full(outside.size, -1)
        distance = np.full(outside.size, np.nan)
        target[near[0]] = near[1]
        distance[near[0]] = dist
        snapped_rows, messages = [], []
        for k in np.flatnonzero(target >= 0):
            row = rows[outside[k]]
            line = shapely.shortest_line(pts_m[k], units_m[target[k]])
            (x0, y0), (x1, y1) = shapely.get_coordinates(line)
            length = math.hypot(x1 - x0, y1 - y0) or 1.0
            dx = (x1 - x0) * (1 + 0.5 / length)
            dy = (y1 - y0) * (1 + 0.5 / length)
            moved = gpd.GeoSeries([geoms[row]], crs=STORAGE_CRS).to_crs(metric)
            moved = moved.translate(dx, dy).to_crs(STORAGE_CRS).values[0]
            if shapely.within(shapely.point_on_surface(moved), units.geometry.values[target[k]]):
                geoms[row] = moved
                unit_of[outside[k]] = target[k]
                snapped_rows.append(row)
                code = units["code"].iloc[target[k]]
                messages.append(f"{distance[k]:.1f} m outside natural unit {code}; moved into it")
        out.repair(np.array(snapped_rows, dtype=int), "geometry", "snapped_into_natural_unit",
                   messages)  # fmt: skip
        still = rows[outside][unit_of[outside] < 0]
        out.fault(
            still,
            "geometry",
            "outside_natural_units",
            f"the household lies in no natural unit and more than {tolerance_m:g} m from every one",
        )
    _fill_codes(rows, unit_of, cols, units, out, notes)
    return geoms


def _fill_codes(rows, unit_of, cols, units, out: _Collector, notes: list[str]) -> None:
    n = len(next(iter(cols.values())))
    placed = unit_of >= 0
    unit_code = pd.Series([None] * n, dtype=object)
    unit_code.iloc[rows[placed]] = units["code"].to_numpy()[unit_of[placed]]
    nu = cols.get("natural_unit_code", pd.Series([None] * n, dtype=object))
    fill = nu.isna() & unit_code.notna()
    if fill.any():
        notes.append(f"natural_unit_code filled from location for {int(fill.sum()):,} rows")
    elsewhere = (nu.notna() & unit_code.notna() & (nu != unit_code)).sum()
    if elsewhere:
        notes.append(f"{int(elsewhere):,} households lie in another natural unit than their code")
    cols["natural_unit_code"] = nu.where(~fill, unit_code)
    parent = dict(zip(units["code"], units["parent_code"], strict=True))
    village_of_unit = cols["natural_unit_code"].map(parent)
    village = cols.get("village_code", pd.Series([None] * n, dtype=object))
    cols["village_code"] = village.where(village.notna(), village_of_unit)
    wrong = (village.notna() & village_of_unit.notna() & (village != village_of_unit)).to_numpy()
    bad = np.flatnonzero(wrong)
    out.fault(
        bad,
        "village_code",
        "unknown_parent",
        [
            f"village_code {village.iloc[r]} is not the village of natural unit "
            f"{cols['natural_unit_code'].iloc[r]} ({village_of_unit.iloc[r]})"
            for r in bad
        ],
    )


def _gcj_hint(points: gpd.GeoSeries, unit_of: np.ndarray, tree, notes: list[str]) -> None:
    """Note when points fall in units far more often once the GCJ-02 offset is undone."""
    n = len(points)
    sample = np.linspace(0, n - 1, min(n, 2000)).astype(int)
    inside = (unit_of[sample] >= 0).mean()
    if inside > 0.9:
        return
    fixed = _gcj02.geoseries_gcj02_to_wgs84(points.iloc[sample])
    hits = tree.query(fixed.values, predicate="within")
    inside_fixed = np.unique(hits[0]).size / sample.size
    if inside_fixed >= 0.5 and inside_fixed >= inside + 0.2:
        notes.append(
            f"warning: only {inside:.0%} of the points fall in a natural unit, but "
            f"{inside_fixed:.0%} would after undoing the GCJ-02 offset: the coordinates look "
            "GCJ-02 (Chinese phone-map) shifted; reload with --gcj02"
        )


# -- overlaps ------------------------------------------------------------------------------


def overlaps(units: gpd.GeoDataFrame, *, min_area_m2: float = 0.01) -> pd.DataFrame:
    """Pairs of ``units`` (EPSG:4326, column ``code``) that overlap, with the area in m².

    Areas are measured in the units' UTM zone; overlaps under ``min_area_m2`` are ignored.
    """
    empty = pd.DataFrame({"code_a": [], "code_b": [], "area_m2": []})
    if len(units) < 2:
        return empty
    metric = units.geometry.to_crs(utm_crs(units)).values
    tree = shapely.STRtree(metric)
    left, right = tree.query(metric, predicate="overlaps")
    keep = left < right
    left, right = left[keep], right[keep]
    if left.size == 0:
        return empty
    areas = shapely.area(shapely.intersection(metric[left], metric[right]))
    codes = units["code"].to_numpy()
    frame = pd.DataFrame({"code_a": codes[left], "code_b": codes[right], "area_m2": areas})
    return frame[frame["area_m2"] >= min_area_m2].reset_index(drop=True)


# -- the whole check ---------------------------------------------------------------------


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

    Raises
    ------
    DataError
        If ``kind`` is unknown, or a column every row needs is missing (a fatal fault).
    """
    kind, spec = kind_spec(kind)
    notes = list(notes or [])
    df = map_columns(frame, columns, kind=kind).reset_index(drop=True)
    need = [c for c in spec.required if c not in df.columns]
    if kind == "households" and (refs is None or refs.natural_units is None):
        need += [] if "natural_unit_code" in df.columns else ["natural_unit_code"]
    if need:
        found = ", ".join(str(c) for c in df.columns if c != getattr(df, "_geometry_column_name",
                                                                      None))  # fmt: skip
        raise DataError(
            f"{file}: no column {', '.join(need)} for {kind}; the file has {found}; "
            "rename with --map OLD=NEW"
        )
    if spec.geometry and not isinstance(df, gpd.GeoDataFrame):
        raise DataError(
            f"{file}: {kind} need a geometry; the file has none (CSV files need lon/lat or "
            "WKT columns)"
        )
    out = _Collector()
    n = len(df)
    geoms = _geometry(df.geometry, spec, out, gcj02=gcj02) if spec.geometry else None
    cols = _attributes(df, spec, out)
    if kind == "households" and geoms is not None and refs and refs.natural_units is not None:
        geoms = _households_in_units(
            geoms,
            cols,
            refs.natural_units,
            out,
            notes,
            tolerance_m=snap_tolerance_m,
            gcj02=gcj02,
        )
    _required(cols, spec.required, out)
    if kind == "households":
        _required(cols, ("natural_unit_code",), out, skip=out.bad_rows(n, "geometry"))
        _households_defaults(cols, out)
    _duplicates(cols, spec, out)
    _parents(cols, spec, refs, out)
    clean = _assemble(cols, geoms, spec, n, out.bad_rows(n))
    over = pd.DataFrame({"code_a": [], "code_b": [], "area_m2": []})
    if spec.level and len(clean) > 1:
        over = overlaps(clean)
        for a, b, area in over.itertuples(index=False):
            notes.append(f"warning: {spec.level.replace('_', ' ')}s {a} and {b} overlap by "
                         f"{area:,.1f} m²")  # fmt: skip
    return Checked(
        kind=kind,
        file=file,
        rows_in=n,
        clean=clean,
        faults=out._frame(out.faults, "fault"),
        repairs=out._frame(out.repairs, "repair"),
        overlaps=over,
        notes=notes,
        raw=frame.reset_index(drop=True),
    )


def _households_defaults(cols: dict[str, pd.Series], out: _Collector) -> None:
    residents = cols["residents"]
    at_home = cols.get("residents_at_home", pd.Series(np.nan, index=residents.index))
    cols["residents_at_home"] = at_home.where(at_home.notna(), residents)
    over = (cols["residents_at_home"] > residents).to_numpy()
    rows = np.flatnonzero(over)
    out.fault(
        rows,
        "residents_at_home",
        "bad_value",
        [
            f"residents_at_home {cols['residents_at_home'].iloc[r]:g} exceeds residents "
            f"{residents.iloc[r]:g}"
            for r in rows
        ],
    )


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
