"""Per-feature drift of current data against a reference's profile, accumulated chunk by chunk.

Each accumulator holds sums that add up across chunks (and across workers: `merge`), so 10 M rows are scored one
chunk at a time, and a job spread over many machines merges its workers' accumulators into the same result.

Methods, larger meaning more drift:
- psi: sum over the profile's bins of (c - r) * ln(c / r), with 0.0001 in place of an empty bin's share;
- js: the Jensen-Shannon distance, base 2, over the same bins (or categories);
- ks: the two-sample Kolmogorov-Smirnov statistic, sup |F_ref - F_cur|;
- wasserstein: the Wasserstein-1 distance divided by the reference's population standard deviation (at least
  0.001, as Evidently's normed Wasserstein, so a constant reference column gives a finite value).

The reference is its profile: its exact CDF at up to Q+1 distinct quantiles (the knots) and its mean between two
knots. The current data is exact at the knots (a sorted chunk, binary search) and keeps its count and sum between
them. KS is exact at the knots, so its error is at most the reference's mass between two knots (1/Q); Wasserstein is
exact except inside an interval where the two CDFs cross: see docs/drift-from-data.md.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from retrain_trigger_drift.combine import combine
from retrain_trigger_drift_data.profile import CategoricalProfile, NumericProfile, Profile
from retrain_trigger_drift_data.tables import Chunk, TableError

Method = Literal["psi", "js", "ks", "wasserstein"]
METHODS: tuple[str, ...] = get_args(Method)
EMPTY_SHARE = 0.0001
MIN_STD = 0.001
# a feature-level threshold that suits each method when none is given (the usual PSI rule of thumb: 0.2 is a
# significant shift; Evidently's defaults for the distances)
DEFAULT_THRESHOLDS: Mapping[str, float] = {"psi": 0.2, "js": 0.1, "ks": 0.1, "wasserstein": 0.1}

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def psi(current: FloatArray, reference: FloatArray) -> float:
    c = np.where(current > 0, current, EMPTY_SHARE)
    r = np.where(reference > 0, reference, EMPTY_SHARE)
    return float(np.sum((c - r) * np.log(c / r)))


def js_distance(current: FloatArray, reference: FloatArray) -> float:
    p, q = current / current.sum(), reference / reference.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log2(p / m), 0.0)
        right = np.where(q > 0, q * np.log2(q / m), 0.0)
    return float(math.sqrt(max(float(left.sum() + right.sum()) / 2, 0.0)))


class NumericDrift:
    """Accumulates one numeric column of the current data against its profile."""

    def __init__(self, profile: NumericProfile) -> None:
        self.profile = profile
        # values are shifted by the reference mean so the running sums do not lose digits to a large offset
        self._shift = profile.mean
        self._knots = np.asarray(profile.knots, dtype=np.float64) - self._shift
        self._edges = np.asarray(profile.bin_edges, dtype=np.float64) - self._shift
        size = self._knots.size
        self.count = 0
        self.missing = 0
        self._total = 0.0
        self._at: IntArray = np.zeros(size, dtype=np.int64)  # current values <= knot
        self._below: IntArray = np.zeros(size, dtype=np.int64)  # current values < knot
        self._sum_at: FloatArray = np.zeros(size, dtype=np.float64)
        self._sum_below: FloatArray = np.zeros(size, dtype=np.float64)
        self._bin_below: IntArray = np.zeros(self._edges.size, dtype=np.int64)  # current values < inner edge

    def add(self, values: FloatArray) -> None:
        missing = np.isnan(values)
        n_missing = int(missing.sum())
        present = values[~missing] if n_missing else values
        ordered = np.sort(present - self._shift)
        sums = np.concatenate(([0.0], np.cumsum(ordered)))
        at = np.searchsorted(ordered, self._knots, side="right")
        below = np.searchsorted(ordered, self._knots, side="left")
        self._at += at
        self._below += below
        self._sum_at += sums[at]
        self._sum_below += sums[below]
        self._bin_below += np.searchsorted(ordered, self._edges, side="left")
        self._total += float(sums[-1])
        self.count += int(ordered.size)
        self.missing += n_missing

    def merge(self, other: NumericDrift) -> None:
        for name in self._ARRAYS:
            getattr(self, name).__iadd__(getattr(other, name))
        self._total += other._total
        self.count += other.count
        self.missing += other.missing

    _ARRAYS = ("_at", "_below", "_sum_at", "_sum_below", "_bin_below")

    def state(self) -> dict[str, Any]:
        arrays = {name.lstrip("_"): getattr(self, name).tolist() for name in self._ARRAYS}
        return {"count": self.count, "missing": self.missing, "total": self._total, **arrays}

    def load(self, state: Mapping[str, Any]) -> None:
        for name in self._ARRAYS:
            current = getattr(self, name)
            values = np.asarray(state[name.lstrip("_")], dtype=current.dtype)
            if values.shape != current.shape:
                raise ValueError(f"{name.lstrip('_')}: {values.size} values, the profile has {current.size}")
            setattr(self, name, values)
        self.count, self.missing, self._total = int(state["count"]), int(state["missing"]), float(state["total"])

    def bin_shares(self) -> FloatArray:
        counts = np.diff(np.concatenate(([0], self._bin_below, [self.count])))
        return np.asarray(counts / self.count, dtype=np.float64)

    def value(self, method: str) -> float:
        reference_bins = np.asarray(self.profile.bin_shares, dtype=np.float64)
        if method == "psi":
            return psi(self.bin_shares(), reference_bins)
        if method == "js":
            return js_distance(self.bin_shares(), reference_bins)
        if method == "ks":
            return self.ks()
        return self.wasserstein() / max(self.profile.std, MIN_STD)

    def ks(self) -> float:
        n = self.count
        at = np.abs(np.asarray(self.profile.cdf_at) - self._at / n)
        below = np.abs(np.asarray(self.profile.cdf_below) - self._below / n)
        return float(max(at.max(), below.max()))

    def wasserstein(self) -> float:
        """The integral of |F_ref - F_cur| (not normalised)."""
        n, u = self.count, self._knots
        # beyond the reference's range the reference CDF is 0 (below) or 1 (above): exact from counts and sums
        below_min = (self._below[0] * u[0] - self._sum_below[0]) / n
        above_max = ((self._total - self._sum_at[-1]) - (n - self._at[-1]) * u[-1]) / n
        if u.size == 1:
            return float(below_min + above_max)
        # between two knots each side's mass sits at its mean there: D is a step function with two steps, and its
        # integral is exact wherever the two CDFs do not cross inside the interval
        left, right = u[:-1], u[1:]
        ref_start = np.asarray(self.profile.cdf_at[:-1])
        ref_mass = np.asarray(self.profile.cdf_below[1:]) - ref_start
        ref_mean = np.asarray(self.profile.interval_means) - self._shift
        cur_start = self._at[:-1] / n
        cur_mass = (self._below[1:] - self._at[:-1]) / n
        inside_sum = self._sum_below[1:] - self._sum_at[:-1]
        cur_mean = np.divide(inside_sum, cur_mass * n, out=(left + right) / 2, where=cur_mass > 0)
        cur_mean = np.clip(cur_mean, left, right)
        first, second = np.minimum(ref_mean, cur_mean), np.maximum(ref_mean, cur_mean)
        start = ref_start - cur_start
        middle = np.where(ref_mean <= cur_mean, start + ref_mass, start - cur_mass)
        end = start + ref_mass - cur_mass
        inside = np.abs(start) * (first - left) + np.abs(middle) * (second - first) + np.abs(end) * (right - second)
        return float(below_min + above_max + inside.sum())


def _as_numbers(labels: Iterable[str]) -> dict[str, float] | None:
    numbers: dict[str, float] = {}
    for label in labels:
        try:
            numbers[label] = float(label)
        except ValueError:
            return None
    return numbers


class CategoricalDrift:
    """Accumulates one categorical column: counts per category."""

    def __init__(self, profile: CategoricalProfile) -> None:
        self.profile = profile
        self.counts: Counter[str] = Counter()
        self.count = 0
        self.missing = 0

    def add(self, labels: list[str | None]) -> None:
        present = [label for label in labels if label is not None]
        self.counts.update(present)
        self.count += len(present)
        self.missing += len(labels) - len(present)

    def merge(self, other: CategoricalDrift) -> None:
        self.counts.update(other.counts)
        self.count += other.count
        self.missing += other.missing

    def state(self) -> dict[str, Any]:
        return {"count": self.count, "missing": self.missing, "counts": dict(self.counts)}

    def load(self, state: Mapping[str, Any]) -> None:
        self.counts = Counter({str(k): int(v) for k, v in state["counts"].items()})
        self.count, self.missing = int(state["count"]), int(state["missing"])

    def method_for(self, method: str) -> str:
        """KS and Wasserstein need an order: numeric categories (integer codes) have one; text falls back to JS."""
        if method in {"ks", "wasserstein"} and _as_numbers(self._categories()) is None:
            return "js"
        return method

    def _categories(self) -> list[str]:
        return sorted(set(self.profile.frequencies) | set(self.counts))

    def value(self, method: str) -> float:
        categories = self._categories()
        reference = np.array([self.profile.frequencies.get(c, 0.0) for c in categories])
        current = np.array([self.counts.get(c, 0) / self.count for c in categories])
        used = self.method_for(method)
        if used == "psi":
            return psi(current, reference)
        if used == "js":
            return js_distance(current, reference)
        numbers = _as_numbers(categories)
        assert numbers is not None  # method_for fell back to js otherwise
        order = np.argsort([numbers[c] for c in categories], kind="stable")
        points = np.array([numbers[c] for c in categories])[order]
        gap = np.cumsum(reference[order]) - np.cumsum(current[order])
        if used == "ks":
            return float(np.abs(gap).max())
        mean = float(np.sum(points * reference[order]))
        std = math.sqrt(float(np.sum(reference[order] * (points - mean) ** 2)))
        return float(np.sum(np.abs(gap[:-1]) * np.diff(points))) / max(std, MIN_STD)


ColumnDrift = NumericDrift | CategoricalDrift


@dataclass(frozen=True)
class FeatureScore:
    value: float | None  # None: no value present in the current data, so no drift figure (reported, not combined)
    drifted: bool
    method: str
    count: int
    missing: int
    reference_missing_share: float

    def as_json(self) -> dict[str, Any]:
        total = self.count + self.missing
        return {
            "value": self.value,
            "drifted": self.drifted,
            "method": self.method,
            "count": self.count,
            "missing": self.missing,
            "missing_share": self.missing / total if total else 0.0,
            "reference_missing_share": self.reference_missing_share,
        }


@dataclass(frozen=True)
class Score:
    score: float | None
    method: str
    combine: str
    sample_count: int
    features: Mapping[str, FeatureScore]
    drifted: tuple[str, ...]
    unscored: tuple[str, ...]  # features with no value present in the current data
    critical_drifted: tuple[str, ...] = ()  # critical features above their threshold: each a breach on its own

    def as_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "method": self.method,
            "combine": self.combine,
            "sample_count": self.sample_count,
            "drifted": list(self.drifted),
            "unscored": list(self.unscored),
            "critical_drifted": list(self.critical_drifted),
            "features": {name: feature.as_json() for name, feature in self.features.items()},
        }


class Scorer:
    """Current data against a profile, chunk by chunk; `merge` adds another scorer's chunks (another worker's)."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.rows = 0
        self.columns: dict[str, ColumnDrift] = {
            name: NumericDrift(column) if isinstance(column, NumericProfile) else CategoricalDrift(column)
            for name, column in profile.columns.items()
        }

    def add(self, chunk: Chunk) -> None:
        absent = [name for name in self.columns if name not in chunk]
        if absent:
            raise TableError(f"column {absent[0]}: in the profile, not in the current data")
        for name, drift in self.columns.items():
            if isinstance(drift, NumericDrift):
                drift.add(chunk.numbers(name))
            else:
                drift.add(chunk.labels(name))
        self.rows += chunk.rows

    def add_all(self, chunks: Iterable[Chunk]) -> Scorer:
        for chunk in chunks:
            self.add(chunk)
        return self

    def merge(self, other: Scorer) -> Scorer:
        for name, drift in self.columns.items():
            drift.merge(other.columns[name])  # type: ignore[arg-type]  # same profile, so the same kinds
        self.rows += other.rows
        return self

    def state(self) -> dict[str, Any]:
        """What this scorer has accumulated, as JSON: another process loads it and merges (one worker's part)."""
        return {"rows": self.rows, "columns": {name: drift.state() for name, drift in self.columns.items()}}

    @classmethod
    def from_state(cls, profile: Profile, state: Any) -> Scorer:
        scorer = cls(profile)
        try:
            scorer.rows = int(state["rows"])
            for name, drift in scorer.columns.items():
                try:
                    drift.load(state["columns"][name])
                except (KeyError, TypeError, ValueError) as error:
                    raise TableError(f"columns.{name}: not this profile's accumulated state ({error})") from error
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, TableError):
                raise
            raise TableError(f"rows: not an accumulated state ({error})") from error
        return scorer

    def result(
        self,
        method: str = "psi",
        how: str = "share_drifted",
        threshold: float | None = None,
        weights: Mapping[str, float] | None = None,
        critical: Collection[str] = (),
    ) -> Score:
        if method not in METHODS:
            raise ValueError(f"--method: {method!r} is not one of {', '.join(METHODS)}")
        if self.rows == 0:
            raise TableError("current data: no row")
        level = DEFAULT_THRESHOLDS[method] if threshold is None else threshold
        values: dict[str, float] = {}
        features: dict[str, FeatureScore] = {}
        for name, drift in self.columns.items():
            used = drift.method_for(method) if isinstance(drift, CategoricalDrift) else method
            value = drift.value(method) if drift.count else None
            if value is not None:
                values[name] = value
            reference_total = drift.profile.count + drift.profile.missing
            features[name] = FeatureScore(
                value=value,
                drifted=value is not None and value > level,
                method=used,
                count=drift.count,
                missing=drift.missing,
                reference_missing_share=drift.profile.missing / reference_total if reference_total else 0.0,
            )
        unscored = tuple(name for name in features if name not in values)
        combined = combine(values, how, level, weights, critical) if values else None
        return Score(
            score=combined.score if combined else None,
            method=method,
            combine=how,
            sample_count=self.rows,
            features=features,
            drifted=combined.drifted if combined else (),
            unscored=unscored,
            critical_drifted=combined.critical_breached(critical) if combined else (),
        )
