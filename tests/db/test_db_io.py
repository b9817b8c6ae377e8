"""Frame <-> PostGIS I/O: COPY writes, reads with CRS, round trips, upserts."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import Connection, text

from geo.db import io
from geo.errors import CRSError, DataError
from tests._fixtures.county import tiny_county

pytestmark = pytest.mark.db


def _max_vertex_shift(a: gpd.GeoSeries, b: gpd.GeoSeries) -> float:
    ca = shapely.get_coordinates(a.values)
    cb = shapely.get_coordinates(b.values)
    assert ca.shape == cb.shape
    return float(np.abs(ca - cb).max())


def test_county_round_trip_preserves_geometry_crs_and_attributes(conn: Connection) -> None:
    county = tiny_county()
    written = io.write_county(conn, county)
    assert written == {"admin_unit": 8, "household": 6}
    back = io.read_county(conn, "999999")
    assert back.households.crs.to_epsg() == 4326
    assert back.counts() == county.counts()
    want = county.households.sort_values("code").reset_index(drop=True)
    got = back.households.sort_values("code").reset_index(drop=True)
    cols = ["code", "natural_unit_code", "village_code", "residents", "residents_at_home", "colour"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(got[cols]), pd.DataFrame(want[cols]), check_dtype=False
    )
    assert _max_vertex_shift(got.geometry, want.geometry) < 1e-7
    villages = back.villages.set_index("code")
    assert villages.loc["999999102001", "name"] == "乙社区"
    assert villages.loc["999999102001", "kind"] == "community"
    assert (back.villages.geom_type == "MultiPolygon").all()


def test_stored_point_lies_on_its_household(conn: Connection) -> None:
    io.write_county(conn, tiny_county())
    outside = conn.execute(
        text("SELECT count(*) FROM household WHERE NOT ST_Intersects(point, geom)")
    ).scalar_one()
    assert outside == 0


def test_copy_converts_other_crs_to_4326(conn: Connection) -> None:
    county = tiny_county()
    county.households = county.households.to_crs(3857)
    io.write_county(conn, county)
    back = io.read_households(conn)
    want = tiny_county().households.sort_values("code").reset_index(drop=True)
    assert _max_vertex_shift(back.geometry, want.geometry) < 1e-7


def test_frame_without_crs_refused(conn: Connection) -> None:
    county = tiny_county()
    with pytest.raises(CRSError, match="no CRS"):
        io.copy_frame(conn, county.households.set_crs(None, allow_override=True), "household")


def test_unknown_write_mode_refused(conn: Connection) -> None:
    with pytest.raises(DataError, match="'append' or 'upsert'"):
        io.copy_frame(conn, tiny_county().households, "household", mode="replace")  # type: ignore[arg-type]


def test_upsert_twice_is_idempotent_and_updates(conn: Connection) -> None:
    county = tiny_county()
    io.write_county(conn, county, mode="upsert")
    changed = county.households.copy()
    changed["residents"] = changed["residents"] + 10
    county.households = changed
    io.write_county(conn, county, mode="upsert")
    total = conn.execute(text("SELECT count(*), sum(residents) FROM household")).one()
    assert total[0] == 6
    assert total[1] == int(changed["residents"].sum())


def test_append_of_duplicate_code_fails_the_transaction(conn: Connection) -> None:
    io.write_county(conn, tiny_county())
    savepoint = conn.begin_nested()
    with pytest.raises(Exception, match="pk_household"):
        io.copy_frame(conn, tiny_county().households, "household")
    savepoint.rollback()
    assert conn.execute(text("SELECT count(*) FROM household")).scalar_one() == 6


def test_strings_with_commas_quotes_and_newlines_survive(conn: Connection) -> None:
    county = tiny_county()
    villages = county.villages.copy()
    villages.loc[0, "name"] = '甲村, "东"\n二队'
    county.villages = villages
    io.write_county(conn, county)
    names = io.read_admin(conn, "village")["name"].tolist()
    assert '甲村, "东"\n二队' in names


def test_counts_by_level(conn: Connection) -> None:
    io.write_county(conn, tiny_county())
    row = io.counts_by_level(conn).iloc[0]
    assert (row.townships, row.villages, row.natural_units, row.households) == (2, 2, 3, 6)
    assert row.residents == 2 * (3 + 4 + 5)


def test_unknown_table_refused_naming_it_and_listing_tables(conn: Connection) -> None:
    with pytest.raises(DataError, match=r"no table 'housholds'.*tables: .*household") as err:
        io.copy_frame(conn, tiny_county().households, "housholds")
    assert "admin_unit" in str(err.value)


def test_table_name_is_never_spliced_into_sql(conn: Connection) -> None:
    io.write_county(conn, tiny_county())
    with pytest.raises(DataError, match="no table"):
        io.copy_frame(conn, tiny_county().households, "household; DROP TABLE household")
    with pytest.raises(DataError, match="no table"):
        io.copy_frame(conn, tiny_county().households, "HOUSEHOLD")
    assert conn.execute(text("SELECT count(*) FROM household")).scalar_one() == 6


@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_unknown_column_refused_listing_the_columns(conn: Connection, mode: str) -> None:
    households = tiny_county().households.rename(columns={"colour": "colur"})
    with pytest.raises(DataError, match=r"household has no column\(s\) 'colur'.*residents_at_home"):
        io.copy_frame(conn, households, "household", mode=mode)  # type: ignore[arg-type]


def test_upsert_key_must_be_a_frame_column(conn: Connection) -> None:
    with pytest.raises(DataError, match="upsert key id is not among the columns code"):
        io.copy_frame(conn, tiny_county().households, "household", mode="upsert", key=("id",))


def test_copy_into_a_temporary_table(conn: Connection) -> None:
    conn.execute(text("CREATE TEMP TABLE hh_tmp (LIKE household INCLUDING DEFAULTS)"))
    conn.execute(text("ALTER TABLE hh_tmp DROP COLUMN point"))
    assert io.copy_frame(conn, tiny_county().households, "hh_tmp") == 6
    assert list(io.table_columns(conn, "hh_tmp"))[:2] == ["code", "natural_unit_code"]


def test_merge_statement_quotes_every_identifier() -> None:
    update = io.merge_statement("s", 'odd"table', ["code", "na me"], key=["code"])
    assert update.as_string(None) == (
        'INSERT INTO "odd""table" ("code", "na me") SELECT "code", "na me" FROM "s" '
        'ON CONFLICT ("code") DO UPDATE SET "na me" = EXCLUDED."na me"'
    )
    keep = io.merge_statement("s", "visit", ["a", "b"], key=["a", "b"], existing="keep")
    assert keep.as_string(None) == (
        'INSERT INTO "visit" ("a", "b") SELECT "a", "b" FROM "s" s WHERE NOT EXISTS '
        '(SELECT 1 FROM "visit" t WHERE t."a" = s."a" AND t."b" = s."b")'
    )
