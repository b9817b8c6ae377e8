"""A corpus of malformed county files for the CLI's promise: one line, never a traceback.

:func:`load_corpus` writes files a county data team might really hand over, broken in the
ways files break (truncated or malformed JSON, malformed rings, odd encodings, binary
bytes, huge and non-finite numbers, empty files), each with the kind it is loaded as;
:func:`incident_corpus` does the same for ``wangge incidents load``.  Deterministic (a
fixed seed) so a failure can be reproduced by name.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from tests._fixtures.load_files import NU1, NU2, lonlat

#: A household that loads: a small square in natural unit NU1 (EPSG:4326).
_X, _Y = lonlat(200, 200)
_D = 1e-4
_RING = [[_X, _Y], [_X + _D, _Y], [_X + _D, _Y + _D], [_X, _Y + _D], [_X, _Y]]


def _feature(geometry: object, **props: object) -> dict:
    base = {"code": "h1", "natural_unit_code": NU1, "residents": 3}
    return {"type": "Feature", "properties": {**base, **props}, "geometry": geometry}


def _collection(*features: dict) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


#: One small valid GeoJSON document; truncated at every position in :func:`load_corpus`.
SMALL = _collection(_feature({"type": "Polygon", "coordinates": [_RING]}))


def _geometries() -> dict[str, object]:
    """Malformed or extreme geometries, by name (each one feature of its own file)."""
    x, y, d = _X, _Y, _D
    return {
        "ring_two_points": {"type": "Polygon", "coordinates": [[[x, y], [x + d, y]]]},
        "ring_unclosed": {"type": "Polygon", "coordinates": [_RING[:-1]]},
        "ring_empty": {"type": "Polygon", "coordinates": [[]]},
        "ring_no_rings": {"type": "Polygon", "coordinates": []},
        "ring_depth_wrong": {"type": "Polygon", "coordinates": _RING},
        "ring_depth_deep": {"type": "Polygon", "coordinates": [[_RING]]},
        "ring_strings": {"type": "Polygon", "coordinates": [[[str(x), str(y)] for x, y in _RING]]},
        "ring_bowtie": {
            "type": "Polygon",
            "coordinates": [[[x, y], [x + d, y + d], [x + d, y], [x, y + d], [x, y]]],
        },
        "ring_spike": {
            "type": "Polygon",
            "coordinates": [[[x, y], [x + d, y], [x + 2 * d, y], [x + d, y], [x, y]]],
        },
        "ring_huge": {
            "type": "Polygon",
            "coordinates": [[[1e308, 1e308], [-1e308, 1e308], [0, -1e308], [1e308, 1e308]]],
        },
        "ring_3d": {"type": "Polygon", "coordinates": [[[*p, 1e300] for p in _RING]]},
        "point_huge": {"type": "Point", "coordinates": [1e308, -1e308]},
        "point_one_coord": {"type": "Point", "coordinates": [x]},
        "point_no_coords": {"type": "Point", "coordinates": []},
        "point_ok": {"type": "Point", "coordinates": [x, y]},
        "multipoint_two": {"type": "MultiPoint", "coordinates": [[x, y], [x + d, y]]},
        "line": {"type": "LineString", "coordinates": [[x, y], [x + d, y + d]]},
        "collection": {
            "type": "GeometryCollection",
            "geometries": [{"type": "Point", "coordinates": [x, y]}],
        },
        "unknown_type": {"type": "Circle", "coordinates": [x, y], "radius": 10},
        "no_type": {"coordinates": [x, y]},
        "geometry_number": 42,
        "geometry_string": "POINT (1 2)",
    }


def _raw_json_files() -> dict[str, bytes]:
    """JSON texts that ``json.dumps`` would never write (NaN, Infinity, 1e999 ...)."""
    ring = "[[106.1, 37.7], [106.2, 37.7], [106.2, NaN], [106.1, 37.7]]"
    props = f'"code": "h1", "natural_unit_code": "{NU1}", "residents": 3'
    feature = '{{"type": "Feature", "properties": {{{p}}}, "geometry": {g}}}'

    def doc(geometry: str, properties: str = props) -> bytes:
        return (
            '{"type": "FeatureCollection", "features": ['
            + feature.format(p=properties, g=geometry)
            + "]}"
        ).encode()

    return {
        "nan_in_ring.geojson": doc('{"type": "Polygon", "coordinates": [' + ring + "]}"),
        "infinity_point.geojson": doc('{"type": "Point", "coordinates": [Infinity, -Infinity]}'),
        "overflow_point.geojson": doc('{"type": "Point", "coordinates": [1e999, 37.7]}'),
        "residents_nan.geojson": doc(
            '{"type": "Point", "coordinates": [106.1, 37.7]}',
            f'"code": "h1", "natural_unit_code": "{NU1}", "residents": NaN',
        ),
        "residents_huge.geojson": doc(
            '{"type": "Point", "coordinates": [106.1, 37.7]}',
            f'"code": "h1", "natural_unit_code": "{NU1}", "residents": 1e308',
        ),
        "residents_bigint.geojson": doc(
            '{"type": "Point", "coordinates": [106.1, 37.7]}',
            f'"code": "h1", "natural_unit_code": "{NU1}", "residents": {10**40}',
        ),
        "features_not_list.geojson": b'{"type": "FeatureCollection", "features": 7}',
        "top_level_list.geojson": b"[1, 2, 3]",
        "top_level_string.geojson": b'"hello"',
        "no_features.geojson": b'{"type": "FeatureCollection", "features": []}',
        "properties_null.geojson": doc(
            '{"type": "Point", "coordinates": [106.1, 37.7]}', ""
        ).replace(b'"properties": {}', b'"properties": null'),
        "whitespace_only.geojson": b"   \n\t  ",
        "bom_utf8.geojson": b"\xef\xbb\xbf" + SMALL.encode(),
        "utf16.geojson": SMALL.encode("utf-16"),
        "latin1_names.geojson": _collection(_feature(None, name="Café")).encode("latin-1"),
        "gb18030_names.geojson": _collection(_feature(None, 户主="张三")).encode("gb18030"),
    }


def _csv_files() -> dict[str, bytes]:
    head = "code,natural_unit_code,residents,lon,lat\n"
    lon, lat = lonlat(300, 300)
    ok = f"h1,{NU1},3,{lon},{lat}\n"
    return {
        "empty.csv": b"",
        "header_only.csv": head.encode(),
        "newlines_only.csv": b"\n\n\n",
        "binary.csv": random.Random(1).randbytes(2048),
        "nul_bytes.csv": (head + ok).encode().replace(b",", b"\x00"),
        "huge_numbers.csv": (
            head + ok + f"h2,{NU1},1e308,1e308,1e308\nh3,{NU1},{10**30},{lon},-1e999\n"
        ).encode(),
        "non_finite.csv": (
            head + f"h1,{NU1},3,nan,{lat}\nh2,{NU1},3,inf,-inf\nh3,{NU1},NaN,{lon},{lat}\n"
        ).encode(),
        "ragged.csv": (head + ok + f"h2,{NU1}\nh3,{NU1},1,2,3,4,5,6\n").encode(),
        "unclosed_quote.csv": (head + f'"h1,{NU1},3,{lon},{lat}\n').encode(),
        "gb18030.csv": (
            f"户号,自然村编码,人口,经度,纬度,户主\nh1,{NU1},3,{lon},{lat},张三\n"
        ).encode("gb18030"),
        "latin1.csv": (head.replace("code", "codé") + ok).encode("latin-1"),
        "utf16.csv": (head + ok).encode("utf-16"),
        "bad_wkt.csv": f"code,natural_unit_code,residents,wkt\nh1,{NU1},3,POLYGON ((0 0, 1\n"
        f"h2,{NU2},2,POINT (nan nan)\nh3,{NU2},1,POINT EMPTY\n".encode(),
        "codes_only.csv": f"户号,自然村编码,人口\nh1,{NU1},3\nh2,,2\nh3,nowhere,1\n".encode(),
        "words_for_numbers.csv": (head + f"h1,{NU1},three,east,north\n").encode(),
    }


def _binary_files() -> dict[str, bytes]:
    rng = random.Random(7)
    noise = rng.randbytes(4096)
    return (
        {
            f"binary{suffix}": noise
            for suffix in (".geojson", ".json", ".gpkg", ".parquet", ".fgb", ".shp")
        }
        | {f"empty{suffix}": b"" for suffix in (".geojson", ".gpkg", ".parquet", ".fgb", ".shp")}
        | {
            "sqlite_not_gpkg.gpkg": b"SQLite format 3\x00" + noise,
            "parquet_magic_only.parquet": b"PAR1" + noise[:64] + b"PAR1",
            "unknown.xyz": b"hello",
            "no_suffix": b"hello",
        }
    )


def load_corpus(root: Path, *, truncations: int | None = None) -> list[tuple[str, Path, str]]:
    """Write the load corpus under ``root``: ``(name, path, kind)`` triples.

    ``truncations`` limits the truncated copies of :data:`SMALL` (default: one per position).
    """
    root.mkdir(parents=True, exist_ok=True)
    files: list[tuple[str, Path, str]] = []

    def add(name: str, data: bytes, kind: str = "households") -> None:
        path = root / name
        path.write_bytes(data)
        files.append((name, path, kind))

    positions = (
        range(len(SMALL))
        if truncations is None
        else range(0, len(SMALL), max(1, len(SMALL) // truncations))
    )
    for i in positions:
        add(f"truncated_{i:04d}.geojson", SMALL[:i].encode())
    for i, char in enumerate(SMALL):  # one stray byte at every structural position
        if char in '{}[]:,"':
            add(f"corrupt_{i:04d}.geojson", (SMALL[:i] + "#" + SMALL[i + 1 :]).encode())
    for name, geometry in _geometries().items():
        add(f"geom_{name}.geojson", _collection(_feature(geometry)).encode())
        add(
            f"geom_{name}_sp.geojson",
            _collection(_feature(geometry, kind="clinic", name="x")).encode(),
            "service_points",
        )
    for name, data in {**_raw_json_files(), **_csv_files(), **_binary_files()}.items():
        add(name, data)
    add("wrong_kind_villages.geojson", SMALL.encode(), "villages")
    add("wrong_kind_incidents.geojson", SMALL.encode(), "incidents")
    add("wrong_kind_visits.geojson", SMALL.encode(), "visits")
    add("unknown_kind.geojson", SMALL.encode(), "spaceships")
    add("markup_kind.geojson", SMALL.encode(), "[/bold]")
    shp = root / "lonely.shp"
    shp.write_bytes(b"\x00\x00\x27\x0a" + bytes(96))
    files.append(("lonely.shp", shp, "households"))
    files.append(("missing.geojson", root / "does_not_exist.geojson", "households"))
    files.append(("a_directory.geojson", _directory(root / "dir.geojson"), "households"))
    return files


def _directory(path: Path) -> Path:
    path.mkdir(exist_ok=True)
    return path


def incident_corpus(root: Path) -> list[tuple[str, Path, int | None]]:
    """Incident files: ``(name, path, line)`` where ``line`` is the line a fatal message must
    name (None when the file is not fatal or names no line)."""
    root.mkdir(parents=True, exist_ok=True)
    lon, lat = lonlat(300, 300)
    row = {
        "client_key": "k1",
        "category_code": "fire",
        "source": "whistle",
        "reported_at": "2026-03-02T08:00:00+08:00",
        "lon": lon,
        "lat": lat,
    }
    good = json.dumps(row)
    array = json.dumps([row, {**row, "client_key": "k2"}], indent=1)
    out: list[tuple[str, Path, int | None]] = []

    def add(name: str, data: bytes, line: int | None = None) -> None:
        (root / name).write_bytes(data)
        out.append((name, root / name, line))

    add("bad_line_4.jsonl", f"{good}\n\n{good}\n{{not json\n{good}\n".encode(), 4)
    add("not_object_line_2.jsonl", f"{good}\n[1, 2]\n".encode(), 2)
    for i in range(0, len(array), 7):
        add(f"truncated_{i:04d}.json", array[:i].encode())
    add("extra_after.json", (array + "\n{}").encode())
    add("empty.csv", b"")
    add("empty.json", b"")
    add("binary.csv", random.Random(3).randbytes(1024))
    add("nul.json", b"\x00" * 16)
    add(
        "ragged_line_3.csv",
        (
            "client_key,category_code,source,reported_at,lon,lat\n"
            f"k1,fire,whistle,2026-03-02T08:00+08:00,{lon},{lat}\n"
            "k2,fire,whistle\n"
        ).encode(),
        3,
    )
    add(
        "mixed_offsets.csv",
        (
            "client_key,category_code,source,reported_at,lon,lat\n"
            f"m1,fire,whistle,2026-03-02T08:00+08:00,{lon},{lat}\n"
            f"m2,fire,whistle,2026-03-02T00:30:00Z,{lon},{lat}\n"
            f"m3,fire,whistle,2026-03-02 09:00,{lon},{lat}\n"
        ).encode(),
    )
    add(
        "bad_values.csv",
        (
            "client_key,category_code,source,reported_at,lon,lat\n"
            f"b1,fire,whistle,not a time,{lon},{lat}\n"
            f"b2,fire,whistle,9999-12-31T00:00Z,{lon},{lat}\n"
            f" ,fire,whistle,2026-03-02T08:00+08:00,{lon},{lat}\n"
            "b4,fire,whistle,2026-03-02T08:00+08:00,1000,-95\n"
            f"b5,fire,whistle,2026-03-02T08:00+08:00,inf,{lat}\n"
            f"b6,fire,whistle,0001-01-01,{lon},{lat}\n"
        ).encode(),
    )
    add(
        "huge.json",
        json.dumps([{**row, "lon": 1e308, "lat": -1e308, "reported_at": 1e308}]).encode(),
    )
    add("no_columns.csv", b"a,b\n1,2\n")
    add("wrong_suffix.txt", good.encode())
    return out
