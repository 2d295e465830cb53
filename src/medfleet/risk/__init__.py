"""ISO 14971 risk file: hazards, hazardous situations, harms, risk controls, matrix, deltas."""
