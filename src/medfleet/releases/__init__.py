"""Releases: records, the content-addressed artifact store, and deltas between releases."""
