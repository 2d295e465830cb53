"""How every command talks back: Rich for people, one JSON document for scripts, exit codes.

Exit codes: 0 success; 1 a check failed (for example ``audit verify`` found tampering);
2 usage error (Typer); 3 invalid input; 4 not found; 5 conflict; 6 not allowed or not
authenticated; 7 not ready (no ``medfleet init`` yet, database unreachable).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, ParamSpec, TypeVar

import pydantic
import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.exc import OperationalError

from medfleet.config import ConfigFileError
from medfleet.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MedfleetError,
    NotFound,
    Unauthenticated,
    Unavailable,
    category_of,
)
from medfleet.signing.server_key import ServerKeyError

EXIT_CHECK_FAILED = 1
EXIT_INVALID = 3
EXIT_NOT_FOUND = 4
EXIT_CONFLICT = 5
EXIT_DENIED = 6
EXIT_NOT_READY = 7

console = Console()
error_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")

_CATEGORY_EXIT: dict[type[MedfleetError], int] = {
    InvalidInput: EXIT_INVALID,
    NotFound: EXIT_NOT_FOUND,
    Conflict: EXIT_CONFLICT,
    Forbidden: EXIT_DENIED,
    Unauthenticated: EXIT_DENIED,
    Unavailable: EXIT_NOT_READY,
}


def exit_code_for(error: MedfleetError) -> int:
    """The exit code of an error's category."""
    return _CATEGORY_EXIT[category_of(error)]


def fail(
    message: str, code: int, as_json: bool = False, members: dict[str, Any] | None = None
) -> NoReturn:
    """Print an error (JSON on stdout with ``--json``, text on stderr otherwise) and exit.

    ``members`` (an error's ``problem_members``) join the JSON document.
    """
    if as_json:
        print(json.dumps({**(members or {}), "ok": False, "error": message, "exit_code": code}))
    else:
        # soft_wrap: a long message (a path, a list of problems) stays one line that scripts
        # and logs can match, whatever the terminal width.
        error_console.print(Text("error: ", style="bold red") + Text(message), soft_wrap=True)
    raise typer.Exit(code)


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout."""
    print(json.dumps(document, indent=2, sort_keys=True, default=str))


def handle_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Turn medfleet's errors into a short message and the matching exit code."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        as_json = bool(kwargs.get("as_json", False))
        try:
            return function(*args, **kwargs)
        except MedfleetError as exc:
            fail(str(exc), exit_code_for(exc), as_json, exc.problem_members())
        except (ServerKeyError, ConfigFileError) as exc:
            fail(str(exc), EXIT_NOT_READY, as_json)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            fail(f"bad setting: {problems}", EXIT_INVALID, as_json)
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            fail(
                f"database not reachable or not initialised ({reason}); "
                "run 'medfleet init' or 'medfleet db upgrade'",
                EXIT_NOT_READY,
                as_json,
            )

    return wrapper


def read_secret(prompt: str, env_name: str, confirm: bool = False) -> str:
    """A secret from the environment variable ``env_name``, else from an interactive prompt.

    Never from a flag, so that it stays out of shell history and process listings.
    """
    env_value = os.environ.get(env_name)
    if env_value:
        return env_value
    if not sys.stdin.isatty():
        fail(f"{prompt}: no terminal to ask on; set {env_name}", EXIT_INVALID)
    value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    return value


def report(as_json: bool, document: Any, text: str) -> None:
    """Print ``document`` as JSON for scripts, or ``text`` for people."""
    if as_json:
        emit_json(document)
    else:
        console.print(text, highlight=False, markup=False)
