"""The ``medfleet`` command line: one Typer sub-app per domain, assembled in ``app.py``."""
