"""A reference's profile: a small JSON document that stands in for the reference data when scoring.

Per numeric column it keeps the reference's quantiles at levels 0, 1/Q, ..., 1 (Q = 1000 by default) by numpy's
default (linear) method, the reference's exact CDF at each distinct quantile value (so atoms, such as a constant or
integer-coded column, are exact rather than smeared), the mean and population standard deviation, the PSI bin
edges (the deciles by the same method, the outer bins open) and the reference's share in each bin. Per categorical
column it keeps the frequencies. Both count the missing values. Never the data itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from retrain_trigger_drift_data.tables import Chunk

PROFILE_VERSION = 1
DEFAULT_QUANTILES = 1000
DEFAULT_BINS = 10

FloatArray = npt.NDArray[np.float64]


class ProfileError(ValueError):
    """A reference cannot be profiled, or a profile document is malformed; the message names the field."""


@dataclass(frozen=True)
class NumericProfile:
    count: int  # non-missing values
    missing: int
    mean: float
    std: float  # population (ddof=0), as Evidently normalises the Wasserstein distance
    knots: tuple[float, ...]  # the distinct quantile values, ascending
    cdf_below: tuple[float, ...]  # share of the reference < knot
    cdf_at: tuple[float, ...]  # share of the reference <= knot
    quantiles: tuple[float, ...]  # levels 0..1 in Q steps, duplicates kept (what numpy.quantile returned)
    interval_means: tuple[float, ...]  # the mean of the reference strictly between two knots (the midpoint if none)
    bin_edges: tuple[float, ...]  # inner PSI edges; bin i is [edge[i-1], edge[i]), the first and last open
    bin_shares: tuple[float, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": "numeric",
            "count": self.count,
            "missing": self.missing,
            "mean": self.mean,
            "std": self.std,
            "min": self.knots[0],
            "max": self.knots[-1],
            "quantiles": list(self.quantiles),
            "cdf_below": list(self.cdf_below),
            "cdf_at": list(self.cdf_at),
            "interval_means": list(self.interval_means),
            "bin_edges": list(self.bin_edges),
            "bin_shares": list(self.bin_shares),
        }


@dataclass(frozen=True)
class CategoricalProfile:
    count: int
    missing: int
    frequencies: Mapping[str, float]

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": "categorical",
            "count": self.count,
            "missing": self.missing,
            "frequencies": dict(self.frequencies),
        }


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True)
class Profile:
    columns: Mapping[str, ColumnProfile]
    rows: int
    source: str = ""
    quantile_steps: int = DEFAULT_QUANTILES
    bins: int = DEFAULT_BINS
    order: tuple[str, ...] = field(default=())  # the reference's column order (headerless data capture maps by it)

    def as_json(self) -> dict[str, Any]:
        return {
            "version": PROFILE_VERSION,
            "source": self.source,
            "rows": self.rows,
            "quantile_steps": self.quantile_steps,
            "bins": self.bins,
            "columns": {name: column.as_json() for name, column in self.columns.items()},
        }

    @classmethod
    def from_json(cls, document: Any) -> Profile:
        """Validate a profile document; a malformed one raises ProfileError naming the field."""
        if not isinstance(document, dict):
            raise ProfileError("profile: not a JSON object")
        if document.get("version") != PROFILE_VERSION:
            raise ProfileError(f"version: {document.get('version')!r}, this code reads version {PROFILE_VERSION}")
        raw_columns = document.get("columns")
        if not isinstance(raw_columns, dict) or not raw_columns:
            raise ProfileError("columns: missing or empty")
        columns = {name: _column_from_json(name, raw) for name, raw in raw_columns.items()}
        return cls(
            columns=columns,
            rows=_int(document, "rows", "rows"),
            source=str(document.get("source", "")),
            quantile_steps=_int(document, "quantile_steps", "quantile_steps"),
            bins=_int(document, "bins", "bins"),
            order=tuple(raw_columns),
        )


def _int(raw: Mapping[str, Any], key: str, where: str) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProfileError(f"{where}: {value!r} is not a non-negative integer")
    return value


def _floats(raw: Mapping[str, Any], key: str, where: str) -> tuple[float, ...]:
    values = raw.get(key)
    if not isinstance(values, list) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise ProfileError(f"{where}.{key}: not a list of numbers")
    if not all(math.isfinite(v) for v in values):
        raise ProfileError(f"{where}.{key}: holds a value that is not finite")
    return tuple(float(v) for v in values)


def _column_from_json(name: str, raw: Any) -> ColumnProfile:
    where = f"columns.{name}"
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: not a JSON object")
    count, missing = _int(raw, "count", f"{where}.count"), _int(raw, "missing", f"{where}.missing")
    if raw.get("kind") == "categorical":
        frequencies = raw.get("frequencies")
        if not isinstance(frequencies, dict) or not all(isinstance(v, int | float) for v in frequencies.values()):
            raise ProfileError(f"{where}.frequencies: not an object of category -> share")
        return CategoricalProfile(count, missing, {str(k): float(v) for k, v in frequencies.items()})
    if raw.get("kind") != "numeric":
        raise ProfileError(f"{where}.kind: {raw.get('kind')!r}, expected 'numeric' or 'categorical'")
    quantiles = _floats(raw, "quantiles", where)
    knots = tuple(sorted(set(quantiles)))
    cdf_below, cdf_at = _floats(raw, "cdf_below", where), _floats(raw, "cdf_at", where)
    if count and (len(cdf_below) != len(knots) or len(cdf_at) != len(knots)):
        raise ProfileError(f"{where}.cdf_at: {len(cdf_at)} values for {len(knots)} distinct quantiles")
    means = _floats(raw, "interval_means", where)
    if count and len(means) != len(knots) - 1:
        raise ProfileError(f"{where}.interval_means: {len(means)} values for {len(knots) - 1} intervals")
    edges, shares = _floats(raw, "bin_edges", where), _floats(raw, "bin_shares", where)
    if len(shares) != len(edges) + 1:
        raise ProfileError(f"{where}.bin_shares: {len(shares)} shares for {len(edges) + 1} bins")
    return NumericProfile(
        count=count,
        missing=missing,
        mean=_floats({"mean": [raw.get("mean")]}, "mean", where)[0],
        std=_floats({"std": [raw.get("std")]}, "std", where)[0],
        knots=knots,
        cdf_below=cdf_below,
        cdf_at=cdf_at,
        quantiles=quantiles,
        interval_means=means,
        bin_edges=edges,
        bin_shares=shares,
    )


def numeric_profile(values: FloatArray, steps: int = DEFAULT_QUANTILES, bins: int = DEFAULT_BINS) -> NumericProfile:
    """The profile of one numeric column (NaN = missing, counted)."""
    missing_mask = np.isnan(values)
    present = np.sort(values[~missing_mask])
    n = int(present.size)
    if n == 0:
        raise ProfileError("no value that is not missing")
    quantiles = np.quantile(present, np.linspace(0.0, 1.0, steps + 1))
    knots = np.unique(quantiles)
    # the exact reference CDF at each knot, so atoms (ties) are exact
    cdf_below = np.searchsorted(present, knots, side="left") / n
    cdf_at = np.searchsorted(present, knots, side="right") / n
    # the first moment between knots makes the Wasserstein integral exact where the two CDFs do not cross, even in
    # a long tail where one quantile step spans a wide range; shifted by the mean so the sums keep their digits
    at, below = np.searchsorted(present, knots, side="right"), np.searchsorted(present, knots, side="left")
    sums = np.concatenate(([0.0], np.cumsum(present - present.mean())))
    inside = below[1:] - at[:-1]
    midpoints = (knots[1:] + knots[:-1]) / 2
    means = np.divide(sums[below[1:]] - sums[at[:-1]], inside, out=midpoints - present.mean(), where=inside > 0)
    means = np.clip(means + present.mean(), knots[:-1], knots[1:])
    edges = np.quantile(present, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    counts = np.diff(np.concatenate(([0], np.searchsorted(present, edges, side="left"), [n])))
    return NumericProfile(
        count=n,
        missing=int(missing_mask.sum()),
        mean=float(present.mean()),
        std=float(present.std()),
        knots=tuple(knots.tolist()),
        cdf_below=tuple(cdf_below.tolist()),
        cdf_at=tuple(cdf_at.tolist()),
        quantiles=tuple(quantiles.tolist()),
        interval_means=tuple(means.tolist()),
        bin_edges=tuple(edges.tolist()),
        bin_shares=tuple((counts / n).tolist()),
    )


def categorical_profile(values: Sequence[str | None]) -> CategoricalProfile:
    present = [v for v in values if v is not None]
    if not present:
        raise ProfileError("no value that is not missing")
    labels, counts = np.unique(np.asarray(present, dtype=object).astype(str), return_counts=True)
    n = len(present)
    return CategoricalProfile(
        count=n,
        missing=len(values) - n,
        frequencies={str(label): int(c) / n for label, c in zip(labels.tolist(), counts.tolist(), strict=True)},
    )


def build_profile(
    chunks: Iterable[Chunk],
    categorical: Iterable[str] = (),
    steps: int = DEFAULT_QUANTILES,
    bins: int = DEFAULT_BINS,
    source: str = "",
) -> Profile:
    """Profile a reference given in chunks. The reference is held in memory column by column (8 bytes a numeric
    value) because exact quantiles need all of it; sample a reference larger than memory (see the docs)."""
    wanted_categorical = set(categorical)
    numeric_parts: dict[str, list[FloatArray]] = {}
    categorical_parts: dict[str, list[str | None]] = {}
    order: list[str] = []
    rows = 0
    for chunk in chunks:
        rows += chunk.rows
        for name in chunk.names:
            if name not in order:
                order.append(name)
            if name in wanted_categorical or not chunk.is_numeric(name):
                categorical_parts.setdefault(name, []).extend(chunk.labels(name))
            else:
                numeric_parts.setdefault(name, []).append(chunk.numbers(name))
    unknown = sorted(wanted_categorical - set(order))
    if unknown:
        raise ProfileError(f"--categorical: {', '.join(unknown)} not among the reference's columns")
    columns: dict[str, ColumnProfile] = {}
    for name in order:
        try:
            if name in numeric_parts and name not in categorical_parts:
                columns[name] = numeric_profile(np.concatenate(numeric_parts[name]), steps, bins)
            else:
                # a column numeric in one chunk and text in another is categorical throughout
                merged = list(categorical_parts.get(name, []))
                for part in numeric_parts.get(name, []):
                    merged.extend(None if math.isnan(v) else repr(v) for v in part.tolist())
                columns[name] = categorical_profile(merged)
        except ProfileError as error:
            raise ProfileError(f"columns.{name}: {error}") from error
    if not columns:
        raise ProfileError("reference: no column")
    return Profile(columns=columns, rows=rows, source=source, quantile_steps=steps, bins=bins, order=tuple(order))
