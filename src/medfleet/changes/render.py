"""Human- and machine-readable renderings of a change request; both carry its signatures."""

from __future__ import annotations

from typing import Any

from medfleet.accounts.signatures import SignatureView
from medfleet.changes.tables import ChangeRequest


def change_dict(change: ChangeRequest, signatures: list[SignatureView]) -> dict[str, Any]:
    """JSON-ready change request, with every signature and its validity."""
    return {
        "key": change.key,
        "id": change.id,
        "title": change.title,
        "description": change.description,
        "author": change.author.username,
        "state": change.state,
        "change_class": change.change_class,
        "device_model": change.device_model,
        "safety_class": safety.value if (safety := change.safety_class) else None,
        "software_items": [
            {"name": item.name, "safety_class": item.safety_class} for item in change.items
        ],
        "problem_reports": [report.key for report in change.problems],
        "created_at": change.created_at.isoformat(),
        "updated_at": change.updated_at.isoformat(),
        "signatures": [view.as_dict() for view in signatures],
        "signature_lines": [view.line() for view in signatures],
    }


def render_text(change: ChangeRequest, signatures: list[SignatureView]) -> str:
    """Plain text for terminals and printouts; the signature block is never left out."""
    lines = [
        f"{change.key}: {change.title}",
        f"Author: {change.author.full_name} ({change.author.username})",
        f"State: {change.state}   Class: {change.change_class or '-'}   "
        f"Device model: {change.device_model or '-'}   "
        f"Safety class: {safety.value if (safety := change.safety_class) else '-'}",
        "Software items: "
        + (", ".join(f"{i.name} ({i.safety_class})" for i in change.items) or "-"),
        "Problem reports: " + (", ".join(p.key for p in change.problems) or "-"),
        f"Created: {change.created_at:%Y-%m-%d %H:%M} UTC   "
        f"Updated: {change.updated_at:%Y-%m-%d %H:%M} UTC",
        "",
        change.description or "(no description)",
        "",
        "Electronic signatures:",
    ]
    lines += [f"  {view.line()}" for view in signatures] or ["  (none)"]
    return "\n".join(lines)
