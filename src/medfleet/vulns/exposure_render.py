"""Exposure and hospital notices as JSON documents and Rich tables, for the API and the CLI.

The JSON shapes are the same for ``GET .../exposure`` and ``medfleet vulns exposure --json``,
and for the notice routes and ``medfleet vulns notices ... --json``. They only carry what the
service put in scope: a hospital user's exposure has no other hospital and no internal
assessment fields to render.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from medfleet.vulns.exposure_model import (
    AffectedRelease,
    AssessmentView,
    ExposedDevice,
    Exposure,
    FixedRelease,
    HospitalExposure,
    SiteExposure,
    VulnerabilitySummary,
)
from medfleet.vulns.notices import NoticeIssue, NoticeView


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def vulnerability_dict(vulnerability: VulnerabilitySummary) -> dict[str, Any]:
    """The vulnerability's key, aliases, severity, score, summary and withdrawal."""
    return {
        "key": vulnerability.key,
        "aliases": list(vulnerability.aliases),
        "severity": vulnerability.severity,
        "cvss_score": vulnerability.cvss_score,
        "summary": vulnerability.summary,
        "withdrawn": vulnerability.withdrawn,
    }


def _release_dict(release: AffectedRelease) -> dict[str, Any]:
    return {
        "release_id": release.release_id,
        "model": release.model,
        "version": release.version,
        "version_number": release.version_number,
        "state": release.state,
        "device_count": release.device_count,
        "components": [
            {
                "name": c.name,
                "version": c.version,
                "purl": c.purl,
                "cpe": c.cpe,
                "matched_by": c.matched_by,
                "reason": c.reason,
            }
            for c in release.components
        ],
    }


def _fixed_dict(fixed: FixedRelease) -> dict[str, Any]:
    return {
        "model": fixed.model,
        "highest_affected_version": fixed.highest_affected_version,
        "release_id": fixed.release_id,
        "version": fixed.version,
        "version_number": fixed.version_number,
    }


def _device_dict(device: ExposedDevice) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "serial": device.serial,
        "model": device.model,
        "installed_version": device.installed_version,
        "department": device.department,
        "is_test_device": device.is_test_device,
    }


def _site_dict(site: SiteExposure) -> dict[str, Any]:
    return {
        "id": site.id,
        "name": site.name,
        "device_count": site.device_count,
        "test_device_count": site.test_device_count,
        "devices": [_device_dict(device) for device in site.devices],
    }


def _hospital_dict(hospital: HospitalExposure) -> dict[str, Any]:
    return {
        "id": hospital.id,
        "name": hospital.name,
        "device_count": hospital.device_count,
        "test_device_count": hospital.test_device_count,
        "sites": [_site_dict(site) for site in hospital.sites],
    }


def _assessment_dict(assessment: AssessmentView | None) -> dict[str, Any] | None:
    if assessment is None:
        return None
    document: dict[str, Any] = {
        "risk": assessment.risk,
        "compensating_controls": assessment.compensating_controls,
        "planned_fix": assessment.planned_fix,
        "fixed_release": assessment.fixed_release_id,
    }
    internal = assessment.internal
    if internal is not None:
        document |= {
            "critical": internal.critical,
            "rationale": internal.rationale,
            "aware_at": _iso(internal.aware_at),
            "inform_due_at": _iso(internal.inform_due_at),
            "fix_due_at": _iso(internal.fix_due_at),
            "customers_informed_at": _iso(internal.customers_informed_at),
            "fix_distributed_at": _iso(internal.fix_distributed_at),
            "assessed_at": _iso(internal.assessed_at),
        }
    return document


def exposure_dict(exposure: Exposure) -> dict[str, Any]:
    """The exposure document: vulnerability, releases, fixes, assessment, hospitals, counts."""
    return {
        "vulnerability": vulnerability_dict(exposure.vulnerability),
        "releases": [_release_dict(release) for release in exposure.releases],
        "fixed_releases": [_fixed_dict(fixed) for fixed in exposure.fixed_releases],
        "assessment": _assessment_dict(exposure.assessment),
        "hospitals": [_hospital_dict(hospital) for hospital in exposure.hospitals],
        "device_count": exposure.device_count,
        "test_device_count": exposure.test_device_count,
        "devices_listed": exposure.devices_listed,
        "device_limit": exposure.device_limit,
    }


def notice_dict(view: NoticeView, *, with_content: bool = True) -> dict[str, Any]:
    """A notice with its acknowledgement state (and its content unless ``with_content`` is off)."""
    notice = view.notice
    document: dict[str, Any] = {
        "id": notice.id,
        "vulnerability": view.vulnerability_key,
        "org_id": notice.org_id,
        "hospital": view.hospital,
        "revision": notice.revision,
        "current": view.current,
        "issued_by": view.issued_by,
        "issued_at": _iso(notice.issued_at),
        "acknowledged_by": view.acknowledged_by,
        "acknowledged_at": _iso(notice.acknowledged_at),
        "device_count": notice.content["device_count"],
    }
    if with_content:
        document["content"] = notice.content
    return document


def issue_dict(issue: NoticeIssue) -> dict[str, Any]:
    """What an issue did: the new revisions (with content) and the hospitals left unchanged."""
    return {
        "vulnerability": issue.vulnerability_key,
        "issued": [notice_dict(view) for view in issue.issued],
        "unchanged": [notice_dict(view, with_content=False) for view in issue.unchanged],
    }


def _releases_table(exposure: Exposure) -> Table:
    table = Table("release", "state", "devices", "component", "why", title="affected releases")
    for release in exposure.releases:
        table.add_row(
            release.release_id,
            release.state,
            str(release.device_count),
            "\n".join(f"{c.name} {c.version or ''}" for c in release.components),
            "\n".join(c.reason for c in release.components),
        )
    return table


def _fixes_text(exposure: Exposure) -> Text:
    return Text(
        "\n".join(
            f"{fixed.model}: "
            + (f"fixed in {fixed.release_id}" if fixed.release_id else "no fix yet")
            for fixed in exposure.fixed_releases
        )
    )


def _sites_table(exposure: Exposure) -> Table:
    table = Table(
        "hospital", "site", "devices", "test devices",
        title=f"exposed devices: {exposure.device_count}",
    )  # fmt: skip
    for hospital in exposure.hospitals:
        for site in hospital.sites:
            table.add_row(
                hospital.name, site.name or "(no site)", str(site.device_count),
                str(site.test_device_count),
            )  # fmt: skip
    return table


def _devices_table(hospital: HospitalExposure) -> Table:
    table = Table("serial", "device", "version", "site", "department", "test", title=hospital.name)
    table.columns[0].no_wrap = True
    for site in hospital.sites:
        for d in site.devices:
            table.add_row(
                d.serial, d.device_id, f"{d.model} {d.installed_version}",
                site.name or "(no site)", d.department or "", "test" if d.is_test_device else "",
            )  # fmt: skip
    return table


def exposure_text(exposure: Exposure) -> RenderableType:
    """A person's view of an exposure: the vulnerability, releases, assessment, devices."""
    vulnerability = exposure.vulnerability
    parts: list[RenderableType] = [
        Text.assemble(
            (vulnerability.key, "bold"),
            f" ({', '.join(vulnerability.aliases)})",
            f"  severity {vulnerability.severity or 'unknown'}",
            "  WITHDRAWN" if vulnerability.withdrawn else "",
        ),
        Text(vulnerability.summary),
        _releases_table(exposure),
        _fixes_text(exposure),
    ]
    assessment = exposure.assessment
    if assessment is None:
        parts.append(Text("not assessed yet"))
    else:
        parts.append(
            Text(
                f"risk: {assessment.risk}\ncompensating controls: "
                f"{assessment.compensating_controls}\nplanned fix: {assessment.planned_fix}"
            )
        )
    parts.append(_sites_table(exposure))
    parts.extend(_devices_table(hospital) for hospital in exposure.hospitals)
    if exposure.devices_listed < exposure.device_count:
        parts.append(Text(f"{exposure.devices_listed} of {exposure.device_count} devices listed"))
    return Group(*parts)


def notices_table(views: list[NoticeView]) -> Table:
    """Notices with their revision and acknowledgement state, one row each."""
    table = Table("id", "vulnerability", "hospital", "rev", "devices", "issued", "acknowledged")
    for view in views:
        notice = view.notice
        revision = str(notice.revision) + ("" if view.current else " (superseded)")
        acknowledged = (
            "-"
            if notice.acknowledged_at is None
            else f"{notice.acknowledged_at:%Y-%m-%d %H:%M} by {view.acknowledged_by}"
        )
        table.add_row(
            str(notice.id), view.vulnerability_key, view.hospital, revision,
            str(notice.content["device_count"]), f"{notice.issued_at:%Y-%m-%d %H:%M}",
            acknowledged,
        )  # fmt: skip
    return table


def notice_text(view: NoticeView) -> RenderableType:
    """One notice as a hospital reads it: the vulnerability, what to do, the devices."""
    content = view.notice.content
    vulnerability = content["vulnerability"]
    devices = Table("device", "serial", "model", "version", "site", "department", "test")
    for d in content["devices"]:
        devices.add_row(
            d["device_id"], d["serial"], d["model"], d["installed_version"], d["site"] or "",
            d["department"] or "", "test" if d["is_test_device"] else "",
        )  # fmt: skip
    fixes = ", ".join(
        f["release_id"] or f"{f['model']}: no fix yet" for f in content["fixed_releases"]
    )
    severity = vulnerability["severity"] or "unknown"
    return Group(
        Text(f"notice {view.notice.id} to {view.hospital}, revision {view.notice.revision}"),
        Text.assemble((vulnerability["key"], "bold"), f"  severity {severity}"),
        Text(vulnerability["summary"]),
        Text(f"compensating controls: {content['compensating_controls']}"),
        Text(f"planned fix: {content['planned_fix']}"),
        Text(f"fixed release: {content['fixed_release'] or fixes or 'none yet'}"),
        devices,
    )
