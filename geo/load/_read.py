"""Reading county files of any format into one frame, or one clear error naming the file.

Everything goes through pyogrio/GDAL (GeoPackage, GeoJSON, Shapefile, FlatGeobuf) or
pandas (CSV with lon/lat or WKT columns) and geopandas (GeoParquet); nothing here parses a
format by hand.  Two things GDAL cannot decide alone are decided here:

- the text encoding of a Shapefile's ``.dbf`` without a ``.cpg`` sidecar or a code-page
  byte: counties' files are often GBK/GB18030, which GDAL would read as Latin-1 and turn
  Chinese names into mojibake.  The ``.dbf`` bytes are tried as UTF-8 first, then GB18030
  (a superset of GBK and GB2312);
- the CRS of a file that declares none: plausible degrees are taken as EPSG:4326 (with a
  note), anything else is refused with a message saying how to declare the CRS.

The result is in the file's own CRS; :mod:`geo.load._validate` converts it.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from geo.errors import CRSError, DataError

#: File suffixes read, and how.
FORMATS = {
    ".gpkg": "GeoPackage",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "Shapefile",
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
    ".fgb": "FlatGeobuf",
    ".csv": "CSV",
}
#: Column names taken as longitude / latitude / WKT geometry in CSV files (lower-cased).
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape")
#: A China extent in degrees, used to recognise swapped latitude/longitude.
CHINA_LON = (73.0, 136.0)
CHINA_LAT = (3.0, 54.0)


@dataclass
class ReadResult:
    """A file read into a frame in its own CRS, with what was decided on the way."""

    frame: gpd.GeoDataFrame | pd.DataFrame
    file: str
    format: str
    source_crs: str | None
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)


#: Key of ``frame.attrs`` holding ``{0-based row: message}`` for geometries the reader could
#: not parse (the check faults those rows ``invalid_geometry`` instead of taking them as
#: missing).
UNREADABLE = "wangge_unreadable_geometry"


def _clip(value: object, width: int = 40) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _fail(path: Path, fault: str) -> DataError:
    return DataError(f"{path.name}: {fault}")


def _sniff_text(data: bytes) -> str:
    """``"UTF-8"`` if ``data`` decodes as UTF-8, else ``"GB18030"`` if it decodes as that."""
    try:
        data.decode("utf-8")
        return "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        data.decode("gb18030")
        return "GB18030"
    except UnicodeDecodeError:
        return "ISO-8859-1"


def dbf_encoding(shp: Path) -> str | None:
    """The encoding to read ``shp``'s ``.dbf`` with, or None to let GDAL decide.

    GDAL decides when a ``.cpg`` sidecar or the ``.dbf`` code-page byte (offset 29) says it;
    otherwise the record bytes are sniffed (UTF-8, then GB18030).
    """
    if shp.with_suffix(".cpg").exists() or shp.with_suffix(".CPG").exists():
        return None
    dbf = shp.with_suffix(".dbf")
    data = dbf.read_bytes()
    if len(data) > 29 and data[29] != 0:
        return None
    header = int.from_bytes(data[8:10], "little") if len(data) >= 10 else 0
    records = data[header:]
    if all(b < 128 for b in records[:65536]):
        return None
    return _sniff_text(records)


def _check_shapefile(path: Path) -> None:
    missing = [
        s
        for s in (".shp", ".shx", ".dbf")
        if not path.with_suffix(s).exists() and not path.with_suffix(s.upper()).exists()
    ]
    if missing:
        raise _fail(
            path,
            f"Shapefile is missing its {', '.join(missing)} file(s); copy every sidecar "
            "(.shp, .shx, .dbf, .prj, .cpg) next to each other",
        )


def _read_csv(path: Path, *, lon: str | None, lat: str | None, wkt: str | None) -> ReadResult:
    raw = path.read_bytes()
    if b"\x00" in raw[:65536]:
        raise _fail(path, "a binary file, not CSV text (NUL bytes); is it the right file?")
    sniffed = _sniff_text(raw)
    if sniffed not in ("UTF-8", "GB18030"):
        raise _fail(path, "not UTF-8 or GB18030 text; save it as UTF-8 CSV")
    encoding = "utf-8-sig" if sniffed == "UTF-8" else "gb18030"
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_values=[""], encoding=encoding
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise _fail(path, f"not a readable CSV file ({str(exc).splitlines()[0]})") from None
    lower = {c.strip().lower(): c for c in frame.columns}
    lon_col = lon or next((lower[n] for n in LON_NAMES if n in lower), None)
    lat_col = lat or next((lower[n] for n in LAT_NAMES if n in lower), None)
    wkt_col = wkt or next((lower[n] for n in WKT_NAMES if n in lower), None)
    if lon_col and lat_col:
        x = pd.to_numeric(frame[lon_col], errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(frame[lat_col], errors="coerce").to_numpy(dtype=float)
        geoms = shapely.points(x, y)
        missing = frame[lon_col].isna() & frame[lat_col].isna()
        geoms[missing.to_numpy()] = None
        attrs = frame.drop(columns=[lon_col, lat_col])
    elif wkt_col:
        text = frame[wkt_col].astype(object).where(frame[wkt_col].notna(), None)
        geoms = shapely.from_wkt(text.to_numpy(dtype=object), on_invalid="ignore")
        given = text.map(lambda v: v is not None and bool(str(v).strip())).to_numpy()
        unreadable = np.flatnonzero(given & shapely.is_missing(geoms))
        attrs = frame.drop(columns=[wkt_col])
        out = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(geoms, index=frame.index))
        out.attrs[UNREADABLE] = {
            int(r): f"{wkt_col} {_clip(text.iloc[r])!r} is not readable WKT" for r in unreadable
        }
        return ReadResult(out, path.name, "CSV", None, encoding)
    else:
        return ReadResult(frame, path.name, "CSV", None, encoding)
    out = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(geoms, index=frame.index))
    return ReadResult(out, path.name, "CSV", None, encoding)


def _read_gdal(path: Path, fmt: str, *, layer: str | None, encoding: str | None) -> ReadResult:
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    notes = []
    if fmt == "Shapefile":
        _check_shapefile(path)
        if encoding is None:
            encoding = dbf_encoding(path)
            if encoding:
                notes.append(f"no .cpg file: the .dbf text was read as {encoding}")
    if fmt == "GeoJSON":
        try:
            json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            raise _fail(path, f"not valid JSON ({exc}); is the file truncated?") from None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                frame = pyogrio.read_dataframe(path, layer=layer, encoding=encoding, use_arrow=True)
            except shapely.errors.GEOSException:  # a geometry GEOS refuses (unclosed ring ...)
                frame = _read_leniently(path, layer=layer, encoding=encoding)
        for w in caught[:3]:  # GDAL's warnings become notes, not lines on stderr
            text = str(w.message).replace(str(path), path.name).splitlines()[0]
            notes.append(f"warning from GDAL: {text}")
    except (DataSourceError, DataLayerError, pyogrio.errors.FieldError) as exc:
        message = str(exc).replace(str(path), path.name).splitlines()[0]
        raise _fail(path, f"GDAL cannot read it as {fmt}: {message}") from None
    except (ValueError, TypeError, OSError, RuntimeError) as exc:  # what GDAL/Arrow raise
        message = (str(exc).replace(str(path), path.name).splitlines() or [repr(exc)])[0]
        raise _fail(path, f"cannot read it as {fmt}: {message}") from None
    crs = frame.crs.to_string() if isinstance(frame, gpd.GeoDataFrame) and frame.crs else None
    return ReadResult(frame, path.name, fmt, crs, encoding, notes)


def _read_leniently(path: Path, *, layer: str | None, encoding: str | None) -> gpd.GeoDataFrame:
    """Read ``path`` with every geometry GEOS cannot build set to None and recorded in
    ``frame.attrs[UNREADABLE]`` (the check faults those rows ``invalid_geometry``)."""
    import pyogrio

    meta, table = pyogrio.read_arrow(path, layer=layer, encoding=encoding)
    name = meta.get("geometry_name") or "wkb_geometry"
    wkb = np.asarray(table.column(name).to_pylist(), dtype=object)
    attrs = table.drop_columns([name]).to_pandas()
    geoms = shapely.from_wkb(wkb, on_invalid="ignore")
    given = np.array([w is not None for w in wkb], dtype=bool)
    bad = np.flatnonzero(given & shapely.is_missing(geoms))
    frame = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(geoms), crs=meta.get("crs"))
    frame.attrs[UNREADABLE] = {
        int(r): "the geometry is not one GEOS can build (e.g. a ring that is not closed or "
        "has fewer than 4 points)"
        for r in bad
    }
    return frame


def read_any(
    path: str | Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    crs: str | int | None = None,
    lon: str | None = None,
    lat: str | None = None,
    wkt: str | None = None,
    swap_xy: bool = False,
) -> ReadResult:
    """Read ``path`` (format from its suffix) into a frame in its declared CRS.

    Parameters
    ----------
    path
        A ``.gpkg``, ``.geojson``/``.json``, ``.shp``, ``.parquet``, ``.fgb`` or ``.csv`` file.
    layer
        Layer of a multi-layer file (default: the first).
    encoding
        Text encoding of a Shapefile ``.dbf`` (default: ``.cpg``, else sniffed).
    crs
        The CRS to take the coordinates in when the file declares none (``"EPSG:4490"``),
        or to override a wrong declaration.
    lon, lat, wkt
        CSV column names of the coordinates (default: common names, see
        :data:`LON_NAMES`, :data:`LAT_NAMES`, :data:`WKT_NAMES`).
    swap_xy
        Swap x and y of every coordinate (files written latitude first).

    Raises
    ------
    DataError
        If the file is missing, empty, truncated, of an unknown format or lacks a sidecar;
        the message names the file and the fault in one line.
    CRSError
        If the file has no CRS, none was given and its coordinates are not degrees.
    """
    path = Path(path)
    if not path.exists():
        raise _fail(path, "file not found")
    if path.is_dir():
        raise _fail(path, "is a directory, not a file")
    suffix = path.suffix.lower()
    if suffix in (".dbf", ".shx", ".prj", ".cpg"):
        path, suffix = path.with_suffix(".shp"), ".shp"
        _check_shapefile(path)
    if suffix not in FORMATS:
        raise _fail(
            path,
            f"unknown format {suffix or '(no suffix)'!r}; expected one of "
            f"{', '.join(sorted(FORMATS))}",
        )
    if path.stat().st_size == 0:
        raise _fail(path, "the file is empty (0 bytes)")
    fmt = FORMATS[suffix]
    if fmt == "CSV":
        result = _read_csv(path, lon=lon, lat=lat, wkt=wkt)
    elif fmt == "GeoParquet":
        try:
            frame = gpd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for broken files
            message = (str(exc).replace(str(path), path.name).splitlines() or [repr(exc)])[0]
            raise _fail(path, f"cannot read it as GeoParquet: {message}") from None
        crs_text = frame.crs.to_string() if frame.crs else None
        result = ReadResult(frame, path.name, fmt, crs_text)
    else:
        result = _read_gdal(path, fmt, layer=layer, encoding=encoding)
    frame = result.frame
    if not isinstance(frame, gpd.GeoDataFrame):
        return result
    unreadable = frame.attrs.get(UNREADABLE, {})
    frame = frame.reset_index(drop=True)
    if swap_xy:
        frame = frame.set_geometry(
            shapely.transform(frame.geometry.values, lambda xy: xy[:, ::-1]), crs=frame.crs
        )
        result.notes.append("x and y swapped on request (--swap-xy)")
    if crs is not None:
        try:
            declared = CRS.from_user_input(crs)
        except ProjCRSError as exc:
            raise CRSError(f"{path.name}: {crs!r} is not a CRS pyproj knows ({exc})") from None
        if frame.crs is not None and frame.crs != declared:
            result.notes.append(f"declared CRS {frame.crs.to_string()} overridden by {crs}")
        frame = frame.set_crs(declared, allow_override=True)
    elif frame.crs is None:
        frame = frame.set_crs(_guess_degrees(frame, path, result.notes))
    frame.attrs[UNREADABLE] = unreadable
    result.frame = frame
    result.source_crs = frame.crs.to_string()
    return result


def _guess_degrees(frame: gpd.GeoDataFrame, path: Path, notes: list[str]) -> CRS:
    """EPSG:4326 for a CRS-less file whose coordinates are degrees; else :class:`CRSError`."""
    xy = shapely.get_coordinates(frame.geometry.values)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy) == 0:
        return CRS.from_epsg(4326)
    degrees = (np.abs(xy[:, 0]) <= 180) & (np.abs(xy[:, 1]) <= 90)
    swapped = (
        (xy[:, 1] >= CHINA_LON[0])
        & (xy[:, 1] <= CHINA_LON[1])
        & (xy[:, 0] >= CHINA_LAT[0])
        & (xy[:, 0] <= CHINA_LAT[1])
    )
    if (degrees | swapped).mean() >= 0.5:
        notes.append("the file declares no CRS; its coordinates are degrees, taken as EPSG:4326")
        return CRS.from_epsg(4326)
    x0, y0 = xy[0]
    raise CRSError(
        f"{path.name}: the file declares no CRS and its coordinates are not longitude/latitude "
        f"degrees (first point x={x0:.1f}, y={y0:.1f}); declare the CRS with --crs, e.g. "
        "--crs EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E), --crs EPSG:32648 "
        "(UTM 48N) or --crs EPSG:3857, or add a .prj file"
    )
