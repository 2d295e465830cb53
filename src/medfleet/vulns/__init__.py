"""Cybersecurity: SBOMs, advisories, matching, VEX, exposure per hospital, patch deadlines."""
