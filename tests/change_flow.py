"""Builders that take a change request through the whole controlled path, for release tests.

``ready_change`` leaves a change request in ``approval``: classified (class B software item),
one requirement added under it, its regulatory assessment run by the engineer, answered and
approved by QA/RA. ``passing_run`` imports a JUnit run in which every named requirement has a
passing test on a build, so a release of that build has no trace gaps.
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import quoteattr

from medfleet.accounts.model import Principal
from medfleet.accounts.signatures import Meaning
from medfleet.changes import fact_finding, items, regulatory, service, workflow
from medfleet.changes.assessment.decide import open_questions
from medfleet.changes.errors import DuplicateSoftwareItemError
from medfleet.changes.model import ChangeClass, ChangeState, SafetyClass
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from medfleet.trace import runs
from medfleet.trace import service as trace
from tests.builders import World

ITEM = "pump-control"
MODEL = "IP-100"

_AFTER_IMPACT = (
    ChangeState.ASSESSMENT,
    ChangeState.IMPLEMENTATION,
    ChangeState.VERIFICATION,
    ChangeState.APPROVAL,
)


def _item(rt: Runtime, world: World, safety: SafetyClass) -> str:
    name = f"{ITEM}-{safety.value.lower()}"
    try:
        with transaction(rt.sessions) as session:
            items.register(session, rt.audit, world.qa, name, safety)
    except DuplicateSoftwareItemError:
        pass
    return name


def ready_change(
    rt: Runtime,
    world: World,
    author: Principal,
    title: str = "Fix late occlusion alarm",
    safety: SafetyClass = SafetyClass.B,
    model: str = MODEL,
) -> tuple[str, str]:
    """A change request in ``approval`` with an approved assessment; (its key, requirement)."""
    item = _item(rt, world, safety)
    with transaction(rt.sessions) as session:
        key = service.create(session, rt.audit, author, title, "details").key
        workflow.move(
            session, rt.audit, author, key, ChangeState.IMPACT_ANALYSIS, rt.trusted_keys()
        )
        workflow.classify(session, rt.audit, author, key, ChangeClass.MINOR, model, [item])
        requirement = f"SRS-{key.removeprefix('CR-')}00"
        trace.create_requirement(
            session,
            rt.audit,
            world.engineer,
            requirement,
            title,
            f"{title}: shall",
            "functional",
            item,
            key,
        )
    with transaction(rt.sessions) as session:
        change = service.get(session, world.qa, key)
        facts = fact_finding.facts_for(session, change)
        asked = open_questions(facts, [], regulatory.documented_since_clearance(session, change))
        for question in asked:
            regulatory.answer(
                session, rt.audit, world.qa, key, question.id, False, "reviewed, not the case"
            )
    with transaction(rt.sessions) as session:
        regulatory.run(session, rt.audit, world.engineer, key)
        regulatory.sign(session, rt.audit, world.qa, key, Meaning.APPROVED)
        for target in _AFTER_IMPACT:
            workflow.move(session, rt.audit, author, key, target, rt.trusted_keys())
    return key, requirement


def passing_run(
    rt: Runtime, world: World, build_id: str, requirements: Iterable[str] | None = None
) -> None:
    """Import a JUnit run of ``build_id`` with one passing integration test per requirement
    (every current requirement unless ``requirements`` are named)."""
    if requirements is None:
        with transaction(rt.sessions) as session:
            requirements = [r.key for r in trace.list_requirements(session, world.qa)]
    cases = "".join(
        f'<testcase classname="t" name={quoteattr(f"verifies_{req}")} time="0.1">'
        f'<properties><property name="requirements" value={quoteattr(req)}/>'
        '<property name="level" value="integration"/></properties></testcase>'
        for req in requirements
    )
    xml = f'<?xml version="1.0"?><testsuite name="release" tests="1">{cases}</testsuite>'
    with transaction(rt.sessions) as session:
        runs.import_run(session, rt.audit, world.engineer, xml.encode(), build_id)
