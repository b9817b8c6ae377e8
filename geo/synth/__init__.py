"""Realistic synthetic counties from the profiles in ``data/profiles/``, deterministic per seed.

How a county is laid out (outline, townships, villages, natural units, households) is
described in :mod:`geo.synth._county`; this file is the public face.
"""

from geo.synth._county import COLOUR_SHARES, STEPS, generate_county

__all__ = ["COLOUR_SHARES", "STEPS", "generate_county"]
