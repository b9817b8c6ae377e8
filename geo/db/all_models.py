"""Every model module, imported so that ``Base.metadata`` holds the whole schema.

Alembic's environment and the schema test import ``Base`` from here. A new module of models
adds one import line below.
"""

from __future__ import annotations

from geo.db import (  # noqa: F401  (register their tables)
    models_auth,
    models_load,
    models_plans,
    models_province,
)
from geo.db.models import Base

__all__ = ["Base"]
