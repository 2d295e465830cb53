"""The manufacturer's controlled path from a problem report to a released, signed image.

Used by ``medfleet demo``: every step goes through the same services the API and the CLI call,
so the demo's audit trail is the one a real release leaves. ``controlled_release`` records a
problem report, opens a change request that addresses it, classifies it (a software item of
IEC 62304 class B), adds the requirement it changes, has QA/RA answer the open regulatory
questions, runs and e-signs the assessment, imports a passing JUnit run of the build, creates
the release record with its image and notes, e-signs it as authored, verifies, approves and
publishes it into the image repository (TUF targets, the model's delegated role).

The people are fixed by role: an engineer authors, QA/RA approves and releases (so author and
approver always differ, as class B requires). Every e-signature re-authenticates its signer.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from medfleet.accounts.auth import authenticate
from medfleet.accounts.model import Principal
from medfleet.accounts.signatures import Meaning
from medfleet.changes import fact_finding, items, problems, regulatory, service, workflow
from medfleet.changes.assessment.decide import open_questions
from medfleet.changes.model import ChangeClass, ChangeState, SafetyClass
from medfleet.db.engine import transaction
from medfleet.releases import approval, publishing, records
from medfleet.releases.records import ReleaseFields
from medfleet.runtime import Runtime
from medfleet.trace import runs
from medfleet.trace import service as trace

SOFTWARE_ITEM = "pump-controller"
_TO_APPROVAL = (
    ChangeState.ASSESSMENT,
    ChangeState.IMPLEMENTATION,
    ChangeState.VERIFICATION,
    ChangeState.APPROVAL,
)


@dataclass(frozen=True)
class Manufacturer:
    """Who does what at the manufacturer, and the password every demo user shares."""

    admin: str
    engineer: str
    qa: str
    password: str

    def login(self, rt: Runtime, username: str, purpose: str = "login") -> Principal:
        """Authenticate ``username`` (each e-signature re-authenticates, purpose esignature)."""
        return authenticate(rt, username, self.password, purpose)


@dataclass(frozen=True)
class ReleaseSpec:
    """One release to take through the controlled path."""

    model: str
    version: str
    version_number: int
    hardware_revisions: tuple[str, ...]
    image: bytes
    problem: str
    change_title: str
    what_changed: str
    risk_summary: str
    downtime_minutes: int
    compatibility: str
    min_from_version_number: int | None = None


@dataclass(frozen=True)
class Released:
    """A published release: its change request, requirement and signed target."""

    model: str
    version: str
    version_number: int
    change_key: str
    problem_key: str
    requirement: str
    target_path: str
    target_sha256: str
    target_length: int


def prepare_release_signing(rt: Runtime, who: Manufacturer, model: str) -> None:
    """Register the software item, give QA/RA a targets key and delegate ``model`` to them.

    The admin holds the top-level targets key since ``medfleet init``; QA/RA takes the model's
    delegated role over with threshold 1 (one holder, as in a small demo; production has more).
    """
    admin = who.login(rt, who.admin, "esignature")
    qa = who.login(rt, who.qa, "esignature")
    with transaction(rt.sessions) as session:
        items.register(session, rt.audit, qa, SOFTWARE_ITEM, SafetyClass.B, "infusion control loop")
        publishing.create_signing_key(session, rt.audit, rt.distribution.keys, qa, who.password)
        publishing.delegate_model(
            session,
            rt.audit,
            rt.distribution,
            admin,
            who.password,
            model,
            [who.qa],
            1,
            {who.qa: who.password},
        )


def _approved_change(rt: Runtime, who: Manufacturer, spec: ReleaseSpec) -> tuple[str, str, str]:
    engineer = who.login(rt, who.engineer)
    qa = who.login(rt, who.qa)
    with transaction(rt.sessions) as session:
        problem = problems.create(
            session,
            rt.audit,
            engineer,
            problems.NewProblem(spec.problem, "complaint", "high", spec.problem),
        )
        key = service.create(session, rt.audit, engineer, spec.change_title, spec.what_changed).key
        problems.link(session, rt.audit, engineer, key, problem.key)
        workflow.move(
            session, rt.audit, engineer, key, ChangeState.IMPACT_ANALYSIS, rt.trusted_keys()
        )
        workflow.classify(
            session, rt.audit, engineer, key, ChangeClass.MINOR, spec.model, [SOFTWARE_ITEM]
        )
        requirement = f"SRS-{key.removeprefix('CR-')}"
        trace.create_requirement(
            session,
            rt.audit,
            engineer,
            requirement,
            spec.change_title,
            f"{spec.what_changed} (shall)",
            "functional",
            SOFTWARE_ITEM,
            key,
        )
    with transaction(rt.sessions) as session:
        change = service.get(session, qa, key)
        facts = fact_finding.facts_for(session, change)
        earlier = regulatory.documented_since_clearance(session, change)
        for question in open_questions(facts, [], earlier):
            regulatory.answer(
                session,
                rt.audit,
                qa,
                key,
                question.id,
                False,
                "Reviewed against the design history file: not the case for this change.",
            )
    signer = who.login(rt, who.qa, "esignature")
    with transaction(rt.sessions) as session:
        regulatory.run(session, rt.audit, engineer, key)
        regulatory.sign(session, rt.audit, signer, key, Meaning.APPROVED)
        for target in _TO_APPROVAL:
            workflow.move(session, rt.audit, engineer, key, target, rt.trusted_keys())
    return problem.key, key, requirement


def _passing_run(rt: Runtime, who: Manufacturer, build_id: str) -> None:
    """A passing system test per current requirement: the whole regression set of class B."""
    engineer = who.login(rt, who.engineer)
    with transaction(rt.sessions) as session:
        keys = [r.key for r in trace.list_requirements(session, engineer)]
    cases = "".join(
        f'<testcase classname="system" name={quoteattr(f"verifies_{key}")} time="1.0">'
        f'<properties><property name="requirements" value={quoteattr(key)}/>'
        '<property name="level" value="system"/></properties></testcase>'
        for key in keys
    )
    xml = f'<?xml version="1.0"?><testsuite name="release">{cases}</testsuite>'
    with transaction(rt.sessions) as session:
        runs.import_run(session, rt.audit, engineer, xml.encode(), build_id)


def controlled_release(rt: Runtime, who: Manufacturer, spec: ReleaseSpec) -> Released:
    """Take ``spec`` from its problem report to a published release (see the module docstring).

    Raises:
        MedfleetError: whatever step refuses (each step is its own transaction; a refusal
            leaves the steps before it in place, as it would for people doing them by hand).
    """
    problem_key, change_key, requirement = _approved_change(rt, who, spec)
    build_id = f"build-{spec.version}"
    _passing_run(rt, who, build_id)
    engineer = who.login(rt, who.engineer)
    blob = rt.distribution.blobs.put_bytes(spec.image)
    fields = ReleaseFields(
        version_number=spec.version_number,
        min_from_version_number=spec.min_from_version_number,
        build_id=build_id,
        hardware_revisions=list(spec.hardware_revisions),
        what_changed=spec.what_changed,
        risk_summary=spec.risk_summary,
        downtime_minutes=spec.downtime_minutes,
        compatibility=spec.compatibility,
        change_requests=[change_key],
    )
    image_name = f"{spec.model.lower()}-{spec.version}.img"
    with transaction(rt.sessions) as session:
        records.create(session, rt.audit, engineer, spec.model, spec.version, fields)
        records.attach_artifact(
            session,
            rt.audit,
            rt.distribution.blobs,
            engineer,
            spec.model,
            spec.version,
            image_name,
            blob,
        )
    author = who.login(rt, who.engineer, "esignature")
    with transaction(rt.sessions) as session:
        approval.sign(session, rt.audit, author, spec.model, spec.version, Meaning.AUTHORED)
        approval.verify(
            session, rt.audit, rt.distribution.blobs, engineer, spec.model, spec.version
        )
    approver = who.login(rt, who.qa, "esignature")
    with transaction(rt.sessions) as session:
        approval.approve(
            session,
            rt.audit,
            approver,
            spec.model,
            spec.version,
            trusted_keys=rt.trusted_keys(),
            blobs=rt.distribution.blobs,
        )
    releaser = who.login(rt, who.qa, "esignature")
    with transaction(rt.sessions) as session:
        _release, signed = publishing.publish(
            session,
            rt.audit,
            rt.distribution,
            releaser,
            who.password,
            spec.model,
            spec.version,
        )
        return Released(
            spec.model,
            spec.version,
            spec.version_number,
            change_key,
            problem_key,
            requirement,
            signed.image_path,
            signed.image.hashes["sha256"],
            signed.image.length,
        )
