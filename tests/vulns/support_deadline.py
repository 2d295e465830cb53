"""Helpers for the assessment and deadline tests (no tests here).

Rows of the other parts of the domain (vulnerabilities and their aliases, SBOMs, components,
findings) are inserted directly, so these tests depend on nothing but the tables. Release rows
that never reach a campaign are inserted directly too; campaign tests use the real releases of
``tests.rollouts.campaign_support``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from medfleet.accounts.model import Principal
from medfleet.audit.tables import AuditEventRow
from medfleet.db.engine import transaction
from medfleet.releases.tables import Release
from medfleet.runtime import Runtime
from medfleet.vulns import assessments, deadline_views
from medfleet.vulns.deadline_views import AssessmentView
from medfleet.vulns.tables import (
    VulnAssessment,
    Vulnerability,
)
from tests.builders import MODEL, World, build_world
from tests.rollouts.campaign_support import Camp
from tests.vulns.support_rows import (
    component_row,
    finding_row,
    release_row,
    sbom_row,
    vulnerability_row,
)

HEARTBLEED = "CVE-2014-0160"
HEARTBLEED_GHSA = "GHSA-xxxx-heartbleed"
OPENSSL_3 = "CVE-2022-3602"


@pytest.fixture
def world(runtime: Runtime) -> World:
    """The manufacturer, two hospitals, and the two OpenSSL vulnerabilities of the issue."""
    built = build_world(runtime)
    add_vulnerability(runtime, HEARTBLEED, HEARTBLEED_GHSA, severity="high")
    add_vulnerability(runtime, OPENSSL_3, severity="critical")
    return built


def add_vulnerability(rt: Runtime, key: str, *aliases: str, severity: str | None = None) -> int:
    """A vulnerability known by ``key`` and ``aliases``; its id."""
    with transaction(rt.sessions) as session:
        return vulnerability_row(
            session, key, *aliases, now=rt.clock.now(), summary=f"{key} in OpenSSL",
            severity=severity,
        ).id  # fmt: skip


def add_release(
    rt: Runtime, world: World, version: str, number: int, state: str = "released"
) -> int:
    """A release row of IP-100 in ``state`` (inserted directly, never signed); its id."""
    target = f"{MODEL}/ip100-{version}.img" if state == "released" else None
    with transaction(rt.sessions) as session:
        return release_row(
            session, world, MODEL, version, number, rt.clock.now(), state=state, target_path=target
        ).id


def release_pk(rt: Runtime, version: str) -> int:
    """The id of IP-100 ``version``."""
    with transaction(rt.sessions) as session:
        found = session.scalar(
            select(Release.id).where(Release.model == MODEL, Release.version == version)
        )
        assert found is not None
        return found


def add_sbom(
    rt: Runtime,
    world: World,
    release: int,
    openssl: str,
    carries: tuple[str, ...] = (),
    *,
    active: bool = True,
) -> None:
    """An SBOM of ``release`` with one component, openssl ``openssl``, and a finding for each
    vulnerability key in ``carries``."""
    now = rt.clock.now()
    with transaction(rt.sessions) as session:
        sbom = sbom_row(session, world, release, now, 1)
        component = component_row(
            session, sbom, bom_ref="openssl", name="openssl", version=openssl,
            purl=f"pkg:generic/openssl@{openssl}", supplier="OpenSSL",
            keys=("pkg:generic/openssl", "openssl:openssl"),
        )  # fmt: skip
        for key in carries:
            vulnerability = session.scalar(select(Vulnerability.id).where(Vulnerability.key == key))
            assert vulnerability is not None
            finding_row(
                session, component, vulnerability, now, matched_by="cpe",
                reason=f"openssl {openssl} in range", active=active,
            )  # fmt: skip


def assess(rt: Runtime, who: Principal, vuln: str = HEARTBLEED, **fields: Any) -> AssessmentView:
    """``who`` assesses ``vuln`` (uncontrolled, not critical unless ``fields`` say otherwise);
    the assessment as seen right after."""
    fields.setdefault("risk", "uncontrolled")
    fields.setdefault("critical", False)
    fields.setdefault("rationale", "Remote heap over-read; the device exposes TLS.")
    with transaction(rt.sessions) as session:
        now = rt.clock.now()
        assessments.assess(session, rt.audit, who, vuln, now=now, **fields)
        return deadline_views.view_assessment(session, who, vuln, now)


def view(rt: Runtime, who: Principal, vuln: str = HEARTBLEED) -> AssessmentView:
    """The assessment of ``vuln`` and its deadlines now."""
    with transaction(rt.sessions) as session:
        return deadline_views.view_assessment(session, who, vuln, rt.clock.now())


def customers_informed(rt: Runtime, vuln: str, at: datetime) -> None:
    """What the hospital-notice service does when it first issues notices for ``vuln``."""
    with transaction(rt.sessions) as session:
        vulnerability = session.scalar(select(Vulnerability.id).where(Vulnerability.key == vuln))
        session.execute(
            update(VulnAssessment)
            .where(VulnAssessment.vulnerability_id == vulnerability)
            .values(customers_informed_at=at)
        )


def events(rt: Runtime, prefix: str = "vulns.") -> list[tuple[str, str, dict[str, Any]]]:
    """(actor, action, payload) of every audit event whose action starts with ``prefix``."""
    with transaction(rt.sessions) as session:
        docs = session.scalars(
            select(AuditEventRow.doc)
            .where(AuditEventRow.action.startswith(prefix))
            .order_by(AuditEventRow.seq)
        )
        parsed = [json.loads(doc) for doc in docs]
    return [(doc["actor"], doc["action"], doc["payload"]) for doc in parsed]


@pytest.fixture
def vulnerable_camp(camp: Camp) -> Camp:
    """The campaign tests' world (IP-100 4.1.0 and 4.2.0 released) with the two OpenSSL
    vulnerabilities, and an SBOM of 4.1.0 whose openssl 1.0.1f carries Heartbleed."""
    add_vulnerability(camp.rt, HEARTBLEED, HEARTBLEED_GHSA, severity="high")
    add_vulnerability(camp.rt, OPENSSL_3, severity="critical")
    add_sbom(camp.rt, camp.world, release_pk(camp.rt, "4.1.0"), "1.0.1f", carries=(HEARTBLEED,))
    return camp


def clean_sbom(camp: Camp, version: str = "4.2.0") -> None:
    """An SBOM of ``version`` whose openssl 1.0.1g no longer carries Heartbleed."""
    add_sbom(camp.rt, camp.world, release_pk(camp.rt, version), "1.0.1g")
