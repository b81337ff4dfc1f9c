"""Evidently's data drift reports for tests/data/detectors/, written by Evidently itself (run in .venv-evidently:
Evidently 0.7 does not import with pandas 3, the project's pandas). Seeded: the same command writes the same files."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from evidently import Report
from evidently.legacy.metric_preset import DataDriftPreset as LegacyDataDriftPreset
from evidently.legacy.report import Report as LegacyReport
from evidently.presets import DataDriftPreset

ROWS = 2000  # above Evidently's 1000: numeric columns get Wasserstein (normed), categorical ones Jensen-Shannon
AT = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    regions = ["n", "s", "e", "w"]
    reference = pd.DataFrame(
        {"age": rng.normal(40, 10, ROWS), "income": rng.lognormal(10, 0.5, ROWS), "region": rng.choice(regions, ROWS)}
    )
    current = pd.DataFrame(
        {
            "age": rng.normal(46, 10, ROWS),  # shifted: drifts
            "income": rng.lognormal(10, 0.5, ROWS),  # the same distribution: does not
            "region": rng.choice(regions, ROWS, p=[0.4, 0.2, 0.2, 0.2]),  # reweighted: drifts
        }
    )
    return reference, current


def main(out: Path) -> None:
    reference, current = frames()
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    snapshot.save_json(str(out / "evidently_0_7_data_drift.json"))
    legacy = LegacyReport(metrics=[LegacyDataDriftPreset()], timestamp=AT)
    legacy.run(current_data=current, reference_data=reference)
    legacy.save_json(str(out / "evidently_legacy_data_drift.json"))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
