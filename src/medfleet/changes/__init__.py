"""Change requests: the controlled record behind every software change (IEC 62304 §8)."""
