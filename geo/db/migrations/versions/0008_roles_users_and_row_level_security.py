"""Roles, users and row-level security (issue #15, docs/security.md).

- ``app_user`` (local accounts: login, argon2 hash, role, township scope, active) and
  ``app_setting`` (settings the database applies itself: ``suppress_below``).
- Grants: ``wangge_app`` may read and write every table but only read and append history
  (no UPDATE, DELETE or TRUNCATE on ``incident_event`` and ``household_colour_event``) and
  only read ``app_setting``; ``wangge_wall`` may read the ``wall_*`` views and nothing else.
  Default privileges give ``wangge_app`` the same on tables later migrations create.
- A TRUNCATE trigger on both history tables (refused for every role, superusers included).
- Row-level security, enabled and forced, on household, household_colour_event, visit,
  incident, incident_event and grid_worker: one policy ``scoped`` each, keyed on the
  transaction's ``wangge.scope`` (:mod:`geo.db.scope`): ``'*'`` every row, an admin unit
  code that unit and what lies under it, anything else (absent, empty) no row.
- The wall's views: aggregates with every count under ``app_setting.suppress_below``
  blanked; owned by the owner, whose policy ``owner_reads`` lets them read every row.

The roles themselves are cluster-wide and created by provisioning (:mod:`geo.db.roles`),
before migrations run.  The downgrade refuses while ``app_user`` holds accounts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from geo.errors import DatabaseError
from geo.settings import get_settings

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("wangge_owner", "wangge_app", "wangge_wall")
HISTORY = ("incident_event", "household_colour_event")

SCOPE_FUNCTIONS = """
-- The transaction's scope: '*' (everything), an admin unit code, or '' (nothing).
CREATE FUNCTION wangge_scope() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('wangge.scope', true), '')
$$;

-- Whether a row filed under admin unit ``code`` is in the scope (codes are hierarchical:
-- a township's code is the prefix of its villages' codes). Fails closed.
CREATE FUNCTION wangge_in_scope(code text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE wangge_scope()
        WHEN '' THEN false
        WHEN '*' THEN true
        ELSE coalesce(starts_with(code, wangge_scope()), false)
    END
$$;
"""

#: table -> the condition a row must meet to be seen or written in the current scope.
POLICIES = {
    "household": "wangge_in_scope(village_code)",
    "household_colour_event": (
        "wangge_scope() = '*' OR EXISTS "
        "(SELECT 1 FROM household h WHERE h.code = household_colour_event.household_code)"
    ),
    "visit": (
        "wangge_scope() = '*' OR EXISTS "
        "(SELECT 1 FROM household h WHERE h.code = visit.household_code)"
    ),
    "incident": "wangge_in_scope(coalesce(village_code, township_code))",
    "incident_event": (
        "wangge_scope() = '*' OR EXISTS "
        "(SELECT 1 FROM incident i WHERE i.id = incident_event.incident_id)"
    ),
    "grid_worker": "wangge_in_scope(township_code)",
}

SUPPRESSION = """
-- The suppression threshold k (WANGGE_SUPPRESS_BELOW, written by `wangge db up`).
CREATE FUNCTION wangge_suppress_below() RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce(
        (SELECT value::integer FROM app_setting WHERE name = 'suppress_below'), 5)
$$;

-- ``n`` when it (and its ``basis``, e.g. the households behind a count of residents) is at
-- least k, else NULL: the database twin of geo.privacy.suppress_small.
CREATE FUNCTION wangge_suppressed(n bigint, basis bigint DEFAULT NULL) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN n >= wangge_suppress_below()
                 AND coalesce(basis, n) >= wangge_suppress_below() THEN n END
$$;
"""

#: The wall's aggregates. The views belong to the owner, and PostgreSQL checks a view's
#: tables (and picks their policies) as the view's owner, for whom the policy ``owner_reads``
#: lets every row be read; so the views are the only way the wall's login reaches personal
#: tables, and they return suppressed counts only.
WALL_VIEWS = {
    "wall_township_counts": """
        WITH hh AS (
            SELECT v.parent_code AS township_code, count(*) AS households,
                   sum(h.residents) AS residents
            FROM household h JOIN admin_unit v ON v.code = h.village_code
            GROUP BY 1
        ), inc AS (
            SELECT township_code,
                   count(*) FILTER (WHERE reported_at >= now() - interval '30 days') AS last_30d,
                   count(*) FILTER (WHERE status NOT IN ('resolved', 'fed_back', 'closed'))
                       AS open
            FROM incident GROUP BY 1
        )
        SELECT t.parent_code AS county_code, t.code AS township_code, t.name,
               wangge_suppressed(hh.households) AS households,
               wangge_suppressed(hh.residents, hh.households) AS residents,
               wangge_suppressed(inc.last_30d) AS incidents_30d,
               wangge_suppressed(inc.open) AS open_incidents
        FROM admin_unit t
        LEFT JOIN hh ON hh.township_code = t.code
        LEFT JOIN inc ON inc.township_code = t.code
        WHERE t.level = 'township'
    """,
    "wall_cell_counts": """
        WITH inc AS (
            SELECT plan_id, cell_code,
                   count(*) FILTER (WHERE reported_at >= now() - interval '30 days') AS last_30d,
                   count(*) FILTER (WHERE status NOT IN ('resolved', 'fed_back', 'closed'))
                       AS open
            FROM incident WHERE cell_code IS NOT NULL GROUP BY 1, 2
        )
        SELECT p.county_code, c.plan_id, c.code AS cell_code, c.village_code,
               wangge_suppressed(c.households) AS households,
               wangge_suppressed(c.residents, c.households) AS residents,
               wangge_suppressed(inc.last_30d) AS incidents_30d,
               wangge_suppressed(inc.open) AS open_incidents
        FROM grid_cell c
        JOIN grid_plan p ON p.id = c.plan_id AND p.status = 'published'
        LEFT JOIN inc ON inc.plan_id = c.plan_id AND inc.cell_code = c.code
    """,
    "wall_platform_counts": """
        WITH inc AS (
            SELECT t.parent_code AS county_code, i.platform_code,
                   count(*) FILTER (WHERE i.status NOT IN ('resolved', 'fed_back', 'closed'))
                       AS open,
                   count(*) FILTER (WHERE i.status NOT IN ('resolved', 'fed_back', 'closed')
                                      AND i.due_at < now()) AS overdue,
                   count(*) FILTER (WHERE i.reported_at >= now() - interval '30 days')
                       AS reported,
                   count(*) FILTER (WHERE i.resolved_at >= now() - interval '30 days')
                       AS resolved
            FROM incident i JOIN admin_unit t ON t.code = i.township_code
            GROUP BY 1, 2
        )
        SELECT c.code AS county_code, p.code AS platform_code, p.name,
               wangge_suppressed(inc.open) AS open_incidents,
               wangge_suppressed(inc.overdue) AS overdue,
               wangge_suppressed(inc.reported) AS reported_30d,
               wangge_suppressed(inc.resolved) AS resolved_30d
        FROM admin_unit c CROSS JOIN platform p
        LEFT JOIN inc ON inc.county_code = c.code AND inc.platform_code = p.code
        WHERE c.level = 'county'
    """,
    "wall_daily_incidents": """
        SELECT t.parent_code AS county_code,
               CAST(i.reported_at AT TIME ZONE 'Asia/Shanghai' AS date) AS day,
               wangge_suppressed(count(*)) AS reported
        FROM incident i JOIN admin_unit t ON t.code = i.township_code
        WHERE i.reported_at >= now() - interval '90 days'
        GROUP BY 1, 2
    """,
}


def _require_roles() -> None:
    found = op.get_bind().execute(
        sa.text("SELECT count(*) FROM pg_roles WHERE rolname = ANY(:r)"), {"r": list(ROLES)}
    )
    if found.scalar_one() != len(ROLES):
        raise DatabaseError(
            f"the roles {', '.join(ROLES)} are missing on this server; create them first: "
            "`wangge db up` with WANGGE_ADMIN_URL pointing at a superuser (docs/security.md)"
        )


def upgrade() -> None:
    """Upgrade schema."""
    _require_roles()
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("township_code", sa.String(length=32), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "role IN ('wall', 'centre', 'township', 'planner', 'analyst', 'admin')",
            name=op.f("ck_app_user_role"),
        ),
        sa.CheckConstraint(
            "login ~ '^[a-z0-9][a-z0-9._-]{1,63}$'", name=op.f("ck_app_user_login_format")
        ),
        sa.CheckConstraint(
            "role <> 'township' OR township_code IS NOT NULL",
            name=op.f("ck_app_user_township_scope"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("login", name=op.f("uq_app_user_login")),
    )
    op.create_table(
        "app_setting",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_app_setting")),
    )
    op.execute(
        sa.text("INSERT INTO app_setting (name, value) VALUES ('suppress_below', :k)").bindparams(
            k=str(get_settings().suppress_below)
        )
    )

    # Grants: the app reads and writes; history is append-only for it; the wall sees views.
    op.execute("""
        DO $$
        DECLARE t regclass;
        BEGIN
            FOR t IN
                SELECT c.oid::regclass FROM pg_class c
                WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
                  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                  WHERE d.objid = c.oid AND d.deptype = 'e')
            LOOP
                EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO wangge_app', t);
            END LOOP;
        END $$
    """)  # fmt: skip
    op.execute("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO wangge_app")
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON incident_event, household_colour_event "
               "FROM wangge_app")  # fmt: skip
    op.execute("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON app_setting FROM wangge_app")
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public "
               "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO wangge_app")  # fmt: skip
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public "
               "GRANT USAGE, SELECT ON SEQUENCES TO wangge_app")  # fmt: skip

    # History: TRUNCATE refused by a trigger as well (row triggers do not see it).
    for table in HISTORY:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_of_history()"
        )

    # Row-level security.
    op.execute(SCOPE_FUNCTIONS)
    for table, condition in POLICIES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY scoped ON {table} USING ({condition})")
        op.execute(f"CREATE POLICY owner_reads ON {table} FOR SELECT TO wangge_owner USING (true)")

    # The wall's views.
    op.execute(SUPPRESSION)
    for view, query in WALL_VIEWS.items():
        op.execute(f"CREATE VIEW {view} AS {query}")
        op.execute(f"GRANT SELECT ON {view} TO wangge_wall, wangge_app")


def downgrade() -> None:
    """Downgrade schema (refused while app_user holds accounts: they would be lost)."""
    users = op.get_bind().execute(sa.text("SELECT count(*) FROM app_user")).scalar_one()
    if users:
        raise DatabaseError(
            f"downgrade below 0008 would delete {users} user account(s) in app_user; refused "
            "(nothing changed): export them, then delete them first if you really mean it"
        )
    for view in WALL_VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.execute("DROP FUNCTION IF EXISTS wangge_suppressed(bigint, bigint)")
    op.execute("DROP FUNCTION IF EXISTS wangge_suppress_below()")
    for table in POLICIES:
        op.execute(f"DROP POLICY IF EXISTS owner_reads ON {table}")
        op.execute(f"DROP POLICY IF EXISTS scoped ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION IF EXISTS wangge_in_scope(text)")
    op.execute("DROP FUNCTION IF EXISTS wangge_scope()")
    for table in HISTORY:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public "
               "REVOKE USAGE, SELECT ON SEQUENCES FROM wangge_app")  # fmt: skip
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public "
               "REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM wangge_app")  # fmt: skip
    op.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM wangge_app, wangge_wall")
    op.execute("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM wangge_app")
    op.drop_table("app_setting")
    op.drop_table("app_user")
