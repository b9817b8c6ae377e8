"""The numpy-built binary COPY payload gives exactly what psycopg's own row writer gives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, text

from geo.db import _copy_binary, io

pytestmark = pytest.mark.db

TYPES = ["integer", "bigint", "smallint", "double precision", "boolean", "text",
         "timestamp with time zone", "jsonb", "bytea"]  # fmt: skip
COLUMNS = [
    [1, -2, 2**31 - 1],
    [2**40, None, -(2**40)],
    [3, 4, -5],
    [1.5, float("-inf"), None],
    [True, False, None],
    ['甲村, "东"\n二队', None, ""],
    [datetime(2026, 11, 23, 8, 30, 0, 123456, tzinfo=UTC), None, datetime(1999, 1, 1, tzinfo=UTC)],
    [{"a": [1, "二"]}, None, {}],
    [b"\x00\x01\xff", None, b""],
]


@pytest.fixture
def two_tables(conn: Connection) -> Connection:
    spec = ", ".join(f"c{i} {t}" for i, t in enumerate(TYPES))
    conn.execute(text(f"CREATE TEMP TABLE by_numpy ({spec})"))
    conn.execute(text(f"CREATE TEMP TABLE by_psycopg ({spec})"))
    return conn


def test_payload_matches_psycopg_row_writer(two_tables: Connection) -> None:
    raw = two_tables.connection.driver_connection
    order, body = _copy_binary.rows(COLUMNS, TYPES)
    names = ", ".join(f"c{i}" for i in order)
    with raw.cursor() as cur, cur.copy(f"COPY by_numpy ({names}) FROM STDIN (FORMAT BINARY)") as cp:
        cp.write(_copy_binary.SIGNATURE + body + _copy_binary.TRAILER)
    with raw.cursor() as cur, cur.copy("COPY by_psycopg FROM STDIN (FORMAT BINARY)") as cp:
        cp.set_types(TYPES)
        for row in zip(*COLUMNS, strict=True):
            cp.write_row(row)
    mine = two_tables.execute(text("SELECT * FROM by_numpy ORDER BY c0")).all()
    theirs = two_tables.execute(text("SELECT * FROM by_psycopg ORDER BY c0")).all()
    assert mine == theirs
    assert len(mine) == 3


def test_fixed_width_columns_go_first_unless_they_hold_nulls() -> None:
    order, _ = _copy_binary.rows(COLUMNS, TYPES)
    assert order[:3] == [0, 2, 1] or order[:2] == [0, 2]
    assert 1 not in order[:2]  # bigint column has a null: written as a variable column


def test_chunked_copy_of_many_rows_keeps_every_row(conn: Connection) -> None:
    conn.execute(text("CREATE TEMP TABLE many (a integer, b text, g bytea)"))
    n = io.COPY_CHUNK_ROWS * 2 + 7
    values = [list(range(n)), [f"行{i}" for i in range(n)], [bytes([i % 256]) for i in range(n)]]
    io._copy_chunked(conn.connection.driver_connection, "many", ["a", "b", "g"], values,
                     ["integer", "text", "bytea"])  # fmt: skip
    count, total, last = conn.execute(text("SELECT count(*), sum(a), max(b) FROM many")).one()
    assert count == n
    assert total == n * (n - 1) // 2
    assert last.startswith("行")


def test_fixed_length_codes_go_in_the_fixed_part_and_survive(two_tables: Connection) -> None:
    codes = [["640323101012", "640323101013", "640323101014"], ["甲", "乙", "丙"]]
    types = ["text", "text"]
    assert _copy_binary.layout(codes, types) == ["S12", ""]  # non-ASCII stays variable
    order, body = _copy_binary.rows(codes, types)
    two_tables.execute(text("CREATE TEMP TABLE codes (a text, b text)"))
    raw = two_tables.connection.driver_connection
    names = ", ".join("ab"[i] for i in order)
    with raw.cursor() as cur, cur.copy(f"COPY codes ({names}) FROM STDIN (FORMAT BINARY)") as cp:
        cp.write(_copy_binary.SIGNATURE + body + _copy_binary.TRAILER)
    got = two_tables.execute(text("SELECT a, b FROM codes ORDER BY a")).all()
    assert got == list(zip(*codes, strict=True))


def test_chunks_share_one_layout_when_lengths_differ_between_chunks(conn: Connection) -> None:
    conn.execute(text("CREATE TEMP TABLE varied (code text, n integer)"))
    n = io.COPY_CHUNK_ROWS + 10
    codes = ["A" * 5] * io.COPY_CHUNK_ROWS + ["B" * 7] * 10  # fixed per chunk, not overall
    io._copy_chunked(conn.connection.driver_connection, "varied", ["code", "n"],
                     [codes, list(range(n))], ["text", "integer"])  # fmt: skip
    rows = dict(conn.execute(text("SELECT code, count(*) FROM varied GROUP BY 1")).all())
    assert rows == {"AAAAA": io.COPY_CHUNK_ROWS, "BBBBBBB": 10}
