"""`retrain-trigger`: backtest, tune, plot, simulate and inspect monitors with the evaluator's own policy engine.

A local tool (pandas, matplotlib): never shipped to Lambda, and never imported by the evaluator.
"""
