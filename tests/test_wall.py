"""The wall's figures (geo.wall): one period, counts blanked one by one, Gi* classes by unit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geo import hotspots, wall
from geo.errors import ConfigError, DataError


def lattice(n: int = 6) -> gpd.GeoDataFrame:
    """n x n square cells of 40 households; a hot corner of 2 x 2 cells."""
    cells = [box(i, j, i + 1, j + 1) for j in range(n) for i in range(n)]
    incidents = np.ones(n * n)
    incidents[[0, 1, n, n + 1]] = 30
    return gpd.GeoDataFrame(
        {"code": [f"c{k:02d}" for k in range(n * n)], "households": 40, "incidents": incidents},
        geometry=cells,
        crs="EPSG:3857",
    )


def test_period_ends_on_a_step_and_states_its_days() -> None:
    now = datetime(2026, 11, 30, 12, 34, 56, tzinfo=UTC)
    period = wall.period_ending(now, days=28, step_s=60)
    assert period.end == datetime(2026, 11, 30, 12, 34, tzinfo=UTC)
    assert period.end - period.start == timedelta(days=28)
    assert period.label() == "last 28 days · 2 Nov – 30 Nov 2026"
    with pytest.raises(ConfigError, match="timezone"):
        wall.period_ending(datetime(2026, 11, 30))
    with pytest.raises(ConfigError, match="days"):
        wall.period_ending(now, days=0)


def test_counts_are_blanked_one_by_one() -> None:
    board = pd.DataFrame({"platform": ["a", "b"], "reported": [120, 3], "overdue": [3, 0]})
    out = wall.suppress_counts(board, ["reported", "overdue"], k=5)
    assert out["reported"].tolist()[0] == 120
    assert out["reported"].isna().tolist() == [False, True]
    assert out["overdue"].isna().all()
    assert board["reported"].tolist() == [120, 3]  # the input is not modified


def test_unit_hotspots_equal_gi_star_on_the_rate() -> None:
    cells = lattice()
    w = hotspots.build_weights(cells)
    hot = wall.unit_hotspots(cells, w, k=5)
    reference = hotspots.gi_star(cells, "incidents", denominator="households", weights=w)
    assert hot["gi_bin"].astype(int).tolist() == reference["gi_bin"].tolist()
    assert hot.loc[0, "gi_bin"] == 3
    assert set(hot.columns) == {"code", "gi_bin", "suppressed"}  # classes only, no counts
    assert hot.equals(wall.unit_hotspots(cells, "queen", k=5))


def test_units_under_the_threshold_are_suppressed_and_left_out() -> None:
    cells = lattice()
    cells.loc[5, "households"] = 3
    hot = wall.unit_hotspots(cells, hotspots.build_weights(cells), k=5)
    assert pd.isna(hot.loc[5, "gi_bin"])
    assert hot.loc[5, "suppressed"]
    assert hot["gi_bin"].notna().sum() == len(cells) - 1


def test_no_incidents_means_nothing_significant() -> None:
    cells = lattice().assign(incidents=0)
    hot = wall.unit_hotspots(cells, "queen", k=5)
    assert (hot["gi_bin"] == 0).all()
    with pytest.raises(DataError, match="incidents"):
        wall.unit_hotspots(cells.drop(columns="incidents"), "queen", k=5)
