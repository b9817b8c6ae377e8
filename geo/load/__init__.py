"""Loading a county's own files: read any format, validate every row, load in one transaction.

The pure half (:func:`check_file`, :func:`check_frame`) needs no database; the database half
(:func:`load_file`, :func:`load_frame`) upserts clean rows and quarantines the rest in one
transaction.  The orchestration is :mod:`geo.load._load` (SQL in :mod:`geo.db.load_store`),
the checks :mod:`geo.load._validate`; this file is the public face.
"""

from geo.load._checked import Checked, References
from geo.load._kinds import FAULTS, KINDS, REPAIRS, SNAP_TOLERANCE_M
from geo.load._load import (
    LoadReport,
    check_file,
    check_frame,
    load_file,
    load_frame,
    parse_mapping,
    read,
    references,
    summary,
)

__all__ = [
    "FAULTS",
    "KINDS",
    "REPAIRS",
    "SNAP_TOLERANCE_M",
    "Checked",
    "LoadReport",
    "References",
    "check_file",
    "check_frame",
    "load_file",
    "load_frame",
    "parse_mapping",
    "read",
    "references",
    "summary",
]
