"""Traceability: requirements, tests, verification runs (JUnit), links, gaps, regression sets."""
