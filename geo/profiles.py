"""County profiles: the figures a synthetic county is generated from, read from YAML.

A profile is one file ``data/profiles/NAME.yaml`` (see :data:`geo.settings.PROFILES_DIR`)
holding a county's geography (centre, area) and its counts per level (townships, villages,
natural units, households, residents, cell size bounds).  It is read merged over
``_platforms.yaml`` (platforms, incident categories, visit rules), the profile's own keys
winning, so that a county may override any of the shared configuration.

Example
-------
>>> from geo.profiles import load_profile
>>> p = load_profile("yanchi")
>>> p.households, p.townships + p.subdistricts
(68487, 9)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from geo import settings
from geo.errors import ConfigError

#: Keys every profile must define, with the type each must have.
REQUIRED_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "name_zh": str,
    "county_code": str,
    "centre_lonlat": list,
    "area_km2": (int, float),
    "townships": int,
    "subdistricts": int,
    "villages": int,
    "natural_units": int,
    "households": int,
    "residents": int,
    "cell_min": int,
    "cell_max": int,
    "seat_share": (int, float),
}

PLATFORMS_FILE = "_platforms.yaml"
#: Folder of province profiles, inside :data:`geo.settings.PROFILES_DIR`.
PROVINCES_DIR = "provinces"


@dataclass(frozen=True)
class Profile:
    """The figures of one county.

    Attributes
    ----------
    name, name_zh : str
        Short ASCII name (the file stem) and Chinese name of the county.
    county_code : str
        Six-digit statistical division code, e.g. ``"640323"``.
    centre_lonlat : tuple of float
        Longitude and latitude of the county's centre, degrees (EPSG:4326); the synthetic
        county seat is put there.
    area_km2 : float
        Approximate county area, km².
    townships, subdistricts : int
        Level-1 units: townships and towns (乡镇) and sub-district offices (街道) -- the
        latter make up the county seat.
    villages : int
        Level-2 units: administrative villages and communities.
    natural_units : int
        Level-3 units: natural villages (hamlets), residential compounds, single buildings.
    households, residents : int
        Level-4 figures.
    cell_min, cell_max : int
        Households per grid cell, inclusive bounds.
    seat_share : float
        Share of households living in the county seat, in [0, 1).
    cells : int or None
        Number of grid cells, when the county reports one (Xihua: 8,788).
    raw : dict
        The whole merged YAML (profile over ``_platforms.yaml``), for keys such as
        ``platforms``, ``incident_categories`` or ``township_names``.
    """

    name: str
    name_zh: str
    county_code: str
    centre_lonlat: tuple[float, float]
    area_km2: float
    townships: int
    subdistricts: int
    villages: int
    natural_units: int
    households: int
    residents: int
    cell_min: int
    cell_max: int
    seat_share: float
    cells: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def level1(self) -> int:
        """Townships plus sub-districts: the number of level-1 units."""
        return self.townships + self.subdistricts


def list_profiles() -> list[str]:
    """Names of the profiles in :data:`geo.settings.PROFILES_DIR`, sorted.

    Files whose name starts with ``_`` (shared configuration) are not profiles.
    """
    return sorted(
        p.stem for p in Path(settings.PROFILES_DIR).glob("*.yaml") if not p.name.startswith("_")
    )


def load_profile(name_or_path: str | Path) -> Profile:
    """Read and validate a county profile.

    Parameters
    ----------
    name_or_path : str or Path
        A profile name (``"yanchi"``, read from :data:`geo.settings.PROFILES_DIR`) or the path
        of a YAML file.

    Returns
    -------
    Profile
        The validated profile; ``raw`` holds the YAML merged over ``_platforms.yaml``.

    Raises
    ------
    ConfigError
        If the profile does not exist (the message lists the available ones), is not valid
        YAML, lacks a key, or has counts that cannot describe a county.
    """
    path = _profile_path(name_or_path)
    profile_data = _read_yaml(path)
    platforms_path = Path(settings.PROFILES_DIR) / PLATFORMS_FILE
    shared = platforms_config() if platforms_path.exists() else {}
    merged = {**shared, **profile_data}
    merged.setdefault("name", path.stem)
    return _validate(merged, source=str(path))


def profile_from_mapping(data: dict[str, Any], *, source: str) -> Profile:
    """A validated :class:`Profile` from a mapping of profile keys (e.g. a derived county).

    ``source`` names where the mapping came from, for error messages.

    Raises
    ------
    ConfigError
        As :func:`load_profile`: a missing key, a wrong type, or counts that cannot
        describe a county.
    """
    return _validate(dict(data), source=source)


@dataclass(frozen=True)
class ProvinceProfile:
    """A synthetic province: how its counties are drawn from the seed profiles.

    Attributes
    ----------
    name, name_zh : str
        Short ASCII name (the file stem) and Chinese name.
    code_prefix : str
        Two digits: the province part of every county code.
    bbox_lonlat : tuple of float
        ``(min_lon, min_lat, max_lon, max_lat)`` in degrees (EPSG:4326); county centres are
        laid out on a grid inside it.
    base_profiles : tuple of str
        Seed profiles the counties are drawn from, in turn.
    scale : tuple of float
        Range of the factor applied to each county's villages, natural units, households,
        residents and area.
    """

    name: str
    name_zh: str
    code_prefix: str
    bbox_lonlat: tuple[float, float, float, float]
    base_profiles: tuple[str, ...]
    scale: tuple[float, float]


def load_province_profile(name: str) -> ProvinceProfile:
    """Read ``data/profiles/provinces/NAME.yaml`` (see :class:`ProvinceProfile`).

    Raises
    ------
    ConfigError
        Unknown province (the message lists the known ones) or a malformed file.
    """
    folder = Path(settings.PROFILES_DIR) / PROVINCES_DIR
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml"))) or "none"
        raise ConfigError(f"unknown province {name!r}; known provinces: {known}")
    d = _read_yaml(path)
    try:
        prefix = str(d["code_prefix"])
        bbox = tuple(float(v) for v in d["bbox_lonlat"])
        scale = tuple(float(v) for v in d.get("scale", (1.0, 1.0)))
        province = ProvinceProfile(
            name=str(d.get("name", path.stem)),
            name_zh=str(d.get("name_zh", path.stem)),
            code_prefix=prefix,
            bbox_lonlat=bbox,  # type: ignore[arg-type]
            base_profiles=tuple(str(b) for b in d["base_profiles"]),
            scale=scale,  # type: ignore[arg-type]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"province file {path}: missing or malformed key ({exc})") from exc
    if len(prefix) != 2 or not prefix.isdigit():
        raise ConfigError(f"province file {path}: code_prefix must be two digits, got {prefix!r}")
    if len(bbox) != 4 or not (bbox[0] < bbox[2] and bbox[1] < bbox[3]):
        raise ConfigError(
            f"province file {path}: bbox_lonlat must be [min_lon, min_lat, max_lon, max_lat]"
        )
    if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
        raise ConfigError(f"province file {path}: scale must be [low, high] with 0 < low <= high")
    for base in province.base_profiles:
        load_profile(base)  # an unknown seed profile fails here, naming the available ones
    return province


def platforms_config() -> dict[str, Any]:
    """The shared configuration ``_platforms.yaml``: platforms, categories, visit rules.

    The one reader of that file (profiles read it merged under their own keys through
    :func:`load_profile`).  Keys: ``platforms`` (list of ``code``, ``name``, ``name_en``),
    ``incident_categories`` (``code``, ``name``, ``platform``, ``due_hours`` ...) and
    ``visit_rules_days`` (five-colour status -> longest gap between visits, days).

    Raises
    ------
    ConfigError
        The file is missing or not a YAML mapping.
    """
    path = Path(settings.PROFILES_DIR) / PLATFORMS_FILE
    if not path.is_file():
        raise ConfigError(f"{path} is missing: it defines the platforms and visit rules")
    return _read_yaml(path)


def visit_rules() -> dict[str, int]:
    """Five-colour visit rules: colour -> longest allowed gap between visits, in days.

    Raises
    ------
    ConfigError
        ``_platforms.yaml`` has no ``visit_rules_days`` mapping of colours to whole days.
    """
    rules = platforms_config().get("visit_rules_days")
    if not isinstance(rules, dict) or not rules:
        raise ConfigError(f"{PLATFORMS_FILE} has no 'visit_rules_days' mapping")
    try:
        return {str(k): int(v) for k, v in rules.items()}
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{PLATFORMS_FILE}: visit_rules_days must be whole days ({exc})") from exc


def profile_of_county(county_code: str) -> Profile | None:
    """The profile in :data:`geo.settings.PROFILES_DIR` whose ``county_code`` is this one.

    None for a county not generated from a profile (a county's own loaded data).  Profiles
    that fail to load are skipped.
    """
    for name in list_profiles():
        try:
            prof = load_profile(name)
        except ConfigError:
            continue
        if prof.county_code == county_code:
            return prof
    return None


def _profile_path(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml"))
    if looks_like_path or "/" in text:
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(f"profile file {path} does not exist")
        return path
    path = Path(settings.PROFILES_DIR) / f"{text}.yaml"
    if text.startswith("_") or not path.is_file():
        available = ", ".join(list_profiles()) or "none"
        raise ConfigError(f"unknown profile {text!r}; available profiles: {available}")
    return path


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top level")
    return data


def _validate(d: dict[str, Any], *, source: str) -> Profile:
    def fail(message: str) -> ConfigError:
        return ConfigError(f"profile {source}: {message}")

    for key, kind in REQUIRED_KEYS.items():
        if key not in d:
            raise fail(f"missing key {key!r}")
        value = d[key]
        if isinstance(value, bool) or not isinstance(value, kind):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise fail(f"{key} must be of type {names}, got {value!r}")
    cells = d.get("cells")
    if cells is not None and (isinstance(cells, bool) or not isinstance(cells, int)):
        raise fail(f"cells must be an integer, got {cells!r}")

    code = d["county_code"]
    if len(code) != 6 or not code.isdigit():
        raise fail(f"county_code must be six digits, got {code!r}")
    centre = d["centre_lonlat"]
    if len(centre) != 2 or not all(isinstance(v, (int, float)) for v in centre):
        raise fail(f"centre_lonlat must be [lon, lat] in degrees, got {centre!r}")
    lon, lat = float(centre[0]), float(centre[1])
    if not (-180 <= lon <= 180 and -80 <= lat <= 84):
        raise fail(f"centre_lonlat {centre!r} is outside lon [-180, 180], lat [-80, 84]")
    if d["area_km2"] <= 0:
        raise fail(f"area_km2 must be positive, got {d['area_km2']}")

    t, s, v = d["townships"], d["subdistricts"], d["villages"]
    nu, hh, res = d["natural_units"], d["households"], d["residents"]
    if t < 1 or s < 0:
        raise fail(f"need townships >= 1 and subdistricts >= 0, got {t} and {s}")
    if t + s > 99:
        raise fail(f"at most 99 level-1 units are supported, got {t + s}")
    if not nu >= v >= t + s:
        raise fail(
            "counts must satisfy natural_units >= villages >= townships + subdistricts, got "
            f"{nu} >= {v} >= {t} + {s}"
        )
    if hh < nu:
        raise fail(f"households ({hh}) must be at least natural_units ({nu})")
    if res < 0:
        raise fail(f"residents must be >= 0, got {res}")
    cmin, cmax = d["cell_min"], d["cell_max"]
    if not 1 <= cmin <= cmax:
        raise fail(f"need 1 <= cell_min <= cell_max, got {cmin} and {cmax}")
    share = float(d["seat_share"])
    if not 0 <= share < 1:
        raise fail(f"seat_share must be in [0, 1), got {share}")
    if s > 0 and share == 0:
        raise fail("seat_share must be positive when there are subdistricts (the county seat)")
    if cells is not None:
        if cells < v:
            raise fail(f"cells ({cells}) must be at least villages ({v}): one cell per village")
        if not cmin * cells <= hh <= cmax * cells:
            raise fail(
                f"households ({hh}) must lie in [cell_min * cells, cell_max * cells] = "
                f"[{cmin * cells}, {cmax * cells}]"
            )
    elif math.floor(hh / cmin) < max(v, math.ceil(hh / cmax)):
        raise fail(
            f"{hh} households cannot be cut into cells of {cmin}-{cmax} households in every one "
            f"of {v} villages"
        )
    for key, count, suffixes in (
        ("township_names", t, ("镇", "乡")),
        ("subdistrict_names", s, ("街道",)),
    ):
        names = d.get(key)
        if names is None:
            continue
        if not isinstance(names, list) or len(names) != count or len(set(names)) != count:
            raise fail(f"{key} must be a list of {count} distinct names, got {names!r}")
        bad = [n for n in names if not (isinstance(n, str) and n.endswith(suffixes))]
        if bad:
            raise fail(f"{key}: names must end with {' or '.join(suffixes)}, got {bad!r}")

    return Profile(
        name=d["name"],
        name_zh=d["name_zh"],
        county_code=code,
        centre_lonlat=(lon, lat),
        area_km2=float(d["area_km2"]),
        townships=t,
        subdistricts=s,
        villages=v,
        natural_units=nu,
        households=hh,
        residents=res,
        cell_min=cmin,
        cell_max=cmax,
        seat_share=share,
        cells=cells,
        raw=d,
    )
