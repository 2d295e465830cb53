"""A small HTTP client of the medfleet API, for the simulator's operator side.

The simulator registers its devices and reads back what the server attests about them through
the same HTTP API a fleet operator's tool uses (``POST /api/v1/auth/token``,
``POST /api/v1/devices``, ``GET /api/v1/devices``), never through the service layer, so a
simulation exercises authentication, authorisation and serialisation as deployed.

Guarantees: every call either returns the parsed JSON answer of a 2xx response or raises
``SimApiError`` carrying the HTTP status and the problem's ``detail``; a client is safe to share
between threads (urllib3's pool is).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import urllib3

from medfleet.agent.report_http import problem_detail
from medfleet.sim.errors import SimApiError

API = "/api/v1"
TIMEOUT = urllib3.Timeout(connect=10.0, read=60.0)


@dataclass(frozen=True, slots=True)
class RegisteredDevice:
    """A device the server registered, and its one-time enrollment token."""

    device_id: str
    serial: str
    enrollment_token: str


@dataclass(frozen=True, slots=True)
class AttestedVersion:
    """What the server believes about a device: the version (and clinical use) of its last
    accepted signed report, and where it is placed."""

    device_id: str
    serial: str
    version: str | None
    version_number: int | None
    last_report_seq: int
    site_id: int | None = None
    in_clinical_use: bool | None = None


class ApiClient:
    """Calls the API of the server at ``base_url`` with a bearer token."""

    def __init__(
        self, base_url: str, token: str | None = None, http: urllib3.PoolManager | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.http = http or urllib3.PoolManager(maxsize=16, timeout=TIMEOUT, retries=False)

    @classmethod
    def login(
        cls,
        base_url: str,
        username: str,
        password: str,
        *,
        http: urllib3.PoolManager | None = None,
        label: str = "fleet simulator",
    ) -> ApiClient:
        """A client holding a fresh API token of ``username``.

        Raises:
            SimApiError: wrong credentials (401), locked (423), or the server is unreachable.
        """
        client = cls(base_url, None, http)
        answer = client.call(
            "POST", "/auth/token", {"username": username, "password": password, "label": label}
        )
        client.token = str(answer["token"])
        return client

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """``method`` ``/api/v1<path>`` with a JSON body; the parsed JSON answer.

        Raises:
            SimApiError: the server is unreachable or answered outside 2xx.
        """
        headers = {"Accept": "application/json, application/problem+json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        url = f"{self.base_url}{API}{path}"
        try:
            response = self.http.request(
                method, url, body=data, headers=headers, timeout=TIMEOUT, retries=False
            )
        except urllib3.exceptions.HTTPError as error:
            raise SimApiError(f"{method} {url}: cannot reach the server: {error}", 0) from error
        if not 200 <= response.status < 300:
            detail = problem_detail(response.data)
            raise SimApiError(f"{method} {url}: HTTP {response.status}: {detail}", response.status)
        return json.loads(response.data) if response.data else None

    def register_device(
        self,
        *,
        org_id: int,
        model: str,
        hardware_revision: str,
        serial: str,
        extra: Mapping[str, Any] | None = None,
    ) -> RegisteredDevice:
        """Register a device for a hospital (``extra``: further registration fields, such as a
        site); its id and one-time enrollment token.

        Raises:
            SimApiError: refused (not a fleet operator 403, invalid 422, duplicate 409 …).
        """
        body = {
            "org_id": org_id,
            "model": model,
            "hardware_revision": hardware_revision,
            "serial": serial,
        } | dict(extra or {})
        answer = self.call("POST", "/devices", body)
        return RegisteredDevice(
            str(answer["device_id"]), str(answer["serial"]), str(answer["enrollment_token"])
        )

    def devices(self) -> list[dict[str, Any]]:
        """Every device the caller may see, as the API lists them (``GET /api/v1/devices``).

        Raises:
            SimApiError: as ``call``.
        """
        answer = self.call("GET", "/devices")
        return [dict(row) for row in answer]

    def attested_versions(self) -> dict[str, AttestedVersion]:
        """Every device the caller may see, by device id, with its attested version.

        Raises:
            SimApiError: as ``call``.
        """
        return {
            str(row["device_id"]): AttestedVersion(
                str(row["device_id"]),
                str(row["serial"]),
                row.get("installed_version"),
                row.get("installed_version_number"),
                int(row.get("last_report_seq") or 0),
                row.get("site_id"),
                row.get("in_clinical_use"),
            )
            for row in self.devices()
        }
