"""``medfleet init``: create the data directory, database, server key and first admin."""

from __future__ import annotations

from typing import Annotated

import typer

from medfleet.bootstrap import initialise
from medfleet.cli.context import DataDir, Json, opened
from medfleet.cli.output import console, emit_json, handle_errors, read_secret


@handle_errors
def init_command(
    data_dir: DataDir = None,
    manufacturer: Annotated[str, typer.Option(help="Manufacturer name.")] = "Manufacturer",
    admin: Annotated[str, typer.Option(help="First admin's user name.")] = "admin",
    admin_name: Annotated[str, typer.Option(help="First admin's printed name.")] = "Administrator",
    as_json: Json = False,
) -> None:
    """Create the data directory, database, server key and a first admin.

    The admin password comes from MEDFLEET_ADMIN_PASSWORD or an interactive prompt.
    """
    password = read_secret("admin password", "MEDFLEET_ADMIN_PASSWORD", confirm=True)
    with opened(data_dir) as runtime:
        result = initialise(runtime, manufacturer, admin, admin_name, password)
    if as_json:
        emit_json({"ok": True, **result.as_dict()})
        return
    console.print(f"Initialised medfleet in [bold]{result.data_dir}[/]")
    console.print(f"  database   {result.database_url}")
    console.print(f"  server key {result.server_key_id[:16]}…")
    console.print(f"  admin      {result.admin_username} of {manufacturer}")
