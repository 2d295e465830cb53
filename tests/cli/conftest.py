"""The ``cli`` fixture: ``medfleet`` commands run in-process against one initialised deployment."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from medfleet.cli.app import app
from medfleet.config import Settings

ADMIN_PASSWORD = "initial admin password"
USER_PASSWORD = "a long user password"


class Cli:
    """Runs ``medfleet`` commands against one data directory and database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runner = CliRunner()

    def __call__(
        self, *args: str, password: str = ADMIN_PASSWORD, new_password: str = USER_PASSWORD
    ) -> tuple[int, str, str]:
        env = {
            "MEDFLEET_DATABASE_URL": self.settings.database_url,
            "MEDFLEET_ARGON2_TIME_COST": "1",
            "MEDFLEET_ARGON2_MEMORY_KIB": "64",
            "MEDFLEET_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "MEDFLEET_ROOT_PASSWORD_1": "root holder one",
            "MEDFLEET_PASSWORD": password,
            "MEDFLEET_NEW_PASSWORD": new_password,
        }
        result = self.runner.invoke(
            app, [*args, "--data-dir", str(self.settings.data_dir)], env=env
        )
        return result.exit_code, result.stdout, result.stderr

    def json(self, *args: str, **kwargs: str) -> Any:
        code, out, err = self(*args, "--json", **kwargs)
        assert code == 0, (out, err)
        return json.loads(out)


@pytest.fixture
def cli(settings: Settings) -> Cli:
    runner = Cli(settings)
    assert runner.json("init", "--manufacturer", "Acme")["ok"] is True
    return runner
