"""The wall's reads, browser sessions and the login rate limit (issue #15, docs/security.md).

- **The wall reads through ``wangge_wall`` only**, and only what this migration grants it:
  three views that take no period (``wall_counties``: counties with their households and
  residents; ``wall_map_units``: the map's units, the published plan's cells or else the
  villages, geometry only; ``wall_township_shapes``: township outlines) and five functions
  of a period (``wall_period_units``, ``wall_period_headline``, ``wall_period_platforms``,
  ``wall_weekly_platforms``, ``wall_period_chain``).  Periods are parameters because the
  wall's period ends on its refresh step (``geo.wall.period_ending``), which a view cannot
  know.  The functions are ``SECURITY DEFINER`` (they run as the owner, whose policy
  ``owner_reads`` lets them aggregate every row), ``SET search_path``, ``STABLE``, and
  return aggregates only: every count of households, residents or incidents is blanked
  (NULL) under ``app_setting.suppress_below`` inside the function -- except the incidents
  per map unit, which Gi* needs whole (a count of incidents in an area is not a
  household's data; the households per unit, its denominator, are blanked, and a unit
  whose households are blanked is left out of Gi*, as before; the period must last at least
  7 days, so that a whole count cannot single one report out).  EXECUTE is revoked from
  PUBLIC and granted to ``wangge_wall`` (and ``wangge_app``, for notebooks and tests).
- ``app_session``: a browser's login that survives a reload: the SHA-256 of a random token
  (the token itself lives only in the browser's cookie), the account, created, expires,
  revoked.
- ``login_failure``: failed log-ins per login name (known or not), for the rate limit of
  ``geo.auth`` (5 failures in 15 minutes lock the name for 15 minutes).

Sessions and failures are short-lived: the downgrade drops them (users log in again).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Incident states in which the work is done (geo.db.models.INCIDENT_DONE_STATES, frozen
#: here as a migration must be; a test checks they agree).
DONE_STATES = """
CREATE FUNCTION wangge_done_states() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY['resolved', 'fed_back', 'closed'] $$;
"""

#: Views without a period. Owned by the owner: they read the tables as the owner.
WALL_VIEWS = {
    "wall_counties": """
        SELECT c.code AS county_code, c.name,
               wangge_suppressed(hh.households) AS households,
               wangge_suppressed(hh.residents, hh.households) AS residents
        FROM admin_unit c
        LEFT JOIN LATERAL (
            SELECT count(*) AS households, coalesce(sum(h.residents), 0) AS residents
            FROM household h WHERE h.code LIKE c.code || '%'
        ) hh ON true
        WHERE c.level = 'county'
    """,
    "wall_map_units": """
        SELECT p.county_code, c.code, c.code AS name, 'cell' AS unit, c.plan_id, c.geom
        FROM grid_cell c JOIN grid_plan p ON p.id = c.plan_id AND p.status = 'published'
        UNION ALL
        SELECT t.parent_code AS county_code, v.code, v.name, 'village' AS unit,
               CAST(NULL AS integer) AS plan_id, v.geom
        FROM admin_unit v JOIN admin_unit t ON t.code = v.parent_code
        WHERE v.level = 'village' AND NOT EXISTS (
            SELECT 1 FROM grid_plan p
            WHERE p.status = 'published' AND p.county_code = t.parent_code)
    """,
    "wall_township_shapes": """
        SELECT t.parent_code AS county_code, t.code, t.name, t.geom
        FROM admin_unit t WHERE t.level = 'township'
    """,
}

_DEFINER = "STABLE SECURITY DEFINER SET search_path = public, pg_temp"

#: Functions of a period ``[p_start, p_end)``: name -> (arguments, returns, language, body).
WALL_FUNCTIONS = {
    "wall_period_units": (
        "p_county text, p_start timestamptz, p_end timestamptz",
        "TABLE (code text, households bigint, residents bigint, incidents bigint)",
        "plpgsql",
        """
        #variable_conflict use_column
        DECLARE plan integer;
        BEGIN
            -- Whole counts per unit: not for a short window that would single a report out.
            IF p_end - p_start < interval '7 days' THEN
                RAISE EXCEPTION 'wall_period_units: the period must last at least 7 days'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            SELECT id INTO plan FROM grid_plan
            WHERE county_code = p_county AND status = 'published';
            IF plan IS NOT NULL THEN
                RETURN QUERY
                WITH inc AS (
                    SELECT hit.code, count(*) AS incidents
                    FROM incident i
                    CROSS JOIN LATERAL (
                        SELECT g.code FROM grid_cell g
                        WHERE g.plan_id = plan AND ST_Intersects(g.geom, i.geom)
                        ORDER BY g.code LIMIT 1
                    ) hit
                    WHERE i.township_code LIKE p_county || '%'
                      AND i.reported_at >= p_start AND i.reported_at < p_end
                    GROUP BY 1
                )
                SELECT CAST(u.code AS text),
                       wangge_suppressed(u.households),
                       wangge_suppressed(u.residents, u.households),
                       coalesce(inc.incidents, 0)
                FROM grid_cell u LEFT JOIN inc ON inc.code = u.code
                WHERE u.plan_id = plan ORDER BY u.code;
            ELSE
                RETURN QUERY
                WITH hh AS (
                    SELECT village_code, count(*) AS households, sum(residents) AS residents
                    FROM household WHERE code LIKE p_county || '%' GROUP BY 1
                ), inc AS (
                    SELECT hit.code, count(*) AS incidents
                    FROM incident i
                    CROSS JOIN LATERAL (
                        SELECT g.code FROM admin_unit g
                        WHERE g.level = 'village' AND g.code LIKE p_county || '%'
                          AND ST_Intersects(g.geom, i.geom)
                        ORDER BY g.code LIMIT 1
                    ) hit
                    WHERE i.township_code LIKE p_county || '%'
                      AND i.reported_at >= p_start AND i.reported_at < p_end
                    GROUP BY 1
                )
                SELECT CAST(u.code AS text),
                       wangge_suppressed(coalesce(hh.households, 0)),
                       wangge_suppressed(coalesce(hh.residents, 0), coalesce(hh.households, 0)),
                       coalesce(inc.incidents, 0)
                FROM admin_unit u
                LEFT JOIN hh ON hh.village_code = u.code
                LEFT JOIN inc ON inc.code = u.code
                WHERE u.level = 'village' AND u.code LIKE p_county || '%' ORDER BY u.code;
            END IF;
        END
        """,
    ),
    "wall_period_headline": (
        "p_county text, p_start timestamptz, p_end timestamptz",
        "TABLE (reported bigint, open bigint, overdue bigint, resolved bigint)",
        "sql",
        """
        SELECT wangge_suppressed(count(*)),
               wangge_suppressed(count(*) FILTER (WHERE status <> ALL(wangge_done_states()))),
               wangge_suppressed(count(*) FILTER (WHERE status <> ALL(wangge_done_states())
                                                  AND due_at < now())),
               wangge_suppressed(count(*) FILTER (WHERE status = ANY(wangge_done_states())))
        FROM incident
        WHERE township_code LIKE p_county || '%'
          AND reported_at >= p_start AND reported_at < p_end
        """,
    ),
    "wall_period_platforms": (
        "p_county text, p_start timestamptz, p_end timestamptz",
        "TABLE (platform_code text, platform text, reported bigint, open bigint, "
        "overdue bigint, resolved bigint, resolved_share double precision)",
        "sql",
        """
        WITH inc AS (
            SELECT platform_code, count(*) AS reported,
                   count(*) FILTER (WHERE status <> ALL(wangge_done_states())) AS open,
                   count(*) FILTER (WHERE status <> ALL(wangge_done_states())
                                    AND due_at < now()) AS overdue,
                   count(*) FILTER (WHERE status = ANY(wangge_done_states())) AS done
            FROM incident
            WHERE reported_at >= p_start AND reported_at < p_end
              AND township_code LIKE p_county || '%'
            GROUP BY 1
        )
        SELECT CAST(p.code AS text), CAST(p.name AS text),
               wangge_suppressed(coalesce(inc.reported, 0)),
               wangge_suppressed(coalesce(inc.open, 0)),
               wangge_suppressed(coalesce(inc.overdue, 0)),
               wangge_suppressed(coalesce(inc.done, 0)),
               CASE WHEN wangge_suppressed(inc.reported) IS NOT NULL
                    THEN CAST(inc.done AS float) / nullif(inc.reported, 0) END
        FROM platform p LEFT JOIN inc ON inc.platform_code = p.code ORDER BY p.code
        """,
    ),
    "wall_weekly_platforms": (
        "p_county text, p_end timestamptz, p_weeks integer",
        "TABLE (platform_code text, week integer, reported bigint)",
        "sql",
        """
        WITH w AS (SELECT generate_series(0, least(p_weeks, 104) - 1) AS week),
        inc AS (
            SELECT platform_code,
                   p_weeks - 1 - floor(extract(epoch FROM p_end - reported_at)
                                       / (7 * 86400))::int AS week,
                   count(*) AS reported
            FROM incident
            WHERE township_code LIKE p_county || '%' AND reported_at < p_end
              AND reported_at >= p_end - make_interval(days => 7 * least(p_weeks, 104))
            GROUP BY 1, 2
        )
        SELECT CAST(p.code AS text), w.week, wangge_suppressed(coalesce(inc.reported, 0))
        FROM platform p CROSS JOIN w
        LEFT JOIN inc ON inc.platform_code = p.code AND inc.week = w.week
        ORDER BY p.code, w.week
        """,
    ),
    "wall_period_chain": (
        "p_county text, p_start timestamptz, p_end timestamptz",
        "TABLE (stage text, cases bigint, overdue bigint)",
        "sql",
        """
        WITH s(status, stage) AS (
            VALUES ('reported', 'worker'), ('accepted', 'township'), ('returned', 'township'),
                   ('reopened', 'township'), ('escalated', 'township'),
                   ('dispatched', 'department'), ('in_progress', 'department'),
                   ('resolved', 'feedback')
        ),
        n(stage, k) AS (
            VALUES ('worker', 0), ('township', 1), ('department', 2), ('feedback', 3)
        ),
        inc AS (
            SELECT s.stage, count(*) AS cases,
                   count(*) FILTER (WHERE i.status <> ALL(wangge_done_states())
                                    AND i.due_at < now()) AS overdue
            FROM incident i JOIN s ON s.status = i.status
            WHERE i.township_code LIKE p_county || '%'
              AND i.reported_at >= p_start AND i.reported_at < p_end
            GROUP BY 1
        )
        SELECT n.stage, wangge_suppressed(coalesce(inc.cases, 0)),
               wangge_suppressed(coalesce(inc.overdue, 0))
        FROM n LEFT JOIN inc ON inc.stage = n.stage ORDER BY n.k
        """,
    ),
}


def _signature(name: str) -> str:
    args = WALL_FUNCTIONS[name][0]
    return f"{name}({', '.join(a.split()[1] for a in args.split(', '))})"


def upgrade() -> None:
    """Upgrade schema."""
    op.execute(DONE_STATES)
    for view, query in WALL_VIEWS.items():
        op.execute(f"CREATE VIEW {view} AS {query}")
        op.execute(f"GRANT SELECT ON {view} TO wangge_wall, wangge_app")
    for name, (args, returns, language, body) in WALL_FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION {name}({args}) RETURNS {returns} LANGUAGE {language} {_DEFINER} "
            f"AS $body$ {body} $body$"
        )
        op.execute(f"REVOKE EXECUTE ON FUNCTION {_signature(name)} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {_signature(name)} TO wangge_wall, wangge_app")

    op.create_table(
        "app_session",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("token_hash ~ '^[0-9a-f]{64}$'", name=op.f("ck_app_session_hash")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_app_session_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_app_session_token_hash")),
    )  # fmt: skip
    op.create_index("ix_app_session_user_id", "app_session", ["user_id"])
    op.create_table(
        "login_failure",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("login", sa.Text(), nullable=False),
        sa.Column(
            "failed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("length(login) <= 64", name=op.f("ck_login_failure_login_length")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failure")),
    )  # fmt: skip
    op.create_index("ix_login_failure_login_failed_at", "login_failure", ["login", "failed_at"])
    for table in ("app_session", "login_failure"):
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO wangge_app")
    op.execute("GRANT USAGE, SELECT ON SEQUENCE app_session_id_seq, login_failure_id_seq "
               "TO wangge_app")  # fmt: skip


def downgrade() -> None:
    """Downgrade schema (sessions and failed log-ins are dropped: users log in again)."""
    op.drop_table("login_failure")
    op.drop_table("app_session")
    for name in WALL_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {_signature(name)}")
    for view in WALL_VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.execute("DROP FUNCTION IF EXISTS wangge_done_states()")
