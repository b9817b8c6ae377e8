"""PostgreSQL binary COPY payloads built with numpy instead of a Python loop per row.

psycopg's ``Copy.write_row`` costs a few microseconds a row in Python; for county-scale
frames (10^5-10^6 rows) that dominates a load.  Here the payload of the binary COPY format
(https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format") is assembled per
column: fixed-width columns without nulls become one numpy record array, variable-width
columns (text, EWKB geometries, or anything with nulls) become length-prefixed byte strings,
and one ``bytes.join`` stitches the rows.  No library does this for GeoDataFrames, which is
why it is written here; it is tested against psycopg's own row writer.

Supported column types: integer, bigint, smallint, double precision, real, boolean,
timestamp with time zone (UTC microseconds), text/varchar, bytea/geometry (EWKB), jsonb
(JSON text).  :func:`supported` says whether a set of types can go this way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import chain

import numpy as np
import pandas as pd

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
_FIXED = {"integer": ">i4", "bigint": ">i8", "smallint": ">i2", "double precision": ">f8",
          "real": ">f4", "boolean": "?"}  # fmt: skip
_VARIABLE = {"text", "bytea", "jsonb", "timestamp with time zone"}
_NULL = (-1).to_bytes(4, "big", signed=True)
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z in Unix microseconds


def supported(types: Sequence[str]) -> bool:
    """True when every type in ``types`` can be written by :func:`payload`."""
    return all(t in _FIXED or t in _VARIABLE for t in types)


def _as_bytes(values: Sequence, pg_type: str) -> list[bytes | None]:
    if pg_type == "text":
        if None not in values and all(type(v) is str for v in values):
            return list(map(str.encode, values))
        return [None if v is None else str(v).encode("utf-8") for v in values]
    if pg_type == "jsonb":
        return [None if v is None else b"\x01" + json.dumps(v).encode() for v in values]
    if pg_type == "timestamp with time zone":
        stamps = pd.to_datetime(pd.Series(values, dtype=object), utc=True)
        missing = stamps.isna().to_numpy()
        naive = stamps.dt.tz_localize(None).to_numpy().astype("datetime64[us]")
        micros = (naive.astype(np.int64) - _PG_EPOCH_US).astype(">i8").view("V8").tolist()
        return [None if gone else m for gone, m in zip(missing, micros, strict=True)]
    if pg_type in _FIXED:
        return [None if v is None else np.array(v, dtype=_FIXED[pg_type]).tobytes() for v in values]
    return [None if v is None else bytes(v) for v in values]  # bytea / geometry EWKB


def _length_prefixed(items: list[bytes | None]) -> list[bytes]:
    if None not in items:  # the common case, kept to C-level map() calls
        lengths = np.fromiter(map(len, items), np.int64, len(items))
        prefixes = lengths.astype(">i4").view("V4").tolist()
        return list(map(bytes.__add__, prefixes, items))
    lengths = np.fromiter((-1 if b is None else len(b) for b in items), np.int64, len(items))
    prefixes = lengths.astype(">i4").view("V4").tolist()
    return [p if b is None else p + b for p, b in zip(prefixes, items, strict=True)]


def fits(columns: Sequence[Sequence], types: Sequence[str]) -> bool:
    """True when every integer value fits its column's type (else let the server say so)."""
    for col, t in zip(columns, types, strict=True):
        if t in ("integer", "bigint", "smallint"):
            info = np.iinfo(_FIXED[t])
            values = [v for v in col if v is not None]
            if values and (min(values) < info.min or max(values) > info.max):
                return False
    return True


def layout(columns: Sequence[Sequence], types: Sequence[str]) -> list[str]:
    """Per column, its numpy dtype in the fixed-width part of each row, or ``""``.

    Fixed width: null-free numeric/boolean columns, and null-free text columns of ASCII
    strings all of one length (codes such as ``640323101012``); everything else is written
    as a length-prefixed variable field. Decide it once per frame and pass it to every
    :func:`rows` call, so that all chunks share one column order.
    """
    out = []
    for col, t in zip(columns, types, strict=True):
        if any(v is None for v in col):
            out.append("")
        elif t in _FIXED:
            out.append(_FIXED[t])
        elif t == "text" and all(type(v) is str and v.isascii() for v in col):
            lengths = set(map(len, col))
            out.append(f"S{lengths.pop()}" if len(lengths) == 1 and 0 not in lengths else "")
        else:
            out.append("")
    return out


def rows(
    columns: Sequence[Sequence], types: Sequence[str], dtypes: Sequence[str] | None = None
) -> tuple[list[int], bytes]:
    """The rows of a binary COPY stream for ``columns`` (lists of values, None = NULL).

    ``dtypes`` is :func:`layout` (computed here when not given). Returns the order in which
    the columns were written (positions into ``columns``: fixed-width ones first) -- name
    them in that order in ``COPY t (...)`` -- and the rows, to be sent between
    :data:`SIGNATURE` and :data:`TRAILER`.
    """
    dtypes = layout(columns, types) if dtypes is None else list(dtypes)
    n_rows = len(columns[0]) if columns else 0
    fixed = [i for i, d in enumerate(dtypes) if d]
    fields = [("n", ">i2")]
    for i in fixed:
        fields += [(f"l{i}", ">i4"), (f"v{i}", dtypes[i])]
    head = np.zeros(n_rows, dtype=fields)
    head["n"] = len(columns)
    for i in fixed:
        head[f"l{i}"] = np.dtype(dtypes[i]).itemsize
        head[f"v{i}"] = np.asarray(columns[i], dtype=dtypes[i])
    heads = head.view(f"V{head.dtype.itemsize}").tolist()
    variable = [
        _length_prefixed(_as_bytes(col, t))
        for i, (col, t) in enumerate(zip(columns, types, strict=True))
        if i not in fixed
    ]
    body = b"".join(chain.from_iterable(zip(heads, *variable, strict=True)))
    order = fixed + [i for i in range(len(columns)) if i not in fixed]
    return order, body
