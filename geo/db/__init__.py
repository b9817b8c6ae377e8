"""The database layer: the only place in ``geo`` with SQL (docs/architecture.md).

Schema and connections
    :mod:`~geo.db.models`, :mod:`~geo.db.models_load`, :mod:`~geo.db.models_province`
    (SQLAlchemy 2 models with GeoAlchemy2 columns; :mod:`~geo.db.all_models` gathers them),
    :mod:`~geo.db.migrate` (Alembic from Python), :mod:`~geo.db.provision` (a PostGIS server
    and database), :mod:`~geo.db.database` (open the database once: reachable, migrated),
    :mod:`~geo.db.session` (engines and sessions).
Frames in and out
    :mod:`~geo.db.io` (binary COPY, the one upsert builder, county reads and writes).
Stores: the statements of one concern each
    :mod:`~geo.db.plan_store` (grid plans), :mod:`~geo.db.incident_store` (incidents,
    platforms, categories), :mod:`~geo.db.centre_store` (the centre's aggregates),
    :mod:`~geo.db.export_store` (plan exports), :mod:`~geo.db.load_store` (loads,
    quarantine), :mod:`~geo.db.province_store` (province results),
    :mod:`~geo.db.activity` (synthetic activity through the real intake),
    :mod:`~geo.db.queries` and :mod:`~geo.db.case_queries` (the dashboards' reads).

``geo.db`` imports only ``geo.frames``, ``geo.projection``, ``geo.settings``,
``geo.errors`` and itself, never an analysis module (``tests/test_layout.py``).
"""
