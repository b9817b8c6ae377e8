"""The ``wangge`` command line (console script ``wangge = geo.cli:app``).

Each command is an adapter: parse, call one ``geo`` function, print.  The commands live in
:mod:`geo.cli._main` (db, synth, demo, info, dash), :mod:`geo.cli._grids`,
:mod:`geo.cli._incidents` and :mod:`geo.cli._io`; this file is the public face.
"""

from geo.cli._main import app, main

__all__ = ["app", "main"]
