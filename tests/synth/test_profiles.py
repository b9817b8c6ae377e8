"""Tests of geo.profiles: reading, merging and validating county profiles."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from geo import settings
from geo.errors import ConfigError
from geo.profiles import Profile, list_profiles, load_profile

SMALL = {
    "name": "tiny",
    "name_zh": "微县",
    "county_code": "999002",
    "centre_lonlat": [110.0, 35.0],
    "area_km2": 50,
    "townships": 2,
    "subdistricts": 1,
    "villages": 4,
    "natural_units": 8,
    "households": 400,
    "residents": 1000,
    "cell_min": 30,
    "cell_max": 50,
    "seat_share": 0.2,
}


@pytest.fixture
def profiles_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A profiles directory with a shared platforms file and one profile ``tiny``."""
    (tmp_path / "_platforms.yaml").write_text(
        yaml.safe_dump({"platforms": [{"code": "a"}], "visit_rules_days": {"red": 7}}),
        encoding="utf-8",
    )
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(SMALL, allow_unicode=True), "utf-8")
    monkeypatch.setattr(settings, "PROFILES_DIR", tmp_path)
    return tmp_path


def write(directory: Path, name: str, **changes) -> Path:
    data = {**SMALL, **changes}
    data = {k: v for k, v in data.items() if v is not None}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_profiles_load_with_the_report_figures():
    assert list_profiles() == ["small", "xihua", "yanchi"]
    yanchi = load_profile("yanchi")
    assert (yanchi.townships, yanchi.subdistricts, yanchi.villages) == (8, 1, 119)
    assert (yanchi.natural_units, yanchi.households, yanchi.residents) == (2009, 68487, 173441)
    assert yanchi.raw["township_names"][0] == "花马池镇"
    assert yanchi.cells is None
    xihua = load_profile("xihua")
    assert xihua.cells == 8788
    assert xihua.level1 == 22
    # the shared platforms file is merged in
    assert {p["code"] for p in xihua.raw["platforms"]} >= {"bigdata", "emergency"}


def test_profile_keys_win_over_platforms(profiles_dir: Path):
    write(profiles_dir, "own", visit_rules_days={"red": 3})
    p = load_profile("own")
    assert p.raw["visit_rules_days"] == {"red": 3}
    assert p.raw["platforms"] == [{"code": "a"}]


def test_list_excludes_underscore_files(profiles_dir: Path):
    assert list_profiles() == ["tiny"]


def test_unknown_profile_lists_the_available_ones(profiles_dir: Path):
    with pytest.raises(ConfigError, match=r"unknown profile 'nope'; available profiles: tiny"):
        load_profile("nope")
    with pytest.raises(ConfigError, match="unknown profile '_platforms'"):
        load_profile("_platforms")


def test_load_by_path(profiles_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    path = write(tmp_path_factory.mktemp("elsewhere"), "mine", name_zh="我的县")
    p = load_profile(path)
    assert isinstance(p, Profile)
    assert p.name_zh == "我的县"
    assert p.centre_lonlat == (110.0, 35.0)
    assert load_profile(str(path)) == p
    with pytest.raises(ConfigError, match="does not exist"):
        load_profile(path.with_name("absent.yaml"))


def test_profile_is_frozen_and_hashable(profiles_dir: Path):
    p = load_profile("tiny")
    with pytest.raises(AttributeError):
        p.households = 3  # type: ignore[misc]
    assert hash(p) == hash(load_profile("tiny"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"households": None}, "missing key 'households'"),
        ({"households": "many"}, "households must be of type int"),
        ({"county_code": "12"}, "six digits"),
        ({"centre_lonlat": [200, 35]}, "outside lon"),
        ({"area_km2": 0}, "area_km2 must be positive"),
        ({"villages": 2}, "natural_units >= villages >= townships"),
        ({"natural_units": 3}, "natural_units >= villages"),
        ({"households": 7}, "at least natural_units"),
        ({"cell_min": 60}, "cell_min <= cell_max"),
        ({"seat_share": 1.2}, r"seat_share must be in \[0, 1\)"),
        ({"seat_share": 0}, "seat_share must be positive"),
        ({"households": 100}, "cannot be cut into cells"),
        ({"cells": 3}, "at least villages"),
        ({"cells": 20}, r"must lie in \[cell_min \* cells"),
        ({"township_names": ["甲镇"]}, "list of 2 distinct names"),
        ({"township_names": ["甲镇", "乙村"]}, "must end with"),
        ({"subdistrict_names": ["城关镇"]}, "must end with 街道"),
    ],
)
def test_invalid_profiles_are_refused(profiles_dir: Path, changes: dict, message: str):
    write(profiles_dir, "bad", **changes)
    with pytest.raises(ConfigError, match=message):
        load_profile("bad")


def test_bad_yaml_is_a_config_error(profiles_dir: Path):
    (profiles_dir / "broken.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_profile("broken")
    (profiles_dir / "listy.yaml").write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load_profile("listy")


def test_cells_accepted_when_consistent(profiles_dir: Path):
    write(profiles_dir, "celled", cells=10)
    assert load_profile("celled").cells == 10
