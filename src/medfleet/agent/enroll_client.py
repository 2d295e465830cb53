"""Enrollment, the device side: bind the device key to the server and store what it answers.

``enroll(server_url, token, state_dir)`` creates (or loads) the device's Ed25519 key, POSTs
``{"token": T, "public_key": <64 hex digits of the raw public key>}`` to
``<server_url>/api/v1/enroll`` and expects ``200`` with a JSON object holding at least:

- ``device_id``, ``model``, ``hardware_revision``: who the device is (ids are safe names);
- ``repository_url``: the URL of the ``repo/`` tree (absolute, or relative to the server URL);
- ``reports_url``: where signed status reports are POSTed (absolute or relative);
- ``image_root``, ``director_root``: the standard base64 of the exact bytes of each
  repository's TUF ``root.json``.

Guarantees: every field is validated before anything is written (a root must decode, parse as
TUF root metadata and say ``"_type": "root"``); the roots are stored byte for byte, then
``agent.json`` is written atomically as the last step, so a failed enrollment leaves no
enrollment behind. An existing enrollment is never replaced unless ``force`` is given (then
the metadata caches and poll state of the old enrollment are discarded, since they belong to
other roots, and the outbox too when the device id changes; the device key is kept). A refusal
from the server (RFC 9457 problem+json) surfaces its ``detail``.
"""

from __future__ import annotations

import base64
import binascii
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import urllib3
from tuf.api.exceptions import RepositoryError
from tuf.api.metadata import Metadata, Root  # type: ignore[attr-defined]

from medfleet.agent.atomic import remove_durable
from medfleet.agent.config import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_POLL_JITTER,
    AgentConfig,
    ConfigError,
    StateLayout,
    check_http_url,
    repository_base_url,
)
from medfleet.agent.contract import ContractError, check_name
from medfleet.agent.errors import AgentError
from medfleet.agent.identity import DeviceIdentity as DeviceKey
from medfleet.agent.poll import USER_AGENT
from medfleet.agent.report_http import problem_detail

ENROLL_PATH = "api/v1/enroll"
MAX_ANSWER_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = urllib3.Timeout(connect=10.0, read=30.0)


class EnrollmentError(AgentError):
    """Enrollment did not happen; nothing was written."""


class AlreadyEnrolledError(EnrollmentError):
    """The state directory holds an enrollment already (use ``force`` to replace it)."""


class EnrollmentConnectionError(EnrollmentError):
    """The server could not be reached or did not answer in time."""


class EnrollmentRefusedError(EnrollmentError):
    """The server refused (bad token, unknown device …); ``status`` is its HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class EnrollmentAnswerError(EnrollmentError):
    """The server's answer is not an acceptable enrollment (a field missing or invalid)."""


@dataclass(frozen=True, slots=True)
class EnrollmentAnswer:
    """A validated enrollment answer; URLs are absolute, roots are the exact bytes."""

    device_id: str
    model: str
    hardware_revision: str
    repository_url: str
    reports_url: str
    image_root: bytes
    director_root: bytes


def enroll(
    server_url: str,
    token: str,
    state_dir: Path,
    device_dir: Path | None = None,
    *,
    force: bool = False,
    http: urllib3.PoolManager | None = None,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    poll_jitter: float = DEFAULT_POLL_JITTER,
    timeout: urllib3.Timeout = DEFAULT_TIMEOUT,
) -> AgentConfig:
    """Enroll this device with the server and write its configuration under ``state_dir``.

    ``device_dir`` (the file-backed device) is recorded in the configuration when given.

    Raises:
        AlreadyEnrolledError: enrolled already and ``force`` is False.
        ConfigError: ``server_url`` is not an http(s) URL, the token is empty, or the poll
            interval is not positive.
        EnrollmentConnectionError: the server is unreachable.
        EnrollmentRefusedError: the server answered with an error (its ``detail`` included).
        EnrollmentAnswerError: the answer is not a valid enrollment.
        IdentityError: the device key exists but is unusable.
    """
    server_url = check_http_url("server URL", server_url.strip())
    if not token.strip():
        raise ConfigError("the enrollment token is empty")
    if not (poll_interval > 0 and poll_jitter >= 0):  # checked before the token is spent
        raise ConfigError("poll interval must be > 0 and jitter >= 0 seconds")
    layout = StateLayout(state_dir)
    if layout.is_enrolled() and not force:
        raise AlreadyEnrolledError(f"{state_dir} is enrolled already; pass --force to enroll again")
    layout.ensure()
    key = DeviceKey.create_or_load(layout.identity_dir)
    body = json.dumps({"token": token.strip(), "public_key": key.public_key_bytes.hex()})
    status, answer = _post(
        http or urllib3.PoolManager(), _join(server_url, ENROLL_PATH), body, timeout
    )
    if status not in (200, 201):
        raise EnrollmentRefusedError(_problem_message(status, answer), status)
    parsed = parse_answer(server_url, answer)
    config = AgentConfig(
        server_url=server_url,
        device_id=parsed.device_id,
        model=parsed.model,
        hardware_revision=parsed.hardware_revision,
        repository_url=parsed.repository_url,
        reports_url=parsed.reports_url,
        poll_interval=poll_interval,
        poll_jitter=poll_jitter,
        device_dir=None if device_dir is None else str(device_dir.resolve()),
        enrolled_at=datetime.now(UTC).isoformat(),
    )
    if force:
        _forget_previous(layout, config.device_id)
    layout.save_roots(parsed.image_root, parsed.director_root)
    layout.save_config(config)
    return config


def parse_answer(server_url: str, body: bytes) -> EnrollmentAnswer:
    """Validate the server's enrollment answer (see the module docstring).

    Raises:
        EnrollmentAnswerError: not JSON, a field missing or mistyped, an unsafe id, a URL that
            is not http(s), or a root that is not TUF root metadata.
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EnrollmentAnswerError(f"the enrollment answer is not JSON: {error}") from error
    if not isinstance(data, dict):
        raise EnrollmentAnswerError("the enrollment answer is not a JSON object")
    try:
        device_id = check_name("device id", _text(data, "device_id"))
        model = check_name("model", _text(data, "model"))
    except ContractError as error:
        raise EnrollmentAnswerError(f"the enrollment answer has an invalid {error}") from error
    revision = _text(data, "hardware_revision")
    if len(revision) > 64 or not revision.isprintable():
        raise EnrollmentAnswerError("hardware_revision must be 1-64 printable characters")
    repository_url = _url(server_url, data, "repository_url")
    if not repository_url.endswith("/"):
        repository_url += "/"
    try:
        repository_base_url(repository_url)
    except ConfigError as error:
        raise EnrollmentAnswerError(str(error)) from error
    return EnrollmentAnswer(
        device_id=device_id,
        model=model,
        hardware_revision=revision,
        repository_url=repository_url,
        reports_url=_url(server_url, data, "reports_url"),
        image_root=_root(data, "image_root"),
        director_root=_root(data, "director_root"),
    )


def _join(server_url: str, path: str) -> str:
    return urljoin(server_url if server_url.endswith("/") else server_url + "/", path)


def _post(
    http: urllib3.PoolManager, url: str, body: str, timeout: urllib3.Timeout
) -> tuple[int, bytes]:
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, application/problem+json",
        "User-Agent": USER_AGENT,
    }
    try:
        response = http.request(
            "POST",
            url,
            body=body.encode(),
            headers=headers,
            redirect=False,
            retries=False,
            timeout=timeout,
            preload_content=False,
        )
    except urllib3.exceptions.HTTPError as error:
        raise EnrollmentConnectionError(f"cannot reach {url}: {error}") from error
    try:
        answer = response.read(MAX_ANSWER_BYTES + 1)
    except urllib3.exceptions.HTTPError as error:
        raise EnrollmentConnectionError(f"{url}: the answer was cut off: {error}") from error
    finally:
        response.release_conn()
    if len(answer) > MAX_ANSWER_BYTES:
        raise EnrollmentAnswerError(f"the enrollment answer exceeds {MAX_ANSWER_BYTES} bytes")
    return response.status, answer


def _problem_message(status: int, body: bytes) -> str:
    """``enrollment refused (HTTP 401): <detail>``, from problem+json when there is one."""
    return f"enrollment refused (HTTP {status}): {problem_detail(body)}"


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise EnrollmentAnswerError(f"the enrollment answer has no text field {name!r}")
    return value


def _url(server_url: str, data: dict[str, Any], name: str) -> str:
    url = _join(server_url, _text(data, name))
    try:
        return check_http_url(name, url)
    except ConfigError as error:
        raise EnrollmentAnswerError(f"the enrollment answer's {error}") from error


def _root(data: dict[str, Any], name: str) -> bytes:
    try:
        raw = base64.b64decode(_text(data, name), validate=True)
    except (binascii.Error, ValueError) as error:
        raise EnrollmentAnswerError(f"{name} is not standard base64: {error}") from error
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EnrollmentAnswerError(f"{name} is not JSON: {error}") from error
    signed = parsed.get("signed") if isinstance(parsed, dict) else None
    if not isinstance(signed, dict) or signed.get("_type") != "root":
        raise EnrollmentAnswerError(f"{name} is not TUF root metadata (signed._type != root)")
    try:
        Metadata[Root].from_bytes(raw)
    except RepositoryError as error:
        raise EnrollmentAnswerError(f"{name} is not valid TUF root metadata: {error}") from error
    return raw


def _forget_previous(layout: StateLayout, device_id: str) -> None:
    """Drop what belongs to the previous enrollment: the metadata caches and poll state (other
    roots), and the outbox when the device id changes (its reports name the old id)."""
    try:
        previous = layout.load_config().device_id
    except ConfigError:
        previous = None
    shutil.rmtree(layout.metadata_dir, ignore_errors=True)
    layout.metadata_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    remove_durable(layout.poll_file)
    if previous != device_id:
        shutil.rmtree(layout.outbox_dir, ignore_errors=True)
        layout.outbox_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
