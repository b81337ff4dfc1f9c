"""Drift scoring's pure-Python part: one monitor score from many features (combine.py), and the ScoreFunction's
ports (ports.py).

This package ships in the shared layer beside `retrain_trigger`, so the evaluator can import `combine`. What needs
numpy (profiles, per-feature metrics, tables, the ScoreFunction's job) is `retrain_trigger_drift_data`, in the
DriftLayer with numpy: only the ScoreFunction, which has both layers, imports it.
"""
