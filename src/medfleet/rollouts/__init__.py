"""Rollouts: campaigns, phases, thresholds, maintenance windows, eligibility, scheduler."""
