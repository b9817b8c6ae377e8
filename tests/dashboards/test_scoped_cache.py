"""The dashboards' query cache is keyed by the row-level-security scope: two users of
different townships never get each other's cached rows (``dashboards._shared.scoped_cache``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import streamlit as st
from sqlalchemy.engine import make_url

from dashboards import _centre_data, _shared
from geo import auth
from geo.db.provision import scratch_database
from geo.db.scope import current, scope
from tests._fixtures.county import tiny_county

T1, T2 = "999999101", "999999102"  # the tiny county's townships: 4 and 2 households


def township_user(code: str) -> auth.User:
    return auth.User(f"t-{code}", "township", code, True, datetime.now(UTC))


def test_results_are_kept_per_scope_and_shared_within_one() -> None:
    calls: list[str] = []

    @_shared.scoped_cache(60)
    def who_asks(n: int) -> str:
        code = current().code if current() else "none"
        calls.append(code)
        return f"{code}:{n}"

    with scope(T1):
        assert who_asks(1) == f"{T1}:1"
    with scope(T2):
        assert who_asks(1) == f"{T2}:1"
    with scope(T1):
        assert who_asks(1) == f"{T1}:1"  # from the cache
        assert who_asks(2) == f"{T1}:2"
    assert calls == [T1, T2, T1]
    who_asks.clear()
    with scope(T1):
        who_asks(1)
    assert calls == [T1, T2, T1, T1]


def test_each_decorated_function_has_its_own_cache() -> None:
    @_shared.scoped_cache(60)
    def first() -> str:
        return "first"

    @_shared.scoped_cache(60)
    def second() -> str:
        return "second"

    with scope(T1):
        assert (first(), second()) == ("first", "second")


@pytest.fixture(scope="module")
def app_url(server_url: str) -> Iterator[str]:
    """The tiny county, read through the application's login (RLS applies to it)."""
    with scratch_database(server_url, "scoped_cache", county=tiny_county()) as url:
        yield (
            make_url(url)
            .set(username="wangge_app", password=None)
            .render_as_string(hide_password=False)
        )


@pytest.mark.db
def test_two_townships_get_their_own_figures_from_the_same_page_function(
    app_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", app_url)
    monkeypatch.delenv("WANGGE_SCOPE", raising=False)
    st.cache_data.clear()
    seen = {}
    for code in (T1, T2, T1):
        with auth.as_user(township_user(code)):
            units = _centre_data.units("township", "999999")
            seen[code] = units.set_index("code")["households"].to_dict()
    assert seen[T1] == {T1: 4, T2: 0}
    assert seen[T2] == {T1: 0, T2: 2}
    with scope(""):  # no user: no household at all
        assert _centre_data.units("township", "999999")["households"].sum() == 0
