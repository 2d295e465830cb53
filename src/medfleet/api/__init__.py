"""The HTTP API: FastAPI app assembly, auth dependencies, problem+json errors, metrics, health.

Build an app with ``medfleet.api.app.create_app(runtime)``. Domain endpoints live in each
domain's ``routes.py``; this package only assembles them and maps errors to HTTP.
"""
