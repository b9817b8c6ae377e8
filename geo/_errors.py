"""Deprecated home of Wangge's exceptions: import them from :mod:`geo.errors`."""

from geo.errors import ConfigError, CRSError, DatabaseError, DataError, WanggeError

__all__ = ["CRSError", "ConfigError", "DataError", "DatabaseError", "WanggeError"]
