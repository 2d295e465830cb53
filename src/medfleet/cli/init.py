"""``medfleet init``: data directory, database, server key, first admin and signing keys."""

from __future__ import annotations

from typing import Annotated

import typer

from medfleet.bootstrap import RootSetup, initialise
from medfleet.cli.context import DataDir, Json, opened
from medfleet.cli.output import console, emit_json, handle_errors, read_secret

ROOT_PASSWORD_ENV = "MEDFLEET_ROOT_PASSWORD_{holder}"  # noqa: S105 - a variable name


def read_root_passwords(holders: int) -> list[str]:
    """One password per root key holder, from ``MEDFLEET_ROOT_PASSWORD_<n>`` or a prompt."""
    return [
        read_secret(
            f"root key holder {holder} password",
            ROOT_PASSWORD_ENV.format(holder=holder),
            confirm=True,
        )
        for holder in range(1, holders + 1)
    ]


@handle_errors
def init_command(
    data_dir: DataDir = None,
    manufacturer: Annotated[str, typer.Option(help="Manufacturer name.")] = "Manufacturer",
    admin: Annotated[str, typer.Option(help="First admin's user name.")] = "admin",
    admin_name: Annotated[str, typer.Option(help="First admin's printed name.")] = "Administrator",
    production: Annotated[
        bool,
        typer.Option(
            "--production", help="Refuse fewer than 2 root key holders or a root threshold below 2."
        ),
    ] = False,
    root_holders: Annotated[
        int | None,
        typer.Option(min=1, max=9, help="Root key holders (default 2 in production, else 1)."),
    ] = None,
    root_threshold: Annotated[
        int | None,
        typer.Option(
            min=1, max=9, help="Root signatures needed (default 2 in production, else 1)."
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Create the data directory, database, server key, a first admin and the signing keys.

    The admin password comes from MEDFLEET_ADMIN_PASSWORD, each root key holder's password from
    MEDFLEET_ROOT_PASSWORD_1, _2, ..., else from interactive prompts. Root keys are written
    encrypted with their holder's password: move them offline after init.
    """
    default = 2 if production else 1
    holders = root_holders or default
    threshold = root_threshold or min(default, holders)
    password = read_secret("admin password", "MEDFLEET_ADMIN_PASSWORD", confirm=True)
    root = RootSetup(read_root_passwords(holders), threshold, production)
    with opened(data_dir) as runtime:
        result = initialise(runtime, manufacturer, admin, admin_name, password, root)
    if as_json:
        emit_json({"ok": True, **result.as_dict()})
        return
    console.print(f"Initialised medfleet in [bold]{result.data_dir}[/]")
    console.print(f"  database      {result.database_url}")
    console.print(f"  server key    {result.server_key_id[:16]}…")
    console.print(f"  admin         {result.admin_username} of {manufacturer}")
    console.print(
        f"  root keys     {len(result.image_root_key_ids)} holder(s), "
        f"threshold {result.root_threshold}{' (production)' if production else ''}"
    )
    console.print(f"  targets key   {result.targets_key_id[:16]}… held by {result.admin_username}")
