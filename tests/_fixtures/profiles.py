"""A small county profile drawn by hypothesis around the figures a strategy chose."""

from __future__ import annotations

from hypothesis import strategies as st

from geo.profiles import Profile


def drawn_profile(
    draw: st.DrawFn,
    *,
    townships: int,
    subdistricts: int,
    villages: int,
    natural_units: int,
    households: int,
    cells: int | None,
) -> Profile:
    """Profile ``drawn`` (county 999009, cells of 30–50) with the given figures; its area,
    residents (½–4 per household) and seat share (0 without sub-districts) drawn."""
    return Profile(
        name="drawn",
        name_zh="抽县",
        county_code="999009",
        centre_lonlat=(110.0, 35.0),
        area_km2=draw(st.floats(20, 200)),
        townships=townships,
        subdistricts=subdistricts,
        villages=villages,
        natural_units=natural_units,
        households=households,
        residents=draw(st.integers(households // 2, 4 * households)),
        cell_min=30,
        cell_max=50,
        seat_share=draw(st.floats(0.05, 0.5)) if subdistricts else 0.0,
        cells=cells,
    )
