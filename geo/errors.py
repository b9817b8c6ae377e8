"""The exceptions Wangge raises on purpose, all in one place.

Every error a user can cause derives from :class:`WanggeError`, so that the CLI and the
dashboards can show it as one clear line instead of a traceback.  The data, configuration
and CRS errors are also :class:`ValueError` s (a bad value was given), as osmnx and geopandas
do, so code that already catches ``ValueError`` keeps working.

=====================  ==========================  =============================================
class                  also a                      raised when
=====================  ==========================  =============================================
``WanggeError``        ``Exception``               (base class; catch it to catch them all)
``ConfigError``        ``ValueError``              a setting, profile, option or argument is bad
``CRSError``           ``ValueError``              a frame has no CRS, or two frames disagree
``DataError``          ``ValueError``              input data is malformed (geometry, ids, ...)
``DatabaseError``      --                          the database cannot be reached or migrated
``PlanError``          --                          a plan's state forbids the operation
``StaleVersionError``  ``PlanError``               an edit was made on an older plan version
``TransitionError``    ``DataError``               an incident move the closed loop forbids
``UnknownIncidentError`` ``DataError``             no incident with that id
=====================  ==========================  =============================================
"""

from __future__ import annotations

__all__ = [
    "CRSError",
    "ConfigError",
    "DataError",
    "DatabaseError",
    "PlanError",
    "StaleVersionError",
    "TransitionError",
    "UnknownIncidentError",
    "WanggeError",
]


class WanggeError(Exception):
    """Base class of every error Wangge raises for a user to read."""


class ConfigError(WanggeError, ValueError):
    """A setting, profile or argument is missing or has a value that is not allowed."""


class CRSError(WanggeError, ValueError):
    """A frame has no CRS, or two frames that must agree on their CRS do not."""


class DatabaseError(WanggeError):
    """The database cannot be reached, provisioned or migrated."""


class DataError(WanggeError, ValueError):
    """Input data is malformed: broken geometry, duplicate ids, unknown parents, ..."""


class PlanError(WanggeError):
    """A plan operation that the plan's state does not allow (publish a broken plan ...)."""


class StaleVersionError(PlanError):
    """An edit was made against an older version of the plan than the stored one."""


class TransitionError(DataError):
    """An incident move that the closed loop does not allow (state, role or ownership)."""


class UnknownIncidentError(DataError):
    """No incident has the given id."""
