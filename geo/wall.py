"""The command-centre wall's figures, computed from aggregates: pure functions, no database.

The wall (``/wall``) shows one county over **one period** (:class:`Period`, the last
:data:`PERIOD_DAYS` days): the published grid coloured by Gi* hot and cold spots of incidents
per household (:func:`unit_hotspots`), the platforms' board and where open cases wait on the
escalation chain.  Everything that leaves this module for the wall has been through the one
small-count rule, :func:`geo.privacy.suppress_small` (:func:`suppress_counts`).

The inputs are the aggregates of :mod:`geo.db.queries`: the wall page reads them through its
own login (``wall_period_units``, ``wall_period_platforms``, ``wall_period_chain`` ...: counts
already blanked by the database, docs/security.md), a notebook through the raw ones
(``wall_unit_counts``, ``platform_board``, ``chain_stages`` ...) and :func:`suppress_counts`,
or from a file.  A unit whose households arrive blanked (NULL, read as 0) is under the
threshold, so :func:`unit_hotspots` leaves it out of Gi*.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse

from geo import hotspots, privacy
from geo.errors import ConfigError, DataError
from geo.settings import LOCAL_TZ

__all__ = ["PERIOD_DAYS", "Period", "period_ending", "suppress_counts", "unit_hotspots"]

#: Length of the wall's one period, in days (four whole weeks).
PERIOD_DAYS = 28


@dataclass(frozen=True)
class Period:
    """A half-open interval ``[start, end)`` of timezone-aware instants."""

    start: datetime
    end: datetime

    def label(self, *, tz: str = LOCAL_TZ) -> str:
        """``"last 28 days · 12 Mar – 8 Apr 2025"`` in local time (the last day included)."""
        zone = ZoneInfo(tz)
        first = self.start.astimezone(zone)
        last = (self.end - timedelta(microseconds=1)).astimezone(zone)
        days = round((self.end - self.start).total_seconds() / 86400)
        left = f"{first.day} {first:%b}" + (f" {first:%Y}" if first.year != last.year else "")
        return f"last {days} days · {left} – {last.day} {last:%b %Y}"


def period_ending(
    now: datetime | None = None, *, days: int = PERIOD_DAYS, step_s: int = 60
) -> Period:
    """The ``days`` days up to ``now`` floored to a multiple of ``step_s`` seconds.

    Flooring makes every query of one refresh period use the same bounds (so cached
    results agree with each other), and makes the period move in steps, not continuously.

    Raises
    ------
    ConfigError
        ``days`` or ``step_s`` is not a positive integer, or ``now`` is naive.
    """
    if not isinstance(days, int) or days < 1:
        raise ConfigError(f"days must be a positive integer, got {days!r}")
    if not isinstance(step_s, int) or step_s < 1:
        raise ConfigError(f"step_s must be a positive integer, got {step_s!r}")
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ConfigError("now must be timezone-aware")
    seconds = int(now.timestamp()) // step_s * step_s
    end = datetime.fromtimestamp(seconds, UTC)
    return Period(end - timedelta(days=days), end)


def suppress_counts(frame: pd.DataFrame, columns: list[str], *, k: int | None) -> pd.DataFrame:
    """A copy of ``frame`` with each count of ``columns`` under ``k`` blanked (NaN), one by one.

    Unlike a per-unit suppression (a row blanked when its households are few), every count
    is judged on its own: a platform with 120 cases of which 3 overdue shows 120 and a blank.
    The rule is :func:`geo.privacy.suppress_small`'s, applied to each column.
    """
    out = frame.copy()
    for column in columns:
        out[column] = privacy.suppress_small(frame[[column]], k=k, count=column, columns=[])[column]
    return out


def unit_hotspots(
    units: pd.DataFrame | gpd.GeoDataFrame,
    weights: sparse.spmatrix | str = "queen",
    *,
    k: int | None,
    fdr: bool = True,
) -> pd.DataFrame:
    """Gi* hot and cold spots of incidents per household on the wall's units.

    Parameters
    ----------
    units
        One row per unit (cell or village) with ``code``, ``households`` and ``incidents``
        (counts over one period); a GeoDataFrame when ``weights`` is a contiguity name.
    weights
        Binary contiguity weights aligned with ``units`` (e.g. built once per plan with
        :func:`geo.hotspots.build_weights`), or ``"queen"`` / ``"rook"``.
    k
        The suppression threshold (``WANGGE_SUPPRESS_BELOW``): units with fewer households
        are blanked (:func:`geo.privacy.suppress_small`) and left out of the analysis.
    fdr
        Benjamini–Hochberg correction of the p-values (the wall's classes use it).

    Returns
    -------
    DataFrame
        ``code``, ``gi_bin`` (nullable Int8: -3..3 = cold/hot at 99/95/90 % as in
        :class:`geo.hotspots.GiStar`, 0 not significant, ``<NA>`` when suppressed) and
        ``suppressed``, aligned with ``units``.  No counts: the wall shows classes only.

    Raises
    ------
    DataError
        ``units`` lacks one of the columns.
    """
    missing = [c for c in ("code", "households", "incidents") if c not in units.columns]
    if missing:
        raise DataError(f"units lack the column(s) {', '.join(missing)}")
    kept = privacy.suppress_small(
        pd.DataFrame(units[["households", "incidents"]]).reset_index(drop=True),
        k=k,
        count="households",
        columns=["incidents"],
    )
    bins = np.zeros(len(kept), dtype=np.int8)
    valid = kept["households"].gt(0) & kept["incidents"].notna()
    if valid.sum() >= 2 and np.ptp(kept.loc[valid, "incidents"].to_numpy()) > 0:
        if isinstance(weights, str):
            if not isinstance(units, gpd.GeoDataFrame):
                raise DataError("contiguity weights by name need units as a GeoDataFrame")
            weights = hotspots.build_weights(units.reset_index(drop=True), weights=weights)
        # ``from_geodataframe`` reads the columns only: ready weights need no geometry.
        frame = kept
        est = hotspots.GiStar.from_geodataframe(
            frame, "incidents", denominator="households", weights=weights, fdr=fdr
        )
        bins = est.bin_
    out = pd.DataFrame(
        {
            "code": units["code"].to_numpy(),
            "gi_bin": pd.array(bins, dtype="Int8"),
            "suppressed": kept["suppressed"].to_numpy(),
        }
    )
    out.loc[out["suppressed"], "gi_bin"] = pd.NA
    return out
