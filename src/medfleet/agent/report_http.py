"""Status reports over HTTP: the ``ReportTransport`` the agent uses in the field.

``HttpReportTransport.send`` POSTs the exact signed bytes (``Content-Type: application/json``)
to the device's reports URL and classifies the answer:

- ``2xx``: acknowledged (the server stored it, or had exactly this report already);
- ``409``: the server holds this sequence number already (a replay or an older duplicate):
  retrying can never succeed, so it counts as delivered and is logged;
- ``408``, ``425``, ``429``, ``5xx`` and network failures: ``DeliveryError``, so the outbox
  keeps the report and retries it with backoff;
- any other ``4xx`` (refused: malformed, not trusted, unknown device): a permanent failure.
  Resending the same bytes cannot change the answer and would hold up every later report, so
  it is recorded in ``refused`` and logged as an error, and the report leaves the outbox.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import urllib3

from medfleet.agent.errors import DeliveryError
from medfleet.agent.poll import USER_AGENT

LOG = logging.getLogger(__name__)
DEFAULT_TIMEOUT = urllib3.Timeout(connect=10.0, read=30.0)
MAX_ANSWER_BYTES = 64 * 1024
RETRYABLE_4XX = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class RefusedReport:
    """A report the server refused for good: its status and what it said."""

    status: int
    detail: str
    document: bytes


@dataclass
class HttpReportTransport:
    """POSTs signed reports to ``url`` (see the module docstring for the status handling)."""

    url: str
    pool: urllib3.PoolManager = field(default_factory=urllib3.PoolManager)
    timeout: urllib3.Timeout = DEFAULT_TIMEOUT
    refused: list[RefusedReport] = field(default_factory=list)

    def send(self, document: bytes) -> None:
        """Deliver ``document``; return once it needs no further attempt.

        Raises:
            DeliveryError: not acknowledged now; the outbox retries later.
        """
        try:
            response = self.pool.request(
                "POST",
                self.url,
                body=document,
                headers={
                    "Content-Type": "application/json",
                    "Accept": "application/json, application/problem+json",
                    "User-Agent": USER_AGENT,
                },
                redirect=False,
                retries=False,
                timeout=self.timeout,
                preload_content=False,
            )
        except urllib3.exceptions.HTTPError as error:
            raise DeliveryError(f"cannot reach {self.url}: {error}") from error
        try:
            answer = response.read(MAX_ANSWER_BYTES)
        except urllib3.exceptions.HTTPError as error:
            raise DeliveryError(f"{self.url}: the answer was cut off: {error}") from error
        finally:
            response.release_conn()
        status = response.status
        if 200 <= status < 300:
            return
        detail = problem_detail(answer)
        if status == 409:
            LOG.warning("report already held by the server (409): %s", detail)
            return
        if status in RETRYABLE_4XX or status >= 500 or status < 400:
            raise DeliveryError(f"{self.url}: HTTP {status}: {detail}")
        LOG.error("report refused for good (HTTP %d): %s", status, detail)
        self.refused.append(RefusedReport(status, detail, document))


def problem_detail(body: bytes) -> str:
    """The ``detail`` (else ``title``) of a problem+json body, or a short excerpt of the body."""
    try:
        problem = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        problem = None
    if isinstance(problem, dict):
        for key in ("detail", "title"):
            value = problem.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return body[:200].decode("utf-8", "replace").strip() or "no detail"
