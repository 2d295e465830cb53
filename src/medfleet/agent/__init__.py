"""The device side: verifies updates from both repositories, installs A/B, reports signed status.

Imports nothing from the server packages; ``pip install medfleet[agent]`` is all it needs.
"""
