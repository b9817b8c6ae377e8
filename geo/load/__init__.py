"""Loading a county's own files: read any format, validate every row, load in one transaction.

The pure half (:func:`check_file`, :func:`check_frame`) needs no database; the database half
(:func:`load_file`, :func:`load_frame`) upserts clean rows and quarantines the rest in one
transaction.  Details in :mod:`geo.load._load`; this file is the public face.
"""

from geo.load._load import (
    FAULTS,
    KINDS,
    REPAIRS,
    SNAP_TOLERANCE_M,
    Checked,
    LoadReport,
    References,
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
