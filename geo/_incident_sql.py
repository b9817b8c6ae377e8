"""SQL of :mod:`geo.incidents`: intake with placement, kept in one place.

Placement is a spatial join against the cells of the *published* plans at the moment of
intake. A point on a boundary shared by two cells intersects both; ``ORDER BY code LIMIT 1``
picks the lowest cell code, so the choice is deterministic and one incident lands in exactly
one cell. A point outside every published cell still gets its village (and township) from
the admin hierarchy, with the same lowest-code rule; its cell stays NULL.
"""

from __future__ import annotations

#: Placement of the rows of relation ``s`` (columns ``g`` = point): cell, village, township.
#: ``{plan_filter}`` restricts the cells (published plans, or one given plan).
PLACEMENT = """
    LEFT JOIN LATERAL (
        SELECT c.plan_id, c.code AS cell_code, c.village_code
        FROM grid_cell c JOIN grid_plan p ON p.id = c.plan_id
        WHERE {plan_filter} AND ST_Intersects(c.geom, s.g)
        ORDER BY c.code, c.plan_id LIMIT 1
    ) cell ON true
    LEFT JOIN LATERAL (
        SELECT a.code FROM admin_unit a
        WHERE cell.cell_code IS NULL AND a.level = 'village' AND ST_Intersects(a.geom, s.g)
        ORDER BY a.code LIMIT 1
    ) vil ON true
    LEFT JOIN admin_unit v ON v.code = coalesce(cell.village_code, vil.code)
"""

PUBLISHED = "p.status = 'published'"

#: Intake of the rows of ``{source}`` (client_key, category_code, source, reported_at,
#: household_code, description, actor, role, geom) with one statement: insert new client
#: keys, skip known ones, write the ``reported`` event of each new incident.
INTAKE = """
WITH src AS (
    SELECT r.*, coalesce(r.geom, h.point) AS g
    FROM {source} r LEFT JOIN household h ON h.code = r.household_code
), ins AS (
    INSERT INTO incident (client_key, category_code, source, status, tier, reported_at,
                          due_at, platform_code, plan_id, cell_code, village_code,
                          township_code, household_code, description, geom)
    SELECT s.client_key, s.category_code, s.source, 'reported', 0, s.reported_at,
           s.reported_at + k.due_hours * CAST(:factor AS double precision) * interval '1 hour',
           k.platform_code, cell.plan_id, cell.cell_code, v.code, v.parent_code,
           s.household_code, s.description, s.g
    FROM src s JOIN incident_category k ON k.code = s.category_code
    {placement}
    ORDER BY s.client_key
    ON CONFLICT (client_key) DO NOTHING
    RETURNING id, client_key, reported_at
), ev AS (
    INSERT INTO incident_event (incident_id, at, from_status, to_status, actor, role, note)
    SELECT ins.id, ins.reported_at, NULL, 'reported', s.actor, s.role, 'intake'
    FROM ins JOIN src s ON s.client_key = ins.client_key
    RETURNING incident_id
)
SELECT ins.id, ins.client_key FROM ins
"""

SINGLE_SOURCE = """(
    SELECT CAST(:client_key AS text) AS client_key, CAST(:category AS text) AS category_code,
           CAST(:source AS text) AS source, CAST(:reported_at AS timestamptz) AS reported_at,
           CAST(:household AS text) AS household_code, CAST(:description AS text) AS description,
           CAST(:actor AS text) AS actor, CAST(:role AS text) AS role,
           CASE WHEN CAST(:lon AS double precision) IS NULL THEN NULL
                ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END AS geom
)"""

STAGE_TABLE = """
CREATE TEMP TABLE {name} (
    client_key text, category_code text, source text, reported_at timestamptz,
    household_code text, description text, actor text, role text, geom geometry(Point, 4326)
) ON COMMIT DROP
"""

REJOIN = """
SELECT s.id, s.client_key, s.plan_id AS plan_id_at_report, s.cell_code AS cell_code_at_report,
       s.village_code AS village_code_at_report, cell.plan_id, cell.cell_code,
       v.code AS village_code, v.parent_code AS township_code
FROM (SELECT i.*, i.geom AS g FROM incident i WHERE {where}) s
{placement}
ORDER BY s.id
"""
