"""Prometheus metrics for the API: request count and latency by method, route and status.

Each app gets its own ``CollectorRegistry`` (several apps in one process, as in the tests, do
not clash). Requests are labelled with the route *template* (``/api/v1/sites/{site_id}``), not
the concrete path, so the number of series stays bounded; requests that match no route are
labelled ``<unmatched>``. ``GET /metrics`` serves the registry in the text exposition format; it
carries no tenant data and needs no token (keep it on the internal network).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "<unmatched>"
LABELS = ("method", "route", "status")


@dataclass
class ApiMetrics:
    """The collectors of one app, registered in the app's own registry."""

    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=True)
    )

    def __post_init__(self) -> None:
        self.requests = Counter(
            "medfleet_http_requests",
            "HTTP requests answered, by method, route template and status.",
            LABELS,
            registry=self.registry,
        )
        self.latency = Histogram(
            "medfleet_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status.",
            LABELS,
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)


class MetricsMiddleware:
    """ASGI middleware that times every HTTP request and records it in ``ApiMetrics``."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, noting the status it was answered with."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - started)


def install_metrics(app: FastAPI) -> ApiMetrics:
    """Add the middleware and ``GET /metrics`` to ``app``; return its collectors."""
    metrics = ApiMetrics()
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    router = APIRouter(tags=["operations"])

    @router.get("/metrics", response_class=Response, summary="Prometheus metrics")
    def prometheus_metrics(request: Request) -> Response:
        """The app's metrics in the Prometheus text exposition format."""
        registry = request.app.state.metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)
    return metrics
