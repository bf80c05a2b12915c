"""Scores of a fitted classifier: metrics, per-target scores, reports, the seed-quote check and the champion gate."""
