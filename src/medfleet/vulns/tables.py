"""Tables of vulnerability management: SBOMs, advisories, findings, VEX, assessments, notices.

How the rows hang together:

- ``Sbom`` is a release's imported software bill of materials (one per release; a re-import
  replaces it) and ``SbomComponent`` its components. ``package_key`` is the component's purl
  without version, qualifiers and subpath (``pkg:deb/debian/openssl``) and ``cpe_key`` its CPE
  ``vendor:product`` (``openssl:openssl``): the two keys matching looks advisories up by.
- ``Vulnerability`` is one finding's identity. Every id an advisory goes by (CVE, GHSA, DSA, …)
  is a ``VulnerabilityAlias`` of exactly one vulnerability, so a CVE and its GHSA are one.
- ``Advisory`` is one record from one source (an OSV file, an NVD CVE, a VEX document's
  vulnerability), unique per (source, source id); ``content_sha256`` makes a re-import of the
  same record a no-op. ``AdvisoryPackage`` is one affected package of it, keyed like a component.
- ``Finding`` says that a release's component carries a vulnerability, which advisory matched
  and why. ``active`` turns false when no advisory matches any more (withdrawn, or revised).
- ``VexStatement`` is append-only: the latest statement per (release, component, vulnerability)
  is the one in force. It names its component by purl (else bom-ref), not by row, so it
  outlives a re-imported SBOM; ``component_ref`` null means it covers the whole release.
- ``VulnAssessment`` is the manufacturer's risk assessment of a vulnerability (controlled or
  uncontrolled), with the awareness date its deadlines count from; ``DeadlineAlert`` records
  each overdue alert once; ``PatchPolicy`` holds the manufacturer's declared routine cycle.
- ``HospitalNotice`` is what one hospital was told about one vulnerability (revisions append).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from medfleet.db.base import Base, UTCDateTime


class Sbom(Base):
    """A release's imported SBOM: its format and the document it came from."""

    __tablename__ = "sbom"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_pk: Mapped[int] = mapped_column(ForeignKey("release_record.id"), unique=True)
    format: Mapped[str] = mapped_column(String(16))  # "cyclonedx" | "spdx"
    spec_version: Mapped[str] = mapped_column(String(16))  # "1.6", "SPDX-2.3"
    document_sha256: Mapped[str] = mapped_column(String(64))
    serial_number: Mapped[str | None] = mapped_column(String(200))
    component_count: Mapped[int] = mapped_column(Integer)
    imported_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SbomComponent(Base):
    """One component of a release's SBOM, with what FDA expects to know of it."""

    __tablename__ = "sbom_component"
    __table_args__ = (UniqueConstraint("sbom_id", "bom_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sbom_id: Mapped[int] = mapped_column(ForeignKey("sbom.id", ondelete="CASCADE"), index=True)
    release_pk: Mapped[int] = mapped_column(ForeignKey("release_record.id"), index=True)
    bom_ref: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(32))  # CycloneDX component type
    name: Mapped[str] = mapped_column(String(300))
    version: Mapped[str | None] = mapped_column(String(200))
    purl: Mapped[str | None] = mapped_column(String(1000))
    package_key: Mapped[str | None] = mapped_column(String(500), index=True)
    cpe: Mapped[str | None] = mapped_column(String(500))
    cpe_key: Mapped[str | None] = mapped_column(String(300), index=True)
    supplier: Mapped[str | None] = mapped_column(String(300))
    hashes: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # [{"alg": …, "content": …}]
    support_level: Mapped[str | None] = mapped_column(String(40))
    end_of_support: Mapped[date | None] = mapped_column(Date)


class Vulnerability(Base):
    """One vulnerability, whatever ids its advisories give it; ``key`` is the preferred id."""

    __tablename__ = "vulnerability"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)  # the CVE id when there is one
    summary: Mapped[str] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(16))  # critical, high, medium, low, none
    cvss_score: Mapped[float | None] = mapped_column(Float)
    cvss_vector: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    modified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # all advisories
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VulnerabilityAlias(Base):
    """One id (CVE-…, GHSA-…, DSA-…) and the vulnerability it names."""

    __tablename__ = "vulnerability_alias"

    alias: Mapped[str] = mapped_column(String(100), primary_key=True)
    vulnerability_id: Mapped[int] = mapped_column(ForeignKey("vulnerability.id"), index=True)


class Advisory(Base):
    """One advisory record from one source, as last imported."""

    __tablename__ = "advisory"
    __table_args__ = (UniqueConstraint("source", "source_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # osv, nvd, cyclonedx-vex, openvex
    source_id: Mapped[str] = mapped_column(String(200))
    vulnerability_id: Mapped[int] = mapped_column(ForeignKey("vulnerability.id"), index=True)
    summary: Mapped[str] = mapped_column(Text)
    modified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    content_sha256: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AdvisoryPackage(Base):
    """One affected package of an advisory: its key, its ranges and its listed versions.

    ``ranges`` is a list of OSV-style ranges, ``[{"type": "ECOSYSTEM", "events": [{"introduced":
    "1.0.1"}, {"fixed": "1.0.1g"}]}]``; ``versions`` the explicitly listed affected versions.
    """

    __tablename__ = "advisory_package"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    advisory_id: Mapped[int] = mapped_column(
        ForeignKey("advisory.id", ondelete="CASCADE"), index=True
    )
    vulnerability_id: Mapped[int] = mapped_column(ForeignKey("vulnerability.id"), index=True)
    package_key: Mapped[str | None] = mapped_column(String(500), index=True)
    cpe_key: Mapped[str | None] = mapped_column(String(300), index=True)
    ecosystem: Mapped[str | None] = mapped_column(String(64))
    ranges: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    versions: Mapped[list[str]] = mapped_column(JSON)


class Finding(Base):
    """A release's component carries a vulnerability: which advisory said so, and why."""

    __tablename__ = "vuln_finding"
    __table_args__ = (
        UniqueConstraint("release_pk", "component_id", "vulnerability_id"),
        # Which releases have an active finding for a vulnerability, from the index alone.
        Index(
            "ix_vuln_finding_vulnerability_active_release",
            "vulnerability_id",
            "active",
            "release_pk",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_pk: Mapped[int] = mapped_column(ForeignKey("release_record.id"), index=True)
    component_id: Mapped[int] = mapped_column(
        ForeignKey("sbom_component.id", ondelete="CASCADE"), index=True
    )
    vulnerability_id: Mapped[int] = mapped_column(ForeignKey("vulnerability.id"))
    advisory_id: Mapped[int | None] = mapped_column(ForeignKey("advisory.id", ondelete="SET NULL"))
    matched_by: Mapped[str] = mapped_column(String(8))  # "purl" | "cpe"
    reason: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)
    first_matched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VexStatement(Base):
    """One VEX statement (append-only); the latest per release, component and vulnerability holds.

    ``state`` and ``justification`` use CycloneDX's analysis values (``medfleet.vulns.vex``).
    """

    __tablename__ = "vex_statement"
    __table_args__ = (Index("ix_vex_statement_subject", "release_pk", "vulnerability_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_pk: Mapped[int] = mapped_column(ForeignKey("release_record.id"))
    component_ref: Mapped[str | None] = mapped_column(String(1000))  # purl, else bom-ref
    vulnerability_id: Mapped[int] = mapped_column(ForeignKey("vulnerability.id"), index=True)
    state: Mapped[str] = mapped_column(String(32))
    justification: Mapped[str | None] = mapped_column(String(48))
    # The OpenVEX label of a statement made in OpenVEX (five labels map onto fewer CycloneDX
    # justifications); it goes back out unchanged.
    openvex_justification: Mapped[str | None] = mapped_column(String(64))
    responses: Mapped[list[str]] = mapped_column(JSON)
    detail: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    source: Mapped[str] = mapped_column(String(32))  # manual, cyclonedx-vex, openvex
    stated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PatchPolicy(Base):
    """A manufacturer's declared patch cycle and its deadlines for uncontrolled risk."""

    __tablename__ = "patch_policy"

    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), primary_key=True)
    routine_cycle_days: Mapped[int] = mapped_column(Integer)
    inform_within_days: Mapped[int] = mapped_column(Integer)
    fix_within_days: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VulnAssessment(Base):
    """The manufacturer's assessment of one vulnerability, and its deadlines."""

    __tablename__ = "vuln_assessment"
    __table_args__ = (UniqueConstraint("org_id", "vulnerability_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    vulnerability_id: Mapped[int] = mapped_column(ForeignKey("vulnerability.id"), index=True)
    risk: Mapped[str] = mapped_column(String(16))  # "controlled" | "uncontrolled"
    critical: Mapped[bool] = mapped_column(Boolean)
    rationale: Mapped[str] = mapped_column(Text)
    compensating_controls: Mapped[str] = mapped_column(Text)
    planned_fix: Mapped[str] = mapped_column(Text)
    fixed_release_pk: Mapped[int | None] = mapped_column(ForeignKey("release_record.id"))
    aware_at: Mapped[datetime] = mapped_column(UTCDateTime())
    inform_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fix_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    customers_informed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fix_distributed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assessed_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DeadlineAlert(Base):
    """An overdue deadline, alerted once (``kind``: "inform" or "fix")."""

    __tablename__ = "vuln_deadline_alert"
    __table_args__ = (UniqueConstraint("assessment_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("vuln_assessment.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HospitalNotice(Base):
    """What one hospital was told about one vulnerability; each revision is a new row."""

    __tablename__ = "hospital_notice"
    __table_args__ = (UniqueConstraint("vulnerability_id", "org_id", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vulnerability_id: Mapped[int] = mapped_column(ForeignKey("vulnerability.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    issued_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
