"""Options every command shares, and building the runtime from them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from medfleet.accounts.auth import authenticate
from medfleet.accounts.model import Principal
from medfleet.cli.output import read_secret
from medfleet.config import load_settings
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        "-d",
        envvar="MEDFLEET_DATA_DIR",
        help="Data directory (default ./medfleet-data).",
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document for scripts.")]
UserOption = Annotated[
    str,
    typer.Option(
        "--user",
        "-u",
        envvar="MEDFLEET_USER",
        help="Who does this; the password comes from MEDFLEET_PASSWORD or a prompt.",
    ),
]


def open_runtime(data_dir: Path | None) -> Runtime:
    """The runtime for the data directory, from settings, environment and config file."""
    return Runtime(load_settings(data_dir))


def sign_in(runtime: Runtime, username: str, purpose: str = "cli") -> Principal:
    """Authenticate the CLI user with a password from ``MEDFLEET_PASSWORD`` or a prompt.

    Raises:
        AuthenticationError: wrong user name or password (counted towards lockout).
    """
    password = read_secret(f"password for {username}", "MEDFLEET_PASSWORD")
    return authenticate(runtime, username, password, purpose)


@contextmanager
def opened(data_dir: Path | None) -> Iterator[Runtime]:
    """The runtime for a command, closed when the command is done."""
    runtime = open_runtime(data_dir)
    try:
        yield runtime
    finally:
        runtime.close()


@contextmanager
def acting_as(data_dir: Path | None, username: str) -> Iterator[tuple[Runtime, Principal, Session]]:
    """Sign ``username`` in, then run the command's one transaction as that principal."""
    with opened(data_dir) as runtime:
        principal = sign_in(runtime, username)
        with transaction(runtime.sessions) as session:
            yield runtime, principal, session
