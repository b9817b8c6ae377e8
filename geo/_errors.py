"""Exceptions that Wangge raises on purpose.

Every error a user can cause derives from :class:`WanggeError`, so that the CLI can print it
as one clear line and exit non-zero instead of showing a traceback.
"""

from __future__ import annotations


class WanggeError(Exception):
    """Base class of every error Wangge raises for a user to read."""


class ConfigError(WanggeError):
    """A setting, profile or argument is missing or has a value that is not allowed."""


class CRSError(WanggeError):
    """A frame has no CRS, or two frames that must agree on their CRS do not."""


class DatabaseError(WanggeError):
    """The database cannot be reached, provisioned or migrated."""


class DataError(WanggeError):
    """Input data is malformed: broken geometry, duplicate ids, unknown parents, ..."""
