"""Running ``medfleet`` in-process as one of the test world's users (no tests here).

The world's users share ``tests.builders.PASSWORD``, given through ``MEDFLEET_PASSWORD`` as a
script would; Argon2 is made cheap for speed. ``run_as_user`` is what every CLI test of the
domain packages calls instead of setting up Typer's runner itself.
"""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from medfleet.cli.app import app
from medfleet.config import Settings
from tests.builders import PASSWORD


def run_as_user(settings: Settings, *args: str, columns: int | None = None) -> tuple[int, Any, str]:
    """Run ``medfleet ARGS --data-dir …`` against ``settings``' deployment.

    Returns the exit code, the parsed JSON document (with ``--json``, on success; else None)
    and everything printed (stdout, then stderr). ``columns`` widens Rich's tables.
    """
    env = {
        "MEDFLEET_DATABASE_URL": settings.database_url,
        "MEDFLEET_ARGON2_TIME_COST": "1",
        "MEDFLEET_ARGON2_MEMORY_KIB": "64",
        "MEDFLEET_PASSWORD": PASSWORD,
    }
    if columns is not None:
        env["COLUMNS"] = str(columns)
    result = CliRunner().invoke(app, [*args, "--data-dir", str(settings.data_dir)], env=env)
    body = json.loads(result.stdout) if "--json" in args and result.exit_code == 0 else None
    return result.exit_code, body, result.stdout + result.stderr
