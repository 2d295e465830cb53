"""``medfleet release publish``, ``signing-key`` and ``delegate-model``: the commands that sign
into the image repository (registered on ``medfleet.releases.cli.app``).

Each asks for the password again (``MEDFLEET_PASSWORD`` for scripts): it re-authenticates the
user and unlocks their targets key.
"""

from __future__ import annotations

from typing import Annotated

import typer

from medfleet.accounts.auth import authenticate
from medfleet.accounts.signatures import signatures_for
from medfleet.cli.context import DataDir, Json, UserOption, opened
from medfleet.cli.output import handle_errors, read_secret, report
from medfleet.db.engine import transaction
from medfleet.releases import publishing
from medfleet.releases.render import release_dict

Model = Annotated[str, typer.Argument(help="Device model, e.g. IP-100.")]
Version = Annotated[str, typer.Argument(help="Version string, e.g. 4.2.0.")]


def _password(user: str, doing: str) -> str:
    return read_secret(f"password for {user} ({doing})", "MEDFLEET_PASSWORD")


@handle_errors
def publish_command(
    model: Model,
    version: Version,
    user: UserOption,
    comment: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Release: sign an approved release into the image repository with your targets key."""
    with opened(data_dir) as runtime:
        password = _password(user, f"releasing {model} {version}")
        signer = authenticate(runtime, user, password, purpose="esignature")
        with transaction(runtime.sessions) as session:
            release, signed = publishing.publish(
                session, runtime.audit, runtime.distribution, signer, password,
                model, version, comment,
            )  # fmt: skip
            document = release_dict(
                release, signatures_for(session, release, runtime.trusted_keys())
            )
    deltas = f" and {len(signed.deltas)} delta(s)" if signed.deltas else ""
    report(as_json, document, f"released {model} {version}: {signed.image_path}{deltas}")


@handle_errors
def signing_key_command(user: UserOption, data_dir: DataDir = None, as_json: Json = False) -> None:
    """Create your targets key (encrypted with your password) unless you have one."""
    with opened(data_dir) as runtime:
        password = _password(user, "your targets key")
        signer = authenticate(runtime, user, password, purpose="esignature")
        with transaction(runtime.sessions) as session:
            key = publishing.create_signing_key(
                session, runtime.audit, runtime.distribution.keys, signer, password
            )
    done = "created" if key.created else "already had"
    report(as_json, key.as_dict(), f"{user} {done} targets key {key.key_id}")


@handle_errors
def delegate_model_command(
    model: Model,
    user: UserOption,
    holders: Annotated[list[str], typer.Option("--holder", help="QA/RA key holder (repeat).")],
    threshold: Annotated[int, typer.Option("--threshold")] = 1,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Create a model's signing role, held by --holder keys, with your top-level targets key.

    The role's first version is signed by its holders too: each holder other than you types
    their password (``MEDFLEET_HOLDER_PASSWORD`` for scripts).
    """
    with opened(data_dir) as runtime:
        password = _password(user, "the top-level targets key")
        signer = authenticate(runtime, user, password, purpose="esignature")
        holder_passwords = {
            name: read_secret(f"password of holder {name}", "MEDFLEET_HOLDER_PASSWORD")
            for name in holders
            if name != user
        }
        with transaction(runtime.sessions) as session:
            role = publishing.delegate_model(
                session, runtime.audit, runtime.distribution, signer, password,
                model, holders, threshold, holder_passwords,
            )  # fmt: skip
    report(as_json, role.as_dict(), f"delegated {model} to {', '.join(holders)} ({role.role})")
