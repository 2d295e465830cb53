"""CLI test helpers for the device registry: put a model into the catalogue first."""

from __future__ import annotations

from tests.cli.conftest import Cli


def register_model(cli: Cli, model: str = "IP-100", *revisions: str) -> None:
    """``medfleet models register`` as the initial admin (revision B unless others are given)."""
    args = [arg for revision in revisions or ("B",) for arg in ("--hw", revision)]
    cli.json("models", "register", model, "--display-name", f"Pump {model}", *args,
             "--user", "admin")  # fmt: skip
