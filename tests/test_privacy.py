"""geo.privacy: the one small-count suppression rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo import privacy
from geo.errors import ConfigError, DataError


def test_suppress_small_blanks_counts_below_k() -> None:
    frame = pd.DataFrame({"code": ["a", "b"], "households": [3, 12], "residents": [9, 30]})
    out = privacy.suppress_small(frame, k=5)
    assert out["suppressed"].tolist() == [True, False]
    assert np.isnan(out.loc[0, "residents"])
    assert out.loc[1, "residents"] == 30
    assert frame.loc[0, "residents"] == 9  # the caller's frame is untouched


def test_area_columns_are_kept_and_unknown_columns_refused() -> None:
    frame = pd.DataFrame({"households": [2, 9], "area_km2": [1.5, 2.0], "incidents": [1, 4]})
    out = privacy.suppress_small(frame, k=5)
    assert out["area_km2"].tolist() == [1.5, 2.0]
    assert np.isnan(out.loc[0, "incidents"])
    with pytest.raises(DataError, match="'nope'"):
        privacy.suppress_small(frame, k=5, columns=["nope"])
    with pytest.raises(ConfigError, match="non-negative"):
        privacy.suppress_small(frame, k=-1)
