"""JSON-ready renderings of requirements, their versions and tests, shared by API and CLI."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from medfleet.trace.links import controls_of, requirements_of, tests_of
from medfleet.trace.service import current_version, history
from medfleet.trace.tables import Requirement, RequirementVersion, TraceTest


def version_dict(version: RequirementVersion) -> dict[str, Any]:
    """One version: what it said, its action, author, time and change request."""
    return {
        "version": version.version,
        "action": version.action,
        "kind": version.kind,
        "title": version.title,
        "text": version.text,
        "software_item": version.software_item,
        "change_request": version.change_request.key if version.change_request else None,
        "author": version.author.username,
        "created_at": version.created_at.isoformat(),
    }


def requirement_dict(
    session: Session, requirement: Requirement, with_history: bool = False
) -> dict[str, Any]:
    """A requirement at its current version, with its linked tests and risk controls."""
    current = current_version(session, requirement)
    document = {
        "key": requirement.key,
        "retired": requirement.retired,
        **version_dict(current),
        "tests": tests_of(session, requirement),
        "controls": controls_of(session, requirement),
    }
    if with_history:
        document["history"] = [version_dict(v) for v in history(session, requirement)]
    return document


def trace_test_dict(session: Session, test: TraceTest) -> dict[str, Any]:
    """A test with its level and the requirements it verifies."""
    return {
        "test": test.key,
        "level": test.level,
        "requirements": requirements_of(session, test),
    }
