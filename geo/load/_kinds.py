"""What each kind of county file holds, and the names its columns may come under.

The types of :mod:`geo.load`: :class:`KindSpec` and :data:`KINDS` (table, key, fields and
geometry of each kind), the faults and repairs a check may report, and the aliases (Chinese
column names, colour and unit-kind spellings) that :func:`map_columns` and the attribute
checks accept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from geo.errors import DataError

#: Households whose point on surface is outside every natural unit but at most this far
#: (metres) from one are moved into it; farther ones are quarantined.  20 m covers the
#: digitising and GPS error of courtyard polygons drawn on imagery without pulling in
#: households that really belong to no unit.
SNAP_TOLERANCE_M = 20.0


#: Largest relative area change (fraction) a ``make_valid`` repair may make.
MAX_REPAIR_AREA_CHANGE = 0.01


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
