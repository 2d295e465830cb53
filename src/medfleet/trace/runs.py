"""Verification runs: importing a JUnit XML file for a build, and reading runs back.

An import is one transaction and one audit event: the run, one result per test case, the tests
it names for the first time, the levels and the requirement links its properties declare. The
same file (by SHA-256) for the same build is the same run: importing it again returns that run
and changes nothing. Any problem with the file or the requirements it names refuses the whole
file, so a run is either imported completely or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.trace.access import change_request_id, check_writer, is_staff
from medfleet.trace.errors import (
    RequirementRetiredError,
    RunConflictError,
    UnknownReferenceError,
)
from medfleet.trace.junit import ParsedRun, parse_junit
from medfleet.trace.links import JUNIT, ensure_test_link
from medfleet.trace.model import Outcome, check_build_id
from medfleet.trace.tables import Requirement, RunResult, TraceTest, VerificationRun

MAX_FILE_NAME = 255


@dataclass(frozen=True)
class ImportOutcome:
    """The run a file landed in; ``created`` is False when the file was imported before."""

    run: VerificationRun
    created: bool
    links_added: int = 0
    levels_set: int = 0


def _file_name(name: str | None) -> str:
    base = PurePath((name or "").replace("\\", "/")).name.strip()
    return (base or "junit.xml")[:MAX_FILE_NAME]


def _requirements(session: Session, org_id: int, parsed: ParsedRun) -> dict[str, Requirement]:
    wanted = {key for case in parsed.cases for key in case.requirements}
    if not wanted:
        return {}
    found = {
        requirement.key: requirement
        for requirement in session.scalars(
            select(Requirement).where(Requirement.org_id == org_id, Requirement.key.in_(wanted))
        )
    }
    missing = sorted(wanted - found.keys())
    if missing:
        where = sorted(c.key for c in parsed.cases if set(c.requirements) & set(missing))
        raise UnknownReferenceError(
            f"the JUnit file names unknown requirement(s) {', '.join(missing)} "
            f"(in {', '.join(where[:5])}{' ...' if len(where) > 5 else ''}); nothing imported"
        )
    retired = sorted(key for key, requirement in found.items() if requirement.retired)
    if retired:
        raise RequirementRetiredError(
            f"the JUnit file links tests to retired requirement(s) {', '.join(retired)}; "
            "nothing imported"
        )
    return found


def import_run(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    data: bytes,
    build_id: str,
    file_name: str | None = None,
    change_key: str | None = None,
) -> ImportOutcome:
    """Import a JUnit XML file as a verification run of ``build_id``.

    Raises:
        TraceNotFoundError, TraceNotAllowedError: hospital staff, read-only roles.
        InvalidBuildError: malformed build id.
        JUnitError: malformed, hostile or empty JUnit XML (see ``trace.junit``).
        UnknownReferenceError, RequirementRetiredError: the file links tests to requirements
            that do not exist or are retired.
        ChangeRequestNotFoundError: ``change_key`` names no change request.
        RunConflictError: the same file was imported for the build under another change.
    """
    check_writer(principal, "importing test results")
    build = check_build_id(build_id)
    parsed = parse_junit(data)
    change_id = change_request_id(session, principal, change_key)
    existing = session.scalar(
        select(VerificationRun).where(
            VerificationRun.org_id == principal.org_id,
            VerificationRun.build_id == build,
            VerificationRun.source_sha256 == parsed.sha256,
        )
    )
    if existing is not None:
        if change_id is not None and existing.change_request_id != change_id:
            raise RunConflictError(
                f"this file was imported for build {build} already (run {existing.id}) "
                "under another change request"
            )
        return ImportOutcome(existing, created=False)
    requirements = _requirements(session, principal.org_id, parsed)
    now = audit.clock.now()
    run = VerificationRun(
        org_id=principal.org_id,
        build_id=build,
        source_sha256=parsed.sha256,
        file_name=_file_name(file_name),
        change_request_id=change_id,
        imported_by_id=principal.user_id,
        imported_at=now,
        total=len(parsed.cases),
        passed=parsed.count(Outcome.PASSED),
        failed=parsed.count(Outcome.FAILED),
        errors=parsed.count(Outcome.ERROR),
        skipped=parsed.count(Outcome.SKIPPED),
    )
    session.add(run)
    session.flush()
    tests = {
        test.key: test
        for test in session.scalars(select(TraceTest).where(TraceTest.org_id == principal.org_id))
    }
    links_added = levels_set = 0
    for case in parsed.cases:
        test = tests.get(case.key)
        if test is None:
            test = TraceTest(org_id=principal.org_id, key=case.key, level=None, created_at=now)
            session.add(test)
            session.flush()
            tests[case.key] = test
        if case.level is not None and test.level != case.level.value:
            test.level = case.level.value
            levels_set += 1
        session.add(
            RunResult(
                org_id=principal.org_id,
                run_id=run.id,
                test_id=test.id,
                outcome=case.outcome.value,
                message=case.message,
            )
        )
        for key in case.requirements:
            links_added += ensure_test_link(
                session, requirements[key], test, JUNIT, principal.actor, now
            )
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "trace.run.imported",
            "verification_run",
            str(run.id),
            {
                **totals(run),
                "build_id": build,
                "sha256": parsed.sha256,
                "file_name": run.file_name,
                "change_request": change_key,
                "links_added": links_added,
                "levels_set": levels_set,
            },
        ),
    )
    return ImportOutcome(run, created=True, links_added=links_added, levels_set=levels_set)


def totals(run: VerificationRun) -> dict[str, int]:
    """The run's counts by outcome."""
    return {
        "total": run.total,
        "passed": run.passed,
        "failed": run.failed,
        "error": run.errors,
        "skipped": run.skipped,
    }


def list_runs(
    session: Session, principal: Principal, build_id: str | None = None
) -> list[VerificationRun]:
    """The organization's runs, newest first, optionally of one build (empty for hospitals).

    Raises:
        InvalidBuildError: malformed build id.
    """
    if not is_staff(principal):
        return []
    query = select(VerificationRun).where(VerificationRun.org_id == principal.org_id)
    if build_id is not None:
        query = query.where(VerificationRun.build_id == check_build_id(build_id))
    return list(
        session.scalars(
            query.order_by(VerificationRun.imported_at.desc(), VerificationRun.id.desc())
        )
    )


def run_dict(run: VerificationRun) -> dict[str, Any]:
    """JSON-ready run summary."""
    return {
        "id": run.id,
        "build_id": run.build_id,
        "sha256": run.source_sha256,
        "file_name": run.file_name,
        "change_request": run.change_request.key if run.change_request else None,
        "imported_by": run.imported_by.username,
        "imported_at": run.imported_at.isoformat(),
        **totals(run),
    }
