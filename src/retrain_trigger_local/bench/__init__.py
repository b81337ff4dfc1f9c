"""`make bench`: the evaluator against a naive per-monitor loop and the batching floor, side by side in one run.

One job per module, imported one way (scenario at the bottom, cli at the top): scenario (the world's names and
shape), seeding (the world on the moto server), windows (score windows by the real consumer), counters (botocore
hooks), naive (the baseline loop), floor (the formula), tick_child/ticks (calls, wall time and RSS per tick in fresh
processes), replay (the engine alone), imports (the cold import alone), baseline_app/cold_child/coldstart (the fair
cold start: ours against a minimal handler), fanout (shards), artefacts (`sam build`), cost (prices), results (what a
run measured), figures (ratios and cost from it), summary (the JSON line), tables (Markdown), cli
(`python -m retrain_trigger_local.bench`).
"""
