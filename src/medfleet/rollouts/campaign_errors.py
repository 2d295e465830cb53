"""Errors of the campaign use cases (part of the rollouts domain's tree, ``RolloutsError``).

Each also derives from one category of ``medfleet.errors``, which decides its HTTP status and
CLI exit code. State errors of the campaign itself are ``CampaignStateError`` (``errors.py``).
"""

from __future__ import annotations

from medfleet.errors import Conflict, Forbidden, InvalidInput, NotFound
from medfleet.rollouts.errors import RolloutsError


class CampaignNotFoundError(RolloutsError, NotFound):
    """No such campaign (or release) visible to the caller; hospital staff see none at all."""


class CampaignNotAllowedError(RolloutsError, Forbidden):
    """The caller is manufacturer staff without a role that may change campaigns."""


class InvalidCampaignError(RolloutsError, InvalidInput):
    """A malformed campaign request (name, reason, time, rollback target); nothing changed."""


class CampaignReleaseError(RolloutsError, Conflict):
    """The campaign's release cannot be rolled out: not released, or withdrawn."""
