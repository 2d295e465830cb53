"""The cheap poll: a conditional GET of the device's director ``timestamp.json``.

A ``304 Not Modified`` means nothing changed since the last full check, so the device skips it.
The answer is unauthenticated (TUF verifies the metadata, not this request), so the device must
still run a full check now and then to notice expired or frozen metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

import urllib3
from tuf.ngclient.config import UpdaterConfig

from medfleet.agent import contract
from medfleet.agent.errors import AgentError

USER_AGENT = "medfleet-agent"
TIMESTAMP_MAX_LENGTH = UpdaterConfig.timestamp_max_length


class PollError(AgentError):
    """The director's timestamp could not be polled (network, HTTP status or an oversized body)."""


@dataclass(frozen=True, slots=True)
class PollResult:
    """``changed`` is False only on 304; remember ``etag`` once the full check has been done."""

    changed: bool
    etag: str | None


def poll_director(
    base_url: str,
    device_id: str,
    etag: str | None,
    *,
    http: urllib3.PoolManager | None = None,
    timeout: float = 10.0,
) -> PollResult:
    """Conditional GET of the device's director ``timestamp.json`` (``If-None-Match: etag``).

    A 304 means the director published nothing new, so no full check is needed. The answer is
    unauthenticated: still run ``check_for_update`` periodically (e.g. daily), so that a frozen
    or expired director is noticed. Reads at most ``TIMESTAMP_MAX_LENGTH`` bytes.

    Raises:
        PollError: unreachable, any status but 200/304, or a body above the limit.
    """
    url = f"{contract.director_metadata_url(base_url, device_id)}timestamp.json"
    headers = {"User-Agent": USER_AGENT}
    if etag is not None:
        headers["If-None-Match"] = etag
    pool = http or urllib3.PoolManager()
    try:
        response = pool.request(
            "GET",
            url,
            headers=headers,
            preload_content=False,
            redirect=False,
            retries=False,
            timeout=timeout,
        )
    except urllib3.exceptions.HTTPError as error:
        raise PollError(f"{url}: {error}") from error
    reusable = False
    try:
        if response.status == 304:
            reusable = True
            return PollResult(changed=False, etag=etag)
        if response.status != 200:
            raise PollError(f"{url}: HTTP {response.status}")
        if len(response.read(TIMESTAMP_MAX_LENGTH + 1)) > TIMESTAMP_MAX_LENGTH:
            raise PollError(f"{url}: more than {TIMESTAMP_MAX_LENGTH} bytes")
        reusable = True
        return PollResult(changed=True, etag=response.headers.get("ETag"))
    except urllib3.exceptions.HTTPError as error:
        raise PollError(f"{url}: {error}") from error
    finally:
        if reusable:
            response.release_conn()
        else:
            response.close()
