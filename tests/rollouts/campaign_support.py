"""Helpers for the campaign tests (no tests here): real releases, real devices, real reports.

Releases go the whole controlled way (change request, verification, e-signatures, QA approval)
and are signed into the image repository (``tests.releases.test_release_support``). Devices are
registered, enroll with their own Ed25519 key and report through the server's real intake
(``accept_report``) with signed reports, exactly as the agent does; the ``InstallAttempt`` rows
campaigns read come from those reports. Hospitals decide, confirm and set windows through their
own use cases.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from medfleet.accounts import service as accounts
from medfleet.accounts.model import Principal
from medfleet.accounts.signatures import Meaning
from medfleet.agent.contract import Instruction
from medfleet.agent.identity import DeviceIdentity
from medfleet.agent.reports import ReportContent, ReportTarget, StatusReport, sign_report
from medfleet.audit.tables import AuditEventRow
from medfleet.db.engine import transaction
from medfleet.fleet import enrollment
from medfleet.fleet.report_intake import accept_report
from medfleet.releases import approval, records
from medfleet.releases.records import ReleaseFields
from medfleet.releases.tables import Release
from medfleet.rollouts import acceptance, acceptance_policies, campaign_views, window_service
from medfleet.rollouts import service as campaigns
from medfleet.rollouts.model import Urgency
from medfleet.rollouts.scheduler import advance_campaigns
from medfleet.rollouts.tables import ActiveAssignment
from medfleet.runtime import Runtime
from medfleet.trace import runs
from medfleet.trace.tables import TraceTest
from tests.builders import World, build_world
from tests.change_flow import passing_run
from tests.releases.test_release_support import (
    MODEL,
    Env,
    approve,
    change_request,
    create_release_signing,
    publish,
    qa_holds_model,
    sign,
    verify,
)

ONE_PHASE: dict[str, Any] = {"phases": [{"name": "all", "percent": 100}]}


def image(number: int) -> bytes:
    """A release image that differs a little from one version to the next."""
    body = bytearray(hashlib.shake_256(b"IP-100 campaign firmware").digest(60_000))
    body[number * 50 : number * 50 + 16] = b"release %8d" % number
    return bytes(body)


@dataclass
class Dev:
    """An enrolled device: its ids, its key, what it runs, its next report number."""

    device_id: str
    pk: int
    identity: DeviceIdentity
    running: tuple[str, int] | None
    seq: int = 0


@dataclass
class Camp:
    """The world, signing and the releases made so far: the campaign tests' environment."""

    env: Env
    released: dict[str, int] = field(default_factory=dict)
    serials: int = 0
    model_held: bool = False

    @property
    def rt(self) -> Runtime:
        return self.env.rt

    @property
    def world(self) -> World:
        return self.env.world

    # -- releases -------------------------------------------------------------------------

    def release(
        self,
        version: str,
        number: int,
        *,
        revisions: tuple[str, ...] = ("A", "B", "C"),
        min_from: int | None = None,
    ) -> None:
        """Take ``version`` through change control and sign it into the image repository."""
        env = self.env
        if not self.model_held:
            qa_holds_model(env)
            self.model_held = True
        keys = [change_request(env, env.world.engineer, f"Change for {version}")]
        blob = env.distribution.blobs.put_bytes(image(number))
        passing_run(self.rt, self.world, f"build-{number}")
        self._every_test_passes(f"build-{number}")
        fields = ReleaseFields(
            version_number=number,
            min_from_version_number=min_from,
            build_id=f"build-{number}",
            hardware_revisions=list(revisions),
            what_changed=f"Version {version}.",
            risk_summary="No new hazards.",
            downtime_minutes=10,
            compatibility="All revisions.",
            change_requests=keys,
        )
        with transaction(self.rt.sessions) as session:
            records.create(session, self.rt.audit, env.world.engineer, MODEL, version, fields)
            records.attach_artifact(
                session, self.rt.audit, env.distribution.blobs, env.world.engineer, MODEL,
                version, f"ip100-{version}.img", blob,
            )  # fmt: skip
        sign(env, env.world.engineer, version, Meaning.AUTHORED)
        verify(env, version)
        approve(env, version)
        publish(env, version)
        self.released[version] = number

    def _every_test_passes(self, build: str) -> None:
        """A JUnit run of ``build`` in which every known test passes (the regression set)."""
        with transaction(self.rt.sessions) as session:
            keys = sorted(session.scalars(select(TraceTest.key)))
        cases = "".join(
            f'<testcase name="{key}" time="0.1"><properties>'
            f'<property name="id" value={quoteattr(key)}/></properties></testcase>'
            for key in keys
        )
        xml = f'<?xml version="1.0"?><testsuite name="all" tests="1">{cases}</testsuite>'
        with transaction(self.rt.sessions) as session:
            runs.import_run(session, self.rt.audit, self.world.engineer, xml.encode(), build)

    def withdraw(self, version: str, reason: str = "field issue") -> None:
        """QA withdraws a release."""
        with transaction(self.rt.sessions) as session:
            approval.withdraw(session, self.rt.audit, self.world.qa, MODEL, version, reason)

    def target(self, version: str) -> tuple[str, str]:
        """The image path and SHA-256 the release was signed with."""
        with transaction(self.rt.sessions) as session:
            release = session.scalar(select(Release).where(Release.version == version))
            assert release is not None
            assert release.target_path
            assert release.target_sha256
            return release.target_path, release.target_sha256

    # -- hospitals ------------------------------------------------------------------------

    def site(self, org_id: int, name: str, timezone: str = "Europe/Berlin") -> int:
        """Another site of a hospital."""
        with transaction(self.rt.sessions) as session:
            return accounts.create_site(
                session, self.rt.audit, self.world.admin, org_id, name, timezone
            ).id

    def approve(
        self, who: Principal, site_id: int, version: str = "4.2.0", *, consent: bool = False
    ) -> None:
        """The hospital approves the release for a site (with out-of-cycle consent)."""
        with transaction(self.rt.sessions) as session:
            acceptance.decide(
                session, self.rt.audit, who, model=MODEL, version=version, site_id=site_id,
                approve=True, out_of_cycle_consent=consent,
            )  # fmt: skip

    def confirm(self, who: Principal, site_id: int, version: str = "4.2.0") -> None:
        """The hospital confirms production devices may follow the site's test devices."""
        with transaction(self.rt.sessions) as session:
            acceptance.confirm_production(
                session, self.rt.audit, who, model=MODEL, version=version, site_id=site_id
            )

    def auto_approve(
        self,
        who: Principal,
        urgency: Urgency = Urgency.ROUTINE,
        *,
        confirm: bool = True,
        out_of_cycle: bool = False,
    ) -> None:
        """The hospital approves every release of campaigns of ``urgency`` for all sites."""
        with transaction(self.rt.sessions) as session:
            acceptance_policies.set_policy(
                session, self.rt.audit, who, site_id=None, urgency=urgency,
                confirm_production=confirm, out_of_cycle=out_of_cycle,
            )  # fmt: skip

    def window(
        self,
        who: Principal,
        site_id: int,
        start_local: datetime,
        rrule: str = "FREQ=DAILY",
        hours: int = 4,
    ) -> None:
        """A maintenance window of a site, in the site's zone."""
        with transaction(self.rt.sessions) as session:
            window_service.add_window(
                session, self.rt.audit, who, site_id=site_id, name=f"w{start_local:%H%M}",
                start_local=start_local, rrule=rrule, duration=timedelta(hours=hours),
            )  # fmt: skip

    # -- devices --------------------------------------------------------------------------

    def device(
        self,
        site_id: int,
        org_id: int | None = None,
        *,
        test: bool = False,
        tags: tuple[str, ...] = (),
        revision: str = "B",
        running: tuple[str, int] | None = ("4.1.0", 410),
    ) -> Dev:
        """A registered, enrolled device at ``site_id`` that reported running ``running``."""
        self.serials += 1
        identity = DeviceIdentity(Ed25519PrivateKey.generate())
        with transaction(self.rt.sessions) as session:
            registration = enrollment.register_device(
                session, self.rt.audit, self.world.admin,
                org_id=self.world.hospital_a if org_id is None else org_id, model=MODEL,
                hardware_revision=revision, serial=f"SN-{self.serials:04d}", site_id=site_id,
                is_test_device=test, tags=tags,
            )  # fmt: skip
            enrollment.enroll(
                session, self.rt.audit, self.rt.distribution, registration.enrollment_token,
                identity.public_key_bytes,
            )  # fmt: skip
            dev = Dev(registration.device.device_id, registration.device.id, identity, running)
        if running is not None:
            self._send(dev, self._content(dev, None, None))
        return dev

    def devices(self, count: int, site_id: int, org_id: int | None = None, **kw: Any) -> list[Dev]:
        """``count`` devices like ``device``."""
        return [self.device(site_id, org_id, **kw) for _ in range(count)]

    def _content(
        self, dev: Dev, outcome: str | None, target: tuple[str, int] | None
    ) -> ReportContent:
        report_target = None
        left = back = None
        if target is not None:
            path, sha = self.target(target[0])
            report_target = ReportTarget(path, target[0], target[1], sha)
            if outcome != "failed":
                left = self.rt.clock.now() - timedelta(minutes=10)
                back = left + timedelta(minutes=7)
        if outcome == "committed" and target is not None:
            dev.running = target
        running = dev.running
        return ReportContent(
            active_slot="a",
            active_version=None if running is None else running[0],
            active_version_number=None if running is None else running[1],
            install_phase=outcome or "idle",
            outcome=outcome,
            detail=None if outcome in (None, "committed") else f"{outcome} on purpose",
            target=report_target,
            in_clinical_use=False,
            left_service_at=left,
            returned_to_service_at=back,
        )

    def _send(self, dev: Dev, content: ReportContent) -> None:
        dev.seq += 1
        report = StatusReport(dev.device_id, dev.seq, self.rt.clock.now(), content)
        with transaction(self.rt.sessions) as session:
            accept_report(session, self.rt.audit, dev.device_id, sign_report(report, dev.identity))

    def finish(self, dev: Dev, version: str, outcome: str = "committed") -> None:
        """The device reports a finished install of ``version`` (signed, through intake)."""
        self._send(dev, self._content(dev, outcome, (version, self.released[version])))

    # -- campaigns ------------------------------------------------------------------------

    def create(
        self,
        version: str = "4.2.0",
        policy: dict[str, Any] | None = None,
        selection: dict[str, Any] | None = None,
        urgency: str | None = None,
        name: str = "Spring update",
    ) -> str:
        """A draft campaign by the manufacturer's admin; its key."""
        with transaction(self.rt.sessions) as session:
            return campaigns.create_campaign(
                session, self.rt.audit, self.world.admin, model=MODEL, version=version,
                name=name, policy=policy or ONE_PHASE, selection=selection, urgency=urgency,
            ).key  # fmt: skip

    def start(self, key: str) -> None:
        """The admin starts the campaign."""
        with transaction(self.rt.sessions) as session:
            campaigns.start(session, self.rt.audit, self.world.admin, key)

    def advance(self) -> dict[str, Any]:
        """One scheduler cycle."""
        return advance_campaigns(self.rt)

    def show(self, key: str) -> dict[str, Any]:
        """The campaign as the API shows it."""
        with transaction(self.rt.sessions) as session:
            return campaign_views.get_campaign(session, self.world.admin, key)

    def statuses(self, key: str) -> dict[str, str]:
        """Each device's status in the campaign."""
        with transaction(self.rt.sessions) as session:
            rows = campaign_views.list_devices(
                session, self.world.admin, key, campaign_views.DeviceFilter(limit=1000)
            )
            return {row["device_id"]: row["status"] for row in rows}

    def instruction(self, dev: Dev) -> Instruction | None:
        """What the director tells the device to install now, if anything."""
        target = self.rt.distribution.director.assigned(dev.device_id)
        return None if target is None else Instruction.from_custom(target.custom)

    def assignments(self) -> dict[int, tuple[int, bool, bool]]:
        """Device pk -> (campaign id, instructed, clear pending) of every ``ActiveAssignment``."""
        with transaction(self.rt.sessions) as session:
            rows = session.scalars(select(ActiveAssignment))
            return {
                r.device_pk: (r.campaign_id, r.instructed_at is not None, r.clear_pending)
                for r in rows
            }

    def events(self, prefix: str = "campaign.") -> list[tuple[str, dict[str, Any]]]:
        """(action, payload) of every audit event whose action starts with ``prefix``."""
        import json

        with transaction(self.rt.sessions) as session:
            docs = session.scalars(
                select(AuditEventRow.doc)
                .where(AuditEventRow.action.startswith(prefix))
                .order_by(AuditEventRow.seq)
            )
            parsed = [json.loads(doc) for doc in docs]
        return [(doc["action"], doc["payload"]) for doc in parsed]


@pytest.fixture
def camp(runtime: Runtime) -> Camp:
    """The world, release signing, and releases 4.1.0 (410) and 4.2.0 (420) of IP-100."""
    world = build_world(runtime)
    create_release_signing(runtime)
    made = Camp(Env(runtime, world))
    made.release("4.1.0", 410)
    made.release("4.2.0", 420)
    return made
