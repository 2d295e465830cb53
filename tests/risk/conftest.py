"""The API fixtures (``app``, ``client``, ``world``, ``auth``) and the CLI's ``cli`` for the
risk-file tests."""

from __future__ import annotations

from tests.api.conftest import app, auth, client, world
from tests.cli.conftest import cli

__all__ = ["app", "auth", "cli", "client", "world"]
