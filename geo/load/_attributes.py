"""Attribute checks of a county file's rows: codes, integers, times, allowed values,
required fields, duplicate keys and references to codes in the database.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from geo import settings
from geo.db.models import INCIDENT_SOURCES, INCIDENT_STATES
from geo.frames import FIVE_COLOURS, UNIT_KINDS
from geo.load._checked import Collector, References
from geo.load._kinds import COLOUR_ALIASES, UNIT_KIND_ALIASES, KindSpec


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
        return series.dt.tz_localize(settings.LOCAL_TZ)
    values = []
    for value in series.astype(object):
        try:
            stamp = pd.Timestamp(value) if value is not None and str(value).strip() else pd.NaT
        except (ValueError, TypeError):
            stamp = pd.NaT
        if stamp is not pd.NaT and stamp.tzinfo is None:
            stamp = stamp.tz_localize(settings.LOCAL_TZ)
        values.append(stamp if stamp is pd.NaT else stamp.tz_convert("UTC"))
    return pd.Series(pd.to_datetime(values, utc=True), index=series.index)


def check_attributes(df: pd.DataFrame, spec: KindSpec, out: Collector) -> dict[str, pd.Series]:
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


def check_required(cols: dict[str, pd.Series], names, out: Collector, *, skip=None) -> None:
    """Fault empty required fields, except in rows already faulted on that field (or ``skip``)."""
    for name in names:
        if name in cols:
            missing = cols[name].isna().to_numpy() & ~out.bad_rows(len(cols[name]), name)
            if skip is not None:
                missing &= ~skip
            out.fault(np.flatnonzero(missing), name, "missing_value", f"{name} is empty")


def check_duplicates(cols: dict[str, pd.Series], spec: KindSpec, out: Collector) -> None:
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


def check_parents(cols, spec: KindSpec, refs: References | None, out: Collector) -> None:
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
