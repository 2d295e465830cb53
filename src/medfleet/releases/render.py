"""Human- and machine-readable renderings of a release record; both carry its signatures."""

from __future__ import annotations

from typing import Any

from medfleet.accounts.signatures import SignatureView
from medfleet.releases.tables import Release


def release_dict(release: Release, signatures: list[SignatureView]) -> dict[str, Any]:
    """JSON-ready release record, with every signature and its validity."""
    notes = release.notes
    artifact = (
        None
        if release.artifact_sha256 is None
        else {
            "sha256": release.artifact_sha256,
            "filename": release.artifact_filename,
            "length": release.artifact_length,
        }
    )
    sbom = (
        None
        if release.sbom_sha256 is None
        else {"sha256": release.sbom_sha256, "format": release.sbom_format}
    )
    target = (
        None
        if release.target_path is None
        else {
            "path": release.target_path,
            "sha256": release.target_sha256,
            "length": release.target_length,
            "deltas": list(release.target_deltas or []),
        }
    )
    return {
        "id": release.id,
        "model": release.model,
        "version": release.version,
        "release_id": release.release_id,
        "version_number": release.version_number,
        "min_from_version_number": release.min_from_version_number,
        "build_id": release.build_id,
        "hardware_revisions": list(release.hardware_revisions),
        "state": release.state,
        "artifact": artifact,
        "sbom": sbom,
        "notes": {
            "what_changed": notes.what_changed,
            "risk_summary": notes.risk_summary,
            "downtime_minutes": notes.downtime_minutes,
            "compatibility": notes.compatibility,
        },
        "change_requests": [change.key for change in release.change_requests],
        "author": release.author.username,
        "created_at": release.created_at.isoformat(),
        "updated_at": release.updated_at.isoformat(),
        "released_at": release.released_at.isoformat() if release.released_at else None,
        "withdrawn_at": release.withdrawn_at.isoformat() if release.withdrawn_at else None,
        "withdrawn_reason": release.withdrawn_reason,
        "signed_target": target,
        "signatures": [view.as_dict() for view in signatures],
        "signature_lines": [view.line() for view in signatures],
    }


def _or_none(text: str) -> str:
    return text or "(not written yet)"


def render_text(release: Release, signatures: list[SignatureView]) -> str:
    """Plain text for terminals and printouts; the signature block is never left out."""
    notes = release.notes
    downtime = "?" if notes.downtime_minutes is None else f"{notes.downtime_minutes} minutes"
    image = (
        f"{release.artifact_filename} ({release.artifact_length} bytes, "
        f"sha256 {release.artifact_sha256})"
        if release.artifact_sha256
        else "(none)"
    )
    lines = [
        f"Release {release.model} {release.version} (#{release.version_number}) [{release.state}]",
        f"Author: {release.author.full_name} ({release.author.username})",
        f"Build: {release.build_id or '(not set)'}   "
        f"Hardware: {', '.join(release.hardware_revisions) or '(none)'}   "
        f"From version #: {release.min_from_version_number or 'any'}",
        f"Image: {image}",
        f"SBOM: {release.sbom_format} {release.sbom_sha256}"
        if release.sbom_sha256
        else "SBOM: (none)",
        "Change requests: "
        + (", ".join(change.key for change in release.change_requests) or "(none)"),
        "",
        "What changed and why:",
        f"  {_or_none(notes.what_changed)}",
        "Risk summary:",
        f"  {_or_none(notes.risk_summary)}",
        f"Expected downtime: {downtime}",
        "Compatibility:",
        f"  {_or_none(notes.compatibility)}",
    ]
    if release.target_path:
        lines += ["", f"Signed target: {release.target_path} (sha256 {release.target_sha256})"]
        lines += [f"  delta {delta['path']}" for delta in release.target_deltas or []]
    if release.withdrawn_reason:
        lines += ["", f"Withdrawn: {release.withdrawn_reason}"]
    lines += ["", "Electronic signatures:"]
    lines += [f"  {view.line()}" for view in signatures] or ["  (none)"]
    return "\n".join(lines)
