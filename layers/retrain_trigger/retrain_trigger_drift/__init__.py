"""Drift from the data itself: a reference's profile (profile.py), per-feature drift of current data against it
(metrics.py), and one monitor score from many features (combine.py).

This package ships in the shared layer beside `retrain_trigger`, so the evaluator can import `combine` (pure
Python). profile.py and metrics.py need numpy, which only the DriftLayer ships: only the ScoreFunction, which has
both layers, imports them. Nothing here imports numpy at package import time.
"""
