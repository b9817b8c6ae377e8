"""``wangge users``: local accounts of the dashboards (roles and township scopes are data).

    wangge users add LOGIN --role township --township 640323101 [--prompt]
    wangge users list
    wangge users disable LOGIN
    wangge users passwd LOGIN [--prompt]

A password is generated and printed once unless ``--prompt`` asks for one to be typed.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from geo import auth
from geo.cli import _common
from geo.cli._common import one_line_errors, out, start_invocation

app = typer.Typer(
    help="Local accounts: add, list, disable, change passwords.",
    no_args_is_help=True,
    callback=start_invocation,
)

Prompt = Annotated[
    bool, typer.Option("--prompt", help="Type the password instead of generating one.")
]


def _typed(prompt: bool) -> str | None:
    if not prompt:
        return None
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


def _show_once(login: str, password: str, generated: bool) -> None:
    if generated:
        out.print(f"password of {login} (shown once): {password}", highlight=False)


@app.command("add")
def add(
    login: Annotated[str, typer.Argument(help="Login name (lower case).")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(auth.ROLES)}.")],
    township: Annotated[
        str | None, typer.Option(help="Township code (required for --role township).")
    ] = None,
    prompt: Prompt = False,
) -> None:
    """Add an account; its password is generated and printed once (or typed, --prompt)."""
    with one_line_errors():
        typed = _typed(prompt)
        with _common.engine().begin() as conn:
            user, password = auth.add_user(
                conn, login, role=role, township_code=township, password=typed
            )
        scope = f" (township {user.township_code})" if user.township_code else ""
        out.print(f"user {user.login} added as {user.role}{scope}", highlight=False)
        _show_once(user.login, password, typed is None)


@app.command("list")
def list_() -> None:
    """Every account: login, role, township, active, created."""
    with one_line_errors():
        with _common.engine().connect() as conn:
            users = auth.list_users(conn)
        if not users:
            out.print("no users yet: `wangge users add LOGIN --role ROLE`")
            return
        table = Table(title="Users")
        for column in ("login", "role", "township", "active", "created"):
            table.add_column(column)
        for u in users:
            table.add_row(
                u.login, u.role, u.township_code or "", "yes" if u.active else "no",
                f"{u.created_at:%Y-%m-%d %H:%M}",
            )  # fmt: skip
        out.print(table)


@app.command("disable")
def disable(login: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Turn an account off (it stays on record; `passwd` turns nothing back on)."""
    with one_line_errors():
        with _common.engine().begin() as conn:
            auth.disable_user(conn, login)
        out.print(f"user {login} disabled", highlight=False)


@app.command("passwd")
def passwd(
    login: Annotated[str, typer.Argument(help="Login name.")], prompt: Prompt = False
) -> None:
    """Give an account a new password, generated and printed once (or typed, --prompt)."""
    with one_line_errors():
        typed = _typed(prompt)
        with _common.engine().begin() as conn:
            password = auth.set_password(conn, login, typed)
        out.print(f"password of {login} changed", highlight=False)
        _show_once(login, password, typed is None)
