"""What each kind of county file holds, and the names its columns may come under.

The types of :mod:`geo.load`: :class:`KindSpec` and :data:`KINDS` (table, key, fields and
geometry of each kind), the faults and repairs a check may report, and the aliases (Chinese
column names, colour and unit-kind spellings) that :func:`map_columns` and the attribute
checks accept.
"""

from __future__ import annotations

import re
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


REPAIRS = ("made_valid", "snapped_into_natural_unit", "footprint_from_point", "placed_in_unit")


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
    #: Points (and rows with no location but a natural unit) are taken and given a derived
    #: footprint (:mod:`geo.load._footprints`); only households.
    from_points: bool = False


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
        from_points=True,
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


#: Other names of each canonical column, as county registers write them: English register
#: spellings, pinyin and Chinese.  Matched after :func:`normalise_name` (case, spaces and
#: punctuation ignored: ``Household ID``, ``household-id`` and ``HOUSEHOLD_ID`` are one
#: name).  :data:`KIND_COLUMN_ALIASES` adds or overrides per kind.  docs/loading.md
#: prints this table.
# fmt: off
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("id", "编码", "代码", "编号", "bianma", "daima", "bianhao"),
    "name": ("名称", "名字", "mingcheng", "mingzi"),
    "parent_code": ("parent", "parent_id", "上级编码", "上级代码", "shangji_bianma"),
    "kind": ("type", "类型", "类别", "leixing"),
    "natural_unit_code": (
        "natural_unit", "natural_unit_id", "unit_code", "unit_id", "unit", "nu_code",
        "group_code", "自然村编码", "自然村代码", "自然村", "村民小组编码", "小组编码", "组编码",
        "zirancun", "zirancun_bianma", "zirancun_code",
    ),
    "village_code": (
        "village", "village_id", "admin_village", "村编码", "村居编码", "行政村编码", "村代码",
        "行政村", "cun_bianma", "cun_code", "xingzhengcun",
    ),
    "township_code": (
        "township", "township_id", "town_code", "town", "乡镇编码", "乡镇代码", "乡镇",
        "xiangzhen", "xiangzhen_code",
    ),
    "residents": (
        "members", "population", "persons", "people", "household_size", "hh_size", "size",
        "人口", "户籍人口", "家庭人口", "人数", "户人口", "家庭人数", "renkou", "hukou_renkou",
    ),
    "residents_at_home": (
        "at_home", "present", "resident_at_home", "members_at_home", "在家人口", "常住人口",
        "在家人数", "常住人数", "zaijia_renkou", "changzhu_renkou",
    ),
    "colour": ("color", "五色", "颜色", "五色管理", "wuse", "yanse"),
    "phone": ("mobile", "tel", "telephone", "电话", "手机", "联系电话", "dianhua", "shouji"),
    "worker_code": ("worker", "worker_id", "grid_worker", "网格员编码", "网格员", "wanggeyuan"),
    "household_code": (
        "household", "household_id", "hh_id", "户编码", "户号", "户编号", "huhao",
    ),
    "visited_at": (
        "visit_time", "visit_date", "visited", "走访时间", "走访日期", "zoufang_shijian",
    ),
    "reported_at": ("report_time", "reported", "上报时间", "报告时间", "shangbao_shijian"),
    "category_code": ("category", "事件类别", "事件类型", "shijian_leibie"),
    "source": ("来源", "laiyuan"),
    "status": ("状态", "zhuangtai"),
    "description": ("desc", "描述", "事件描述", "miaoshu"),
    "note": ("notes", "remark", "remarks", "备注", "beizhu"),
    "satisfaction": ("满意度", "manyidu"),
}


#: Aliases that only apply to one kind (they win over :data:`COLUMN_ALIASES`).  A
#: household's register number is its code; a natural unit's village is its parent.
KIND_COLUMN_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "households": {
        "code": ("household_id", "household_code", "household", "hh_id", "hh_code", "户号",
                 "户编号", "户编码", "户代码", "huhao"),
    },
    "townships": {"parent_code": ("county_code", "county", "县编码", "县代码")},
    "villages": {"parent_code": ("township_code", "township", "town_code", "乡镇编码", "乡镇")},
    "natural_units": {
        "parent_code": ("village_code", "village", "village_id", "村编码", "行政村编码", "村居编码")
    },
    "service_points": {"code": ("site_id", "point_id", "站点编码")},
    "workers": {"code": ("worker_id", "worker_code", "网格员编码"), "name": ("姓名", "xingming")},
    "incidents": {
        "client_key": ("code", "id", "key", "report_id", "event_id", "事件编号", "事件编码"),
        "reported_at": ("time", "report_time", "上报时间", "时间"),
    },
    "visits": {"visited_at": ("time", "date", "时间", "日期")},
}
# fmt: on


#: Columns of some registers that Wangge does not store (personal data it does not need):
#: named in the load summary as ignored, never an error.
IGNORED_COLUMNS = ("户主", "户主姓名", "head", "head_of_household", "huzhu", "身份证号", "id_card")


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


def normalise_name(name: object) -> str:
    """``name`` folded for matching: lower case, without spaces, ``_``, ``-`` or punctuation.

    >>> normalise_name(" Household-ID ")
    'householdid'
    >>> normalise_name("户 号")
    '户号'
    """
    return re.sub(r"[\W_]+", "", str(name).casefold())


def _alias_table(kind: str | None) -> dict[str, str]:
    """Normalised name -> canonical column for ``kind`` (all kinds when None)."""
    if kind is None:
        fields = {name for spec in KINDS.values() for name in spec.fields} | {"parent_code"}
    else:
        fields = set(KINDS[kind].fields) | ({"parent_code"} if KINDS[kind].level else set())
    table: dict[str, str] = {}
    for canonical, names in COLUMN_ALIASES.items():
        if canonical in fields:
            table.update({normalise_name(n): canonical for n in names})
    for canonical, names in KIND_COLUMN_ALIASES.get(kind or "", {}).items():
        table.update({normalise_name(n): canonical for n in names})
    for canonical in fields:  # canonical names and Shapefile's 10-character truncations
        table[normalise_name(canonical)] = canonical
        table.setdefault(normalise_name(canonical[:10]), canonical)
    return table


def column_mapping(
    columns: list, mapping: dict[str, str] | None = None, *, kind: str | None = None
) -> dict[str, str]:
    """Which of ``columns`` becomes which canonical column (``{old: new}``, renames only).

    ``mapping`` (``--map OLD=NEW``) wins; then a column whose normalised name
    (:func:`normalise_name`) is a canonical name of ``kind`` or one of its aliases
    (:data:`COLUMN_ALIASES`, :data:`KIND_COLUMN_ALIASES`) is renamed.  A name is never
    mapped onto a column that already exists, nor onto one an earlier column took.

    Raises
    ------
    DataError
        If ``mapping`` names a column that is not in ``columns``.
    """
    mapping = dict(mapping or {})
    unknown = [old for old in mapping if old not in columns]
    if unknown:
        raise DataError(
            f"--map names column(s) {', '.join(unknown)} that the file lacks; it has "
            f"{', '.join(map(str, columns))}"
        )
    table = _alias_table(kind)
    rename: dict[str, str] = {old: new for old, new in mapping.items() if old != new}
    clash = [new for new in rename.values() if new in columns and new not in rename]
    if clash:
        raise DataError(
            f"--map renames a column to {', '.join(clash)}, which the file already has; "
            f"rename that one away too (--map {clash[0]}=OTHER)"
        )
    taken = set(columns) | set(mapping.values())
    for column in columns:
        if column in mapping:
            continue
        target = table.get(normalise_name(column))
        if target and target != column and target not in taken:
            rename[column] = target
            taken.add(target)
    return rename


def map_columns(
    frame: pd.DataFrame, mapping: dict[str, str] | None = None, *, kind: str | None = None
) -> pd.DataFrame:
    """``frame`` with columns renamed to the canonical names (a copy).

    See :func:`column_mapping`; the geometry column is never renamed.
    """
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    columns = [c for c in frame.columns if c != geometry]
    return frame.rename(columns=column_mapping(columns, mapping, kind=kind))
