"""Simulation: the demo scenario now; the fleet simulator and fault injection later."""
