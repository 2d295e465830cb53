"""Simulation: the fleet simulator (virtual devices running the real agent over HTTP, with
faults), the fleet operator's and manufacturer's scripted steps, and the ``medfleet demo``
scenario built from them."""
