"""``wangge grids``: build, check, diff, publish, list on a database of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from geo import auth
from geo.cli._grids import app
from geo.db.provision import scratch_database
from geo.db.session import get_engine
from geo.synth import generate_county

pytestmark = pytest.mark.db
runner = CliRunner()


PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def county_db(server_url: str) -> Iterator[str]:
    """A migrated database holding the "small" county (the CLI commits what it writes), with
    the planners ana, bo and chief and the analyst olga, all with :data:`PASSWORD`."""
    with scratch_database(server_url, "cli_grids", county=generate_county("small", seed=2)) as url:
        with get_engine(url).begin() as conn:
            for login in ("ana", "bo", "chief"):
                auth.add_user(conn, login, role="planner", password=PASSWORD)
            auth.add_user(conn, "olga", role="analyst", password=PASSWORD)
        yield url


@pytest.fixture
def env(county_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI on :func:`county_db`, acting as ana unless a command says ``--user``."""
    monkeypatch.setenv("DATABASE_URL", county_db)
    monkeypatch.setenv("WANGGE_USER", "ana")
    monkeypatch.setenv("WANGGE_PASSWORD", PASSWORD)
    return county_db


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def _fails(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("· ")]  # progress remarks
    assert lines[0].startswith("error:"), result.output
    assert "Traceback" not in result.output
    return " ".join(line.strip() for line in lines)  # one line, wrapped by the terminal


def test_build_check_rebuild_diff_publish_list(env: str) -> None:
    built = _ok(["build", "--plan", "spring", "--user", "ana"])
    assert "plan 'spring'" in built
    assert "1,200 households in 6 villages" in built
    assert "100.0% within bounds" in built

    checked = _ok(["check", "spring"])
    assert "no rule violations" in checked
    assert "publishable" in checked

    _ok(["build", "--plan", "autumn"])
    with get_engine(env).connect() as conn:
        village = conn.execute(
            text("SELECT min(village_code) FROM grid_cell c JOIN grid_plan p ON p.id = c.plan_id "
                 "WHERE p.name = 'autumn'")
        ).scalar_one()  # fmt: skip
    rebuilt = _ok(["build", "--plan", "autumn", "--village", village, "--min", "10", "--max", "20"])
    assert f"version 2: village {village} rebuilt" in rebuilt

    diffed = _ok(["diff", "spring", "autumn"])
    assert "households moved" in diffed
    assert "cells added" in diffed
    assert "share within bounds" in diffed.replace("_", " ")

    assert "published 'spring'" in _ok(["publish", "spring"])
    with get_engine(env).begin() as conn:
        conn.execute(
            text("INSERT INTO grid_worker (code, name, plan_id, cell_code) SELECT 'w1', 'w', "
                 "plan_id, min(code) FROM grid_cell WHERE plan_id = (SELECT id FROM grid_plan "
                 "WHERE name = 'spring') GROUP BY plan_id")
        )  # fmt: skip
    second = _ok(["publish", "autumn", "--user", "chief"])
    assert "published 'autumn'" in second
    assert "archived 'spring'" in second
    assert "1 grid worker(s), 0 open incident(s)" in " ".join(second.split())

    listed = _ok(["list"])
    for word in ("spring", "autumn", "archived", "published", "100.0%"):
        assert word in listed
    with get_engine(env).connect() as conn:
        statuses = dict(conn.execute(text("SELECT name, status FROM grid_plan")).all())
    assert statuses == {"spring": "archived", "autumn": "published"}


def test_ignore_natural_units_builds_more_compact_cells_and_is_stored(env: str) -> None:
    kept = _ok(["build", "--plan", "units-kept"])
    ignored = _ok(["build", "--plan", "units-ignored", "--ignore-natural-units"])
    assert "(ignored)" in ignored
    assert "(ignored)" not in kept
    with get_engine(env).connect() as conn:
        rows = conn.execute(
            text("SELECT name, params->>'keep_natural_units', (metrics->>'mean_pp')::float, "
                 "(metrics->>'natural_units_split')::int FROM grid_plan "
                 "WHERE name LIKE 'units-%'")
        ).all()  # fmt: skip
    got = {name: (keep, pp, split) for name, keep, pp, split in rows}
    assert got["units-kept"][0] == "true"
    assert got["units-ignored"][0] == "false"
    assert got["units-ignored"][1] > got["units-kept"][1]  # more compact
    assert got["units-ignored"][2] > got["units-kept"][2]  # at the cost of split units
    refused = _fails(["build", "--plan", "units-kept", "--village", "1", "--ignore-natural-units"])
    assert "applies to a new plan" in refused


def test_errors_are_one_line_and_exit_1(env: str) -> None:
    assert "no plan 'ghost'" in _fails(["check", "ghost"])
    assert "no plan 'ghost'" in _fails(["build", "--plan", "ghost", "--village", "1"])
    _ok(["build", "--plan", "twice"])
    assert "already has a plan named 'twice'" in _fails(["build", "--plan", "twice"])
    assert "need 1 <= min_size <= max_size" in _fails(["build", "--plan", "bad", "--min", "60"])
    assert "no county 123456" in _fails(["build", "--plan", "x", "--county", "123456"])


def test_publish_of_a_broken_plan_names_the_household(env: str) -> None:
    _ok(["build", "--plan", "broken"])
    with get_engine(env).begin() as conn:
        victim = conn.execute(
            text(
                "DELETE FROM cell_assignment a USING grid_plan p WHERE p.id = a.plan_id "
                "AND p.name = 'broken' AND a.household_code = (SELECT min(household_code) "
                "FROM cell_assignment) RETURNING a.household_code"
            )
        ).scalar_one()
    line = _fails(["publish", "broken"])
    assert "cannot be published" in line
    assert victim in line
    assert "cannot be published" in _ok(["check", "broken"])


# --------------------------------------------------------------------------- workbench commands


def _state(url: str, plan: str) -> tuple[int, list[tuple[str, str]], list[tuple[str, int]]]:
    """Version, assignment and cell sizes of a plan (to show that nothing changed)."""
    with get_engine(url).connect() as conn:
        version = conn.execute(
            text("SELECT version FROM grid_plan WHERE name = :n"), {"n": plan}
        ).scalar_one()
        assigned = conn.execute(
            text("SELECT a.household_code, a.cell_code FROM cell_assignment a JOIN grid_plan p "
                 "ON p.id = a.plan_id WHERE p.name = :n ORDER BY 1"), {"n": plan}
        ).all()  # fmt: skip
        cells = conn.execute(
            text("SELECT c.code, c.households FROM grid_cell c JOIN grid_plan p "
                 "ON p.id = c.plan_id WHERE p.name = :n ORDER BY 1"), {"n": plan}
        ).all()  # fmt: skip
    return version, [tuple(r) for r in assigned], [tuple(r) for r in cells]


def _two_cells(url: str, plan: str) -> tuple[str, str, str, list[str]]:
    """A village with two or more cells: its code, two of its cells, households of the second."""
    with get_engine(url).connect() as conn:
        rows = conn.execute(
            text("SELECT c.village_code, c.code FROM grid_cell c JOIN grid_plan p "
                 "ON p.id = c.plan_id WHERE p.name = :n ORDER BY c.code"), {"n": plan}
        ).all()  # fmt: skip
        by_village: dict[str, list[str]] = {}
        for village, code in rows:
            by_village.setdefault(village, []).append(code)
        village, codes = next((v, c) for v, c in by_village.items() if len(c) >= 2)
        households = conn.execute(
            text("SELECT a.household_code FROM cell_assignment a JOIN grid_plan p "
                 "ON p.id = a.plan_id WHERE p.name = :n AND a.cell_code = :c ORDER BY 1"),
            {"n": plan, "c": codes[1]},
        ).scalars().all()  # fmt: skip
    return village, codes[0], codes[1], list(households)


@pytest.fixture
def draft(env: str) -> str:
    """A fresh draft named after the test, built once per test."""
    import uuid

    name = f"wb-{uuid.uuid4().hex[:8]}"
    _ok(["build", "--plan", name, "--user", "ana"])
    return name


def test_show_lists_villages_then_one_village_in_80_columns(env: str, draft: str) -> None:
    listed = _ok(["show", draft])
    assert "6" in listed
    assert "left out" in listed
    village, a, _, households = _two_cells(env, draft)
    shown = _ok(["show", draft, "--village", village])
    assert a in shown
    assert households[0] in shown  # the codes a planner needs, no SQL
    assert "sizes: 0 cell(s) outside 30-50" in shown
    assert max(len(line) for line in shown.splitlines()) <= 80


def test_move_split_merge_rebuild_undo_redo_history(env: str, draft: str) -> None:
    village, a, b, households = _two_cells(env, draft)
    moved = _ok(["move", draft, "--household", households[0], "--household", households[1],
                 "--to", a, "--expected-version", "1", "--user", "bo"])  # fmt: skip
    assert "version 2: move 2 household(s)" in moved
    assert "contiguity:" in moved
    assert "natural units split:" in moved
    with get_engine(env).connect() as conn:
        cell = conn.execute(
            text("SELECT a.cell_code FROM cell_assignment a JOIN grid_plan p ON p.id = a.plan_id "
                 "WHERE p.name = :n AND a.household_code = :h"), {"n": draft, "h": households[0]}
        ).scalar_one()  # fmt: skip
    assert cell == a

    split = _ok(["split", draft, a, "--k", "2", "--expected-version", "2"])
    assert "version 3: split" in split
    assert "cell(s) outside 30-50" in split
    undone = _ok(["undo", draft])
    assert "version 4: undo of version 3" in undone
    redone = _ok(["redo", draft])
    assert "version 5: redo of version 4" in redone
    _ok(["undo", draft])  # takes the redo back: the split is undone again
    merged = _ok(["merge", draft, a, b])
    assert "version 7: merge" in merged
    rebuilt = _ok(["rebuild", draft, village, "--min", "20", "--max", "35"])
    assert "version 8: rebuild village" in rebuilt
    assert "bounds 20-35" in rebuilt
    history = _ok(["history", draft])
    for word in ("move 2", "split", "undo of version 3", "redo", "merge", "rebuild", "bo"):
        assert word in history
    assert "is at version 8" in history

    # undo twice more gets back to the state after the move, exactly
    _ok(["undo", draft])
    _ok(["undo", draft])
    after_moves = _state(env, draft)
    assert after_moves[0] == 10
    assert dict(after_moves[1])[households[0]] == a
    assert "nothing to redo" not in _ok(["redo", draft])


def test_stale_expected_version_is_refused_and_changes_nothing(env: str, draft: str) -> None:
    _, a, b, households = _two_cells(env, draft)
    _ok(["move", draft, "--household", households[0], "--to", a, "--user", "bo"])
    before = _state(env, draft)
    for args in (
        ["move", draft, "--household", households[1], "--to", a],
        ["split", draft, a],
        ["merge", draft, a, b],
        ["undo", draft],
        ["publish", draft],
    ):
        line = _fails([*args, "--expected-version", "1"])
        assert "is at version 2, not 1: last changed by bo" in line, line
    assert _state(env, draft) == before


def test_edits_act_as_a_planner_account_and_record_its_login(
    env: str, draft: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, a, _b, households = _two_cells(env, draft)
    before = _state(env, draft)
    move = ["move", draft, "--household", households[0], "--to", a]
    assert "has the role analyst" in _fails([*move, "--user", "olga"])
    assert "wrong login or password" in _fails([*move, "--user", "nobody"])
    monkeypatch.setenv("WANGGE_PASSWORD", "not the password at all")
    assert "wrong login or password" in _fails([*move, "--user", "bo"])
    monkeypatch.delenv("WANGGE_USER")
    monkeypatch.setenv("WANGGE_PASSWORD", PASSWORD)
    assert "say who acts" in _fails(move)
    assert "say who acts" in _fails(["publish", draft])
    assert _state(env, draft) == before  # nothing changed by a refused actor
    _ok([*move, "--user", "chief"])
    with get_engine(env).connect() as conn:
        by = conn.execute(
            text("SELECT updated_by FROM grid_plan WHERE name = :n"), {"n": draft}
        ).scalar_one()
    assert by == "chief"


def test_bad_codes_are_one_line_errors_and_change_nothing(env: str, draft: str) -> None:
    _village, a, _b, households = _two_cells(env, draft)
    before = _state(env, draft)
    other = next(c for c, _ in before[2] if not c.startswith(a[:14]))
    assert "unknown household" in _fails(["move", draft, "--household", "nope", "--to", a])
    assert "unknown cell" in _fails(["move", draft, "--household", households[0], "--to", "x-1"])
    assert "never cross a village boundary" in _fails(
        ["move", draft, "--household", households[0], "--to", other]
    )
    assert "unknown cell" in _fails(["split", draft, "999001-000-000-001"])
    assert "k must be in 2.." in _fails(["split", draft, a, "--k", "999"])
    assert "different villages" in _fails(["merge", draft, a, other])
    assert "merge needs two or more cells" in _fails(["merge", draft, a])
    assert "no village" in _fails(["show", draft, "--village", "123"])
    assert "has no households" in _fails(["rebuild", draft, "999001999999"])
    assert "nothing to undo" in _fails(["undo", draft])
    assert "nothing to redo" in _fails(["redo", draft])
    assert "no plan 'ghost'" in _fails(["move", "ghost", "--household", "h", "--to", a])
    assert _state(env, draft) == before


def test_plans_by_id_or_name_and_user_text_printed_as_text(env: str) -> None:
    name = "[bold]spring[/bold]"
    _ok(["build", "--plan", name])
    with get_engine(env).connect() as conn:
        plan_id = conn.execute(
            text("SELECT id FROM grid_plan WHERE name = :n"), {"n": name}
        ).scalar_one()
    listed = _ok(["list"])
    assert "[bold]" in listed  # printed as text, not read as markup (folded, never cut)
    assert f"plan '{name}' (id {plan_id}" in _ok(["show", name])
    for ref in (str(plan_id), f"#{plan_id}", f"id:{plan_id}", name):
        assert f"(id {plan_id}," in _ok(["show", ref])
    refused = _fails(["build", "--plan", "2024"])
    assert "would read as a plan id" in refused
    assert f"no plan with id {10**6}" in _fails(["show", str(10**6)])
    copied = _ok(["copy", str(plan_id), "--name", "copy-of-spring"])
    assert "version 1" in copied
    assert "would read as a plan id" in _fails(["copy", str(plan_id), "--name", "#7"])


def test_lock_unlock_keep_cells_through_a_rebuild_and_refuse_edits(env: str, draft: str) -> None:
    village, a, b, households = _two_cells(env, draft)
    locked = _ok(["lock", draft, a, "--expected-version", "1", "--user", "bo"])
    assert f"version 2: lock cell(s) {a}" in locked
    assert f"locked: {a}" in " ".join(locked.split())
    shown = _ok(["show", draft, "--village", village])
    assert "lock" in shown
    assert max(len(line) for line in shown.splitlines()) <= 80
    before = _state(env, draft)
    members = sorted(h for h, c in before[1] if c == a)
    for args in (["split", draft, a], ["merge", draft, a, b],
                 ["move", draft, "--household", households[0], "--to", a]):  # fmt: skip
        line = _fails(args)
        assert f"cell(s) {a} locked" in line, line
        assert "unlock" in line
    assert "already locked" in _fails(["lock", draft, a])
    assert "not locked" in _fails(["unlock", draft, b])
    assert "unknown cell" in _fails(["lock", draft, "999001-000-000-001"])
    assert "is at version 2, not 1" in _fails(["unlock", draft, a, "--expected-version", "1"])
    assert _state(env, draft) == before

    _ok(["rebuild", draft, village, "--min", "20", "--max", "35"])
    after = _state(env, draft)
    assert sorted(h for h, c in after[1] if c == a) == members
    assert dict(after[2])[a] == dict(before[2])[a]
    unlocked = _ok(["unlock", draft, a])
    assert f"version 4: unlock cell(s) {a}" in unlocked
    assert "locked: no cell" in unlocked
    assert "version 5: undo of version 4" in _ok(["undo", draft])
    assert f"locked: {a}" in " ".join(_ok(["show", draft, "--village", village]).split())


def test_fix_unassigned_puts_left_out_households_back(env: str, draft: str) -> None:
    village, _a, _b, households = _two_cells(env, draft)
    assert "no household of the plan's county is left out" in _fails(["fix-unassigned", draft])
    with get_engine(env).begin() as conn:
        conn.execute(
            text("DELETE FROM cell_assignment a USING grid_plan p WHERE p.id = a.plan_id "
                 "AND p.name = :n AND a.household_code = ANY(:h)"),
            {"n": draft, "h": households[:2]},
        )  # fmt: skip
    assert "left out: 2 household(s)" in _ok(["show", draft, "--village", village])
    fixed = _ok(["fix-unassigned", draft, "--expected-version", "1"])
    assert f"version 2: assign the 2 household(s) left out of village {village}" in fixed
    assert "left out: 0 household(s)" in fixed
    assigned = dict(_state(env, draft)[1])
    assert all(h in assigned for h in households[:2])
    assert "left out" in _fails(["fix-unassigned", draft, "--village", village])
