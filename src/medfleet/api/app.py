"""The app factory: one FastAPI app per ``Runtime``, with every router, error handler and metric.

``create_app`` has no global state: the runtime, the metrics registry and the routers are all
attached to the returned app, so a test process can build as many apps as it likes. The
versioned API lives under ``/api/v1`` (each domain router carries that prefix itself, so a
route's template is the full path in metrics and logs); ``/health``, ``/ready``, ``/metrics``
and ``/openapi.json`` sit at the root, and ``/repo/`` serves the signed update repositories
(``medfleet.agent.contract``) as static files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.routing import APIRoute

from medfleet.accounts.routes import router as accounts_router
from medfleet.api.deps import API_PREFIX
from medfleet.api.health import router as health_router
from medfleet.api.metrics import install_metrics
from medfleet.api.problems import PROBLEM_RESPONSES, install_problem_handlers
from medfleet.audit.routes import router as audit_router
from medfleet.changes.assessment_routes import router as assessment_router
from medfleet.changes.routes import router as changes_router
from medfleet.changes.workflow_routes import router as change_workflow_router
from medfleet.fleet.catalog_routes import router as catalog_router
from medfleet.fleet.report_routes import router as fleet_reports_router
from medfleet.fleet.routes import router as fleet_router
from medfleet.releases.routes import router as releases_router
from medfleet.releases.static import repository_mount
from medfleet.risk.routes import router as risk_router
from medfleet.rollouts.acceptance_routes import router as acceptance_router
from medfleet.rollouts.routes import router as rollouts_router
from medfleet.rollouts.window_routes import router as windows_router
from medfleet.runtime import Runtime
from medfleet.trace.routes import router as trace_router
from medfleet.vulns.advisory_routes import router as vulns_advisory_router
from medfleet.vulns.deadline_routes import router as vulns_deadline_router
from medfleet.vulns.exposure_routes import router as vulns_exposure_router
from medfleet.vulns.findings_routes import router as vulns_findings_router
from medfleet.vulns.sbom_routes import router as vulns_sbom_router
from medfleet.vulns.vex_routes import router as vulns_vex_router

API_VERSION = "1"
DOMAIN_ROUTERS = (
    accounts_router,
    audit_router,
    changes_router,
    change_workflow_router,
    assessment_router,
    risk_router,
    trace_router,
    releases_router,
    fleet_router,
    catalog_router,
    fleet_reports_router,
    windows_router,
    rollouts_router,
    acceptance_router,
    vulns_sbom_router,
    vulns_advisory_router,
    vulns_findings_router,
    vulns_vex_router,
    vulns_exposure_router,
    vulns_deadline_router,
)


@dataclass(frozen=True, order=True)
class RouteInfo:
    """One served method on one path template, such as ``GET /api/v1/sites/{site_id}``."""

    path: str
    method: str


def create_app(runtime: Runtime) -> FastAPI:
    """A ready-to-serve app bound to ``runtime`` (which the caller keeps and closes)."""
    app = FastAPI(
        title="medfleet",
        version=API_VERSION,
        summary="Regulated software updates for medical-device fleets.",
        description=(
            "Errors are RFC 9457 problem details (application/problem+json). "
            "Authenticate with `Authorization: Bearer mf_...` from POST /api/v1/auth/token."
        ),
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    install_metrics(app)
    app.include_router(health_router)
    for router in DOMAIN_ROUTERS:
        app.include_router(router, responses=PROBLEM_RESPONSES)
    # The signed repositories: static files (ETag/304, Range/206), no database on this path.
    # First in the routing table: a device poll must not be matched against every API route
    # (that cost more than serving the file; bench/poll.py). No API route lives under /repo.
    app.router.routes.insert(0, repository_mount(runtime.settings.blobs))
    return app


def api_routes(app: FastAPI, prefix: str = API_PREFIX) -> list[RouteInfo]:
    """Every (path template, method) of an API endpoint the app serves under ``prefix``.

    Newer FastAPI keeps included routers as objects in ``app.routes``; its
    ``iter_route_contexts`` walks into them (older versions list the routes flat).
    """
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    entries: Iterable[Any] = walk(app.routes) if walk is not None else app.routes
    found: set[RouteInfo] = set()
    for entry in entries:
        original = getattr(entry, "original_route", entry)
        path = getattr(entry, "path", None)
        if isinstance(original, APIRoute) and path and path.startswith(prefix):
            found.update(RouteInfo(path, method) for method in entry.methods or ())
    return sorted(found)
