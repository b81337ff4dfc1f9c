"""Drift from the data itself, with numpy: a reference's profile (profile.py), per-feature drift of current data
against it (metrics.py), the tables it reads (tables.py), and the ScoreFunction's job (job.py).

This package ships in the DriftLayer with numpy, for the ScoreFunction alone; the evaluator's SharedLayer holds
only the pure-Python part of drift scoring (`retrain_trigger_drift`: combining features into one score, the
ScoreFunction's ports), so no Lambda-side file of the shared layer imports numpy.
"""
