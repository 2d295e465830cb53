"""What an exposure query answers: pure dataclasses shared by the service, notices and views.

``medfleet.vulns.exposure`` fills them; ``exposure_render`` turns them into JSON and tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class VulnerabilitySummary:
    """The vulnerability as exposure and notices name it."""

    id: int
    key: str
    aliases: tuple[str, ...]
    severity: str | None
    cvss_score: float | None
    summary: str
    withdrawn: bool


@dataclass(frozen=True)
class ExposedComponent:
    """A component of an affected release that carries the vulnerability, and why."""

    name: str
    version: str | None
    purl: str | None
    cpe: str | None
    matched_by: str
    reason: str


@dataclass(frozen=True)
class AffectedRelease:
    """A release with a counting finding; ``device_count`` within the caller's scope."""

    release_id: str
    model: str
    version: str
    version_number: int
    state: str
    components: tuple[ExposedComponent, ...]
    device_count: int


@dataclass(frozen=True)
class FixedRelease:
    """For one affected model: the release that fixes it (``release_id`` None: no fix yet)."""

    model: str
    highest_affected_version: str
    release_id: str | None
    version: str | None
    version_number: int | None


@dataclass(frozen=True)
class ExposedDevice:
    """One device running an affected release."""

    device_id: str
    serial: str
    model: str
    installed_version: str
    department: str | None
    is_test_device: bool


@dataclass(frozen=True)
class SiteExposure:
    """Exposed devices of one site (``id`` None: devices not placed at a site)."""

    id: int | None
    name: str | None
    device_count: int
    test_device_count: int
    devices: tuple[ExposedDevice, ...]


@dataclass(frozen=True)
class HospitalExposure:
    """Exposed devices of one hospital, per site."""

    id: int
    name: str
    device_count: int
    test_device_count: int
    sites: tuple[SiteExposure, ...]


@dataclass(frozen=True)
class AssessmentDeadlines:
    """The manufacturer-internal part of an assessment: rationale, dates and deadlines."""

    critical: bool
    rationale: str
    aware_at: datetime
    inform_due_at: datetime | None
    fix_due_at: datetime
    customers_informed_at: datetime | None
    fix_distributed_at: datetime | None
    assessed_at: datetime


@dataclass(frozen=True)
class AssessmentView:
    """The manufacturer's assessment; ``internal`` is None for hospital users."""

    risk: str
    compensating_controls: str
    planned_fix: str
    fixed_release_id: str | None
    internal: AssessmentDeadlines | None


@dataclass(frozen=True)
class Exposure:
    """The answer of ``vulnerability_exposure`` for one caller.

    ``device_count`` counts every exposed device in scope; ``devices_listed`` how many device
    rows the sites carry (fewer than ``device_count`` when ``device_limit`` cut the list).
    """

    vulnerability: VulnerabilitySummary
    releases: tuple[AffectedRelease, ...]
    fixed_releases: tuple[FixedRelease, ...]
    hospitals: tuple[HospitalExposure, ...]
    assessment: AssessmentView | None
    device_count: int
    test_device_count: int
    devices_listed: int
    device_limit: int | None
