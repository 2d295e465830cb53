"""The demo's manufacturer path: problem report to a released, signed image, twice in a row."""

from __future__ import annotations

import hashlib

from medfleet.accounts import service as accounts
from medfleet.accounts.model import Role
from medfleet.accounts.service import NewUser
from medfleet.audit import service as audit_service
from medfleet.bootstrap import RootSetup, initialise
from medfleet.changes import service as changes
from medfleet.db.engine import transaction
from medfleet.releases import records
from medfleet.runtime import Runtime
from medfleet.sim.release_flow import (
    Manufacturer,
    ReleaseSpec,
    controlled_release,
    prepare_release_signing,
)

PASSWORD = "release-flow-password"
WHO = Manufacturer("admin", "eng", "qa", PASSWORD)


def spec(version: str, number: int, min_from: int | None = None) -> ReleaseSpec:
    image = hashlib.shake_256(version.encode()).digest(20_000)
    return ReleaseSpec(
        "IP-100", version, number, ("A", "B"), image,
        f"Alarm late in {version}", f"Fix alarm latency for {version}",
        "Alarm within 5 s.", "No new hazards.", 12, "Revisions A and B.", min_from,
    )  # fmt: skip


def test_two_releases_go_through_the_whole_controlled_path(runtime: Runtime) -> None:
    initialise(
        runtime,
        "Acme",
        "admin",
        "Ada Admin",
        PASSWORD,
        RootSetup(["root-pw-1"], 1, production=False),
    )
    admin = WHO.login(runtime, "admin")
    with transaction(runtime.sessions) as session:
        for name, role in (("eng", Role.ENGINEER), ("qa", Role.QA_RA)):
            accounts.create_user(
                session, runtime.audit, runtime.passwords, admin, admin.org_id,
                NewUser(name, name.upper(), PASSWORD, frozenset({role})),
            )  # fmt: skip
    prepare_release_signing(runtime, WHO, "IP-100")

    first = controlled_release(runtime, WHO, spec("4.1.0", 410))
    second = controlled_release(runtime, WHO, spec("4.2.0", 420, min_from=410))

    assert (first.change_key, second.change_key) == ("CR-1", "CR-2")
    assert second.target_path == "IP-100/ip-100-4.2.0.img"
    listed = runtime.distribution.image.image_target(second.target_path)
    assert listed is not None
    assert listed.length == second.target_length
    with transaction(runtime.sessions) as session:
        assert records.get(session, admin, "IP-100", "4.2.0").state == "released"
        assert changes.get(session, admin, "CR-2").state == "released"
        assert audit_service.verify(session, runtime.trusted_keys()).ok
