"""NannyML's results tables for tests/data/detectors/, written by NannyML itself (run in .venv-nannyml): univariate
drift (Jensen-Shannon) and CBPE's estimated ROC AUC, daily chunks, each `to_df(multilevel=False)`, joined on the
chunk columns and exported to CSV and Parquet. Seeded: the same command writes the same tables."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # NannyML reports usage over the network unless told not to

import nannyml as nml
import numpy as np
import pandas as pd

CHUNK = ["chunk_key", "chunk_index", "chunk_start_index", "chunk_end_index", "chunk_start_date", "chunk_end_date",
         "chunk_period"]  # fmt: skip


def frame(rng: np.random.Generator, days: int, start: str) -> pd.DataFrame:
    n = 24 * days
    age = rng.normal(40, 10, n)
    probability = 1 / (1 + np.exp(-(age - 45) / 8))
    return pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=n, freq="h", tz="UTC"),
            "age": age,
            "region": rng.choice(["n", "s", "e", "w"], n),
            "y_pred_proba": probability,
            "y_pred": (probability > 0.5).astype(int),
            "y_true": (rng.random(n) < probability).astype(int),
        }
    )


def main(out: Path) -> None:
    rng = np.random.default_rng(11)
    reference = frame(rng, 20, "2026-11-01")
    analysis = frame(rng, 6, "2026-12-01")
    analysis.loc[analysis["timestamp"] >= pd.Timestamp("2026-12-04", tz="UTC"), "age"] += 8  # drift from day 4
    drift = nml.UnivariateDriftCalculator(
        column_names=["age", "region"],
        timestamp_column_name="timestamp",
        continuous_methods=["jensen_shannon"],
        categorical_methods=["jensen_shannon"],
        chunk_period="D",
    ).fit(reference)
    performance = nml.CBPE(
        y_pred_proba="y_pred_proba",
        y_pred="y_pred",
        y_true="y_true",
        timestamp_column_name="timestamp",
        metrics=["roc_auc"],
        chunk_period="D",
        problem_type="classification_binary",
    ).fit(reference)
    drifted = drift.calculate(analysis).filter(period="analysis").to_df(multilevel=False)
    estimated = performance.estimate(analysis).filter(period="analysis").to_df(multilevel=False)
    table = drifted.merge(estimated, on=CHUNK)
    table.to_csv(out / "nannyml_results.csv", index=False)
    table.to_parquet(out / "nannyml_results.parquet", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
