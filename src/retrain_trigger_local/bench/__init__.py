"""`make bench`: the evaluator against a naive per-monitor loop and the batching floor, side by side in one run.

One job per module: scenario (the world seeded on the moto server), counters (botocore hooks), naive (the
baseline loop), floor (the formula), tick_child/ticks (calls, wall time and RSS per tick in fresh processes),
replay (the engine alone), imports (cold start), fanout (shards), artefacts (`sam build`), cost (per model-month),
report (tables and the JSON line), cli (`python -m retrain_trigger_local.bench`).
"""
