"""The database layer: the only place in ``geo`` with SQL.

- :mod:`geo.db.models` -- SQLAlchemy 2 declarative models with GeoAlchemy2 columns.
- :mod:`geo.db.session` -- engines and sessions.
- :mod:`geo.db.provision` -- make sure a PostGIS server and database are there.
- :mod:`geo.db.migrate` -- Alembic upgrade/downgrade from Python.
- :mod:`geo.db.io` -- fast GeoDataFrame <-> PostGIS I/O (COPY in, WKB out).
- :mod:`geo.db.plan_store` -- the SQL of grid plans (used by :mod:`geo.plans`).
"""
