"""Reading JUnit XML results safely: pytest ``--junitxml``, Maven surefire, nested suites.

The bytes are parsed with defusedxml with every DTD refused, so entity expansion ("billion
laughs"), external entities and external DTDs never reach the parser; junitparser then reads
suites and cases from the safe tree. Namespaced tags are read by their local name.

A case's id is ``classname::name`` (just ``name`` without a class name) unless the case has an
``id`` (or ``test_id``) property. Properties named ``requirements``, ``requirement`` or
``verifies`` list the requirement ids the case verifies; ``level`` gives its test level, on the
case or inherited from an enclosing suite. A case listed more than once keeps its worst outcome
(error, failed, passed, skipped) so that a failure can never be hidden by a later pass. Any
problem raises ``JUnitError`` naming the place, and nothing is returned.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, cast
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring as safe_fromstring  # type: ignore[import-untyped]
from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from medfleet.trace.errors import InvalidRequirementError, InvalidTestError, JUnitError
from medfleet.trace.model import (
    Outcome,
    TestLevel,
    check_requirement_key,
    check_test_key,
    parse_level,
    split_keys,
)

MAX_JUNIT_BYTES = 20 * 1024 * 1024
MAX_MESSAGE = 2000
REQUIREMENT_PROPERTIES = frozenset({"requirements", "requirement", "verifies"})
ID_PROPERTIES = ("id", "test_id")
_SEVERITY = {Outcome.ERROR: 3, Outcome.FAILED: 2, Outcome.PASSED: 1, Outcome.SKIPPED: 0}


@dataclass(frozen=True)
class ParsedCase:
    """One test case of a JUnit file."""

    key: str
    outcome: Outcome
    message: str | None
    level: TestLevel | None
    requirements: tuple[str, ...]


@dataclass(frozen=True)
class ParsedRun:
    """A whole JUnit file: its SHA-256 and its cases (each key once), suite by suite: a
    suite's own cases, then those of the suites nested in it."""

    sha256: str
    cases: tuple[ParsedCase, ...]

    def count(self, outcome: Outcome) -> int:
        """How many cases have ``outcome``."""
        return sum(1 for case in self.cases if case.outcome is outcome)


def _safe_root(data: bytes) -> Element:
    if not data.strip():
        raise JUnitError("the JUnit file is empty")
    if len(data) > MAX_JUNIT_BYTES:
        raise JUnitError(f"the JUnit file is larger than {MAX_JUNIT_BYTES // (1024 * 1024)} MiB")
    try:
        root = safe_fromstring(data, forbid_dtd=True, forbid_entities=True)
    except DefusedXmlException as exc:
        raise JUnitError(
            f"refused: the XML declares a DTD or entities ({type(exc).__name__}); "
            "JUnit files need neither, and they can be used to attack the parser"
        ) from None
    except ParseError as exc:
        raise JUnitError(f"not well-formed XML: {exc}") from None
    for element in root.iter():
        if isinstance(element.tag, str) and "}" in element.tag:
            element.tag = element.tag.rsplit("}", 1)[1]
    return cast(Element, root)


def _properties(element: Element) -> list[tuple[str, str]]:
    block = element.find("properties")
    if block is None:
        return []
    return [
        (prop.get("name", "").strip().lower(), prop.get("value", prop.text or ""))
        for prop in block.findall("property")
    ]


def _level(value: str, where: str) -> TestLevel:
    try:
        return parse_level(value)
    except InvalidTestError as exc:
        raise JUnitError(f"{where}: {exc}") from None


def _outcome(case: Any) -> tuple[Outcome, str | None]:
    results = list(case.result)
    for kind, outcome in ((Error, Outcome.ERROR), (Failure, Outcome.FAILED), (Skipped, None)):
        found = [r for r in results if isinstance(r, kind)]
        if found:
            first = found[0]
            message = (first.message or first.text or "").strip() or None
            if message and len(message) > MAX_MESSAGE:
                message = message[: MAX_MESSAGE - 1] + "…"
            return outcome or Outcome.SKIPPED, message
    return Outcome.PASSED, None


def _case(element: Element, suite_level: TestLevel | None, suite_name: str) -> ParsedCase:
    case: Any = cast(Any, TestCase).fromelem(element)
    name = (case.name or "").strip()
    where = f"suite {suite_name!r}"
    if not name:
        raise JUnitError(f"{where}: a <testcase> has no name")
    classname = (case.classname or "").strip()
    properties = _properties(element)
    explicit = [value for prop, value in properties if prop in ID_PROPERTIES and value.strip()]
    raw_key = explicit[0] if explicit else (f"{classname}::{name}" if classname else name)
    try:
        key = check_test_key(raw_key)
    except InvalidTestError as exc:
        raise JUnitError(f"{where}: {exc}") from None
    level = suite_level
    requirements: list[str] = []
    for prop, value in properties:
        if prop == "level":
            level = _level(value, f"test {key}")
        elif prop in REQUIREMENT_PROPERTIES:
            for part in split_keys(value):
                try:
                    requirements.append(check_requirement_key(part))
                except InvalidRequirementError as exc:
                    raise JUnitError(f"test {key}: {exc}") from None
    outcome, message = _outcome(case)
    return ParsedCase(key, outcome, message, level, tuple(dict.fromkeys(requirements)))


def _merge(first: ParsedCase, second: ParsedCase) -> ParsedCase:
    worse = second if _SEVERITY[second.outcome] > _SEVERITY[first.outcome] else first
    return ParsedCase(
        key=first.key,
        outcome=worse.outcome,
        message=worse.message,
        level=second.level or first.level,
        requirements=tuple(dict.fromkeys(first.requirements + second.requirements)),
    )


def parse_junit(data: bytes) -> ParsedRun:
    """Every test case of a JUnit XML file (``<testsuites>`` or a bare ``<testsuite>`` root).

    Raises:
        JUnitError: empty, too large, not well-formed, a DTD or entity declaration, a root
            other than ``testsuites``/``testsuite``, a case without a name, a bad level or
            requirement id, or no test case at all.
    """
    root = _safe_root(data)
    if root.tag not in ("testsuites", "testsuite"):
        raise JUnitError(f"not a JUnit file: the root element is <{root.tag}>, not <testsuites>")
    document: Any = cast(Any, JUnitXml).fromroot(root)
    suites = reversed(list(document))
    stack: list[tuple[Any, TestLevel | None]] = [(suite, None) for suite in suites]
    cases: dict[str, ParsedCase] = {}
    while stack:
        suite, inherited = stack.pop()
        element: Element = suite._elem
        name = str(suite.name or "(unnamed)")
        level = inherited
        for prop, value in _properties(element):
            if prop == "level":
                level = _level(value, f"suite {name!r}")
        for child in element.findall("testcase"):
            parsed = _case(child, level, name)
            known = cases.get(parsed.key)
            cases[parsed.key] = _merge(known, parsed) if known else parsed
        nested = [cast(Any, TestSuite).fromelem(child) for child in element.findall("testsuite")]
        stack.extend((child, level) for child in reversed(nested))
    if not cases:
        raise JUnitError("the JUnit file holds no <testcase>")
    return ParsedRun(hashlib.sha256(data).hexdigest(), tuple(cases.values()))
