"""The configuration table of docs/configuration.md, generated from the pydantic model the evaluator validates with.

`python -m retrain_trigger_local.docs_tables` rewrites the block between the markers; `--check` only says whether
the file is up to date (exit 1 if not), which is what tests/functional/test_docs.py asserts. Keys, types and
defaults come from `retrain_trigger.config.MonitorConfig`; only the meaning of each key is written here, and a key
of the model without a meaning (or a meaning for a key the model lacks) is an error, so the table cannot drift.
"""

from __future__ import annotations

import argparse
import sys
import types
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Le
from pydantic import AfterValidator, AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

from retrain_trigger.config import MonitorConfig

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION_PAGE = ROOT / "docs" / "configuration.md"
START = "<!-- config-table:start -->"
END = "<!-- config-table:end -->"

# What each key means. Keys are the model's field paths: nested models with a dot, list items with `[]`.
MEANING: dict[str, str] = {
    "id": "the monitor; also the score table's partition key",
    "source.type": (
        "`dynamodb` (table `ScoreTable`, items `monitor_id`, `timestamp` as UTC text "
        "`YYYY-MM-DDTHH:MM:SS[.ffffff]Z` or `…+00:00` (anything else is refused: see "
        "[Bad input](reliability.md#bad-input)), `drift_score`, guard metrics as attributes) or `cloudwatch` "
        "(guard metrics are metrics of the same namespace and dimensions). Without `type`, a `source` is `dynamodb`"
    ),
    "source.table": "the score table to read instead of the stack's `ScoreTable` (read by one Query per tick)",
    "source.score_attribute": "the item attribute holding the score",
    "source.namespace": "the metric's namespace",
    "source.metric_name": "the score's metric",
    "source.dimensions": "the metric's dimensions (also those of the guard metrics)",
    "source.stat": "the statistic read",
    "source.period": "the metric's period: 1, 5, 10 or 30 s or a multiple of 60 s, as CloudWatch takes",
    "critical": (
        "θ. A retraining is triggered when the drift score is **above** it (higher is worse; equal is not above)"
    ),
    "reset": "hysteresis: once triggered, the monitor re-arms only after the score falls **below** `reset`",
    "warning": "optional lower level: alerts, never retrains",
    "warning_reset": "hysteresis for the warning level",
    "datapoints_to_trigger": "M of N: M of the last `evaluation_periods` datapoints must breach",
    "evaluation_periods": "N: how many of the newest datapoints are read (at most 100)",
    "missing_data": (
        "as CloudWatch alarms: `missing` (no decision, state kept, reported as insufficient data), `ignore` "
        "(state kept, not reported), `breaching` (missing datapoints count as breaching — alerts, but a retraining "
        "always needs a real datapoint above critical), `not_breaching`"
    ),
    "max_age": (
        "a datapoint older than this counts as missing (period: the CloudWatch `period`, else `every`, else the "
        "evaluator's tick, `TickMinutes`: a monitor without `every` is evaluated every tick)"
    ),
    "guards": (
        'combined conditions, e.g. `{"metric": "accuracy", "below": 0.85}` or `{"metric": "latency_p99", '
        '"above": 300}`. A retraining also needs every guard to hold on the triggering datapoint; otherwise the '
        "monitor only alerts (and retrains later in the same episode once they hold)"
    ),
    "guards[].metric": "the guard's metric: a column of the score item, or a metric beside the CloudWatch score",
    "guards[].below": "the guard holds when the metric is strictly below this (exactly one of `below`, `above`)",
    "guards[].above": "the guard holds when the metric is strictly above this",
    "grace_period": (
        "for this long after a retraining completes, or after a model is deployed, no retraining is triggered"
    ),
    "cooldown": "the least time between two retrainings of one model; also the back-off after a failed retraining",
    "retrain_on_persisting_drift": (
        "after a successful retraining, if drift persists past the grace period: escalate only (`false`), or "
        "retrain again after `cooldown` (`true`)"
    ),
    "max_retrains_per_episode": "cap on retraining attempts (retries after failures included) in one episode",
    "retraining_timeout": "a retraining with no final status after this long counts as failed (alert, back-off)",
    "every": (
        "how often the monitor is evaluated. The evaluator runs every `TickMinutes`; a monitor is due in the tick "
        "during which a multiple of `every` (counted from the Unix epoch, UTC) passes, so `1d` means the first tick "
        "after midnight UTC (plus `evaluation_delay`)"
    ),
    "mode": (
        "`active`; `shadow` (follows active's path exactly and commits its state, taking a would-be retraining as "
        "succeeded at once, grace from the decision; it never acts: every would-be action is listed as `suppressed` "
        "in the log and the history. Switching to `active` starts the monitor armed, except that an episode opened "
        "in active mode is kept); `muted` (decides as active "
        "but retrains never and sends nothing until `muted_until`; an episode still open then is announced with "
        "its critical alert)"
    ),
    "muted_until": (
        "required with `mode: muted`, with a timezone (any offset; kept in UTC), e.g. `2024-08-20T00:00:00Z`"
    ),
    "actions.on_alert": (
        "which of `sns`, `eventbridge` run for alerts (warning, critical-but-blocked, escalation, recovered, "
        "retraining failed)"
    ),
    "actions.on_retrain": (
        "which actions run when a retraining starts (without `sagemaker` by default when no pipeline is "
        "configured). They run in the order sagemaker, sqs, eventbridge, sns, so the alert carries the pipeline "
        "execution ARN"
    ),
    "actions.pipeline": (
        'the SageMaker pipeline, `{"name": "...", "parameters": {"k": "v"}}`. It receives your parameters plus '
        "`MonitorId`, `EpisodeId`, `DriftScore`, `DriftThreshold`, so the pipeline must declare those four"
    ),
    "actions.pipeline.name": "the pipeline's name (the evaluator may start it only if the stack covers it)",
    "actions.pipeline.parameters": "your own pipeline parameters, text values",
    "no_data_after": (
        "when the newest datapoint is older than this at an evaluation: one `no_data` alert (severity `warning`) "
        "naming its age, once per gap, and one `data_resumed` (severity `recovered`) when a newer datapoint "
        "arrives. During a gap every datapoint counts as missing, so a gap never retrains and never closes an "
        "episode. `null` turns it off"
    ),
    "renotify_every": (
        "while an episode stays open with no retraining running (ALARM, or RETRAINED with the latest score not "
        "below `reset`), its alert (`critical`, or `escalation` once escalated) is sent again at this interval, "
        "with the repetition count `renotification` in the body and the attributes. Unset: off"
    ),
    "datapoints_to_recover": (
        "an episode closes, and the monitor re-arms, only when the last this-many datapoints are all below "
        "`reset` (at most `evaluation_periods`)"
    ),
    "evaluation_delay": (
        "a monitor is due this long after each boundary of its `every`, for scores that land late: `every: 1d`, "
        "`evaluation_delay: 2h` evaluates at 02:00 a score written at 01:30. Datapoints stamped after the "
        "evaluation time are ignored, not errors"
    ),
    "suppressed_by": (
        "inhibition ([Fleet](fleet.md#inhibition)): monitor ids and `alarm:<CloudWatch alarm name>`. While one of "
        "them is in an open episode (or ALARM), this monitor decides and commits but its retraining is held in "
        'ALARM, "inhibited by X", with one critical alert per episode. An unknown monitor or a cycle is refused'
    ),
    "priority": (
        "retrainings held by the fleet budget ([Fleet](fleet.md#the-retraining-budget)) start highest priority "
        "first, then oldest held first"
    ),
    "maintenance": (
        "maintenance windows: during each the monitor is muted exactly as `mode: muted` (decides, never retrains, "
        "sends nothing; an episode still open when the window ends is announced once). Set in `defaults` for every "
        "monitor; a monitor's own list replaces it. See [maintenance windows](fleet-windows.md#maintenance-windows)"
    ),
    "maintenance[].cron": "when each window starts, 5-field cron in the zone's wall time (e.g. `0 2 * * SUN`)",
    "maintenance[].rrule": (
        "instead of `cron`: an RFC 5545 RRULE (e.g. `FREQ=WEEKLY;BYDAY=SU;BYHOUR=2`), in the zone's wall time"
    ),
    "maintenance[].duration": "how long each window lasts (elapsed time, e.g. `3h`)",
    "maintenance[].timezone": (
        "the IANA zone of the start's wall time (e.g. `Europe/Berlin`); DST is followed: a start in the skipped "
        "hour begins when the clock jumps, one in the repeated hour on its first pass"
    ),
    "max_model_age": (
        'past this age of the model (from its last successful retraining or "Model Deployed"; before either, '
        'from the first evaluation with the key) a retraining starts without drift, with the reason "model age", '
        "once per age window, through the same start path. See [model age](fleet-windows.md#model-age)"
    ),
    "approval": (
        "`required`: a retraining that would start waits in AWAITING_APPROVAL, with one alert saying how to approve "
        'or reject (`retrain-trigger approve|reject`, or a "Retraining Approved"/"Retraining Rejected" bus '
        "event); a rejected or expired request holds the episode in ALARM without retraining. See "
        "docs/fleet-approval.md"
    ),
    "approval_timeout": (
        "an approval request nobody answers within this expires: an `approval_expired` alert (severity `error`), "
        "ALARM, and no retraining in that episode"
    ),
    "score": (
        "the score from many features' drift values, recomputed by the evaluator from the score item's feature "
        "attributes (or one CloudWatch metric per feature) instead of reading `drift_score`. See "
        "[A score from many features](drift-from-data.md#a-score-from-many-features)"
    ),
    "score.combine": (
        "`max` (the largest feature value), `mean`, `share_drifted` (the share of features above their threshold: "
        "Evidently's dataset drift), `weighted` (the mean weighted by `weights`, feature importances)"
    ),
    "score.features": (
        'the features to read, or `"*"`: every numeric attribute of the score item but its own (`drift_score`, '
        "`sample_count`, …) and the guard metrics (`dynamodb` source only; CloudWatch needs the list)"
    ),
    "score.feature_threshold": (
        "a feature drifts when its value is strictly above this; one number, or one per feature (a feature "
        "without one never counts as drifted)"
    ),
    "score.weights": "feature → importance (≥ 0), for `weighted` only, which needs one for every listed feature",
    "score.critical_features": (
        "features that breach critical on their own when above their threshold, whatever the combined score; the "
        "decision's reason names them"
    ),
    "score.feature_metric": (
        "the CloudWatch metric of each feature, `{feature}` standing for its name (the default is Model Monitor's)"
    ),
    "min_samples": (
        "a datapoint whose item has `sample_count` below this counts as missing, and the decision says so "
        "(`dynamodb` source only). An item without `sample_count` is judged on its score"
    ),
}

# Defaults the model leaves unset (None) because the engine derives them from other keys.
DERIVED_DEFAULT: dict[str, str] = {
    "source.table": "the stack's `ScoreTable`",
    "reset": "`critical`",
    "warning_reset": "`warning`",
    "max_age": "(N + 1) \N{MULTIPLICATION SIGN} period",
    "every": "every tick",
    "no_data_after": "`max_age`",
}

# One row for a whole nested value, besides its keys' rows: the shape a reader writes first.
SUMMARY_ROWS = frozenset({"guards", "actions.pipeline", "score"})


class TableError(ValueError):
    """The model and the meanings above disagree: a key without a meaning, or a meaning without a key."""


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (`A | B | None`, `A`), in order."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (Union, types.UnionType):
        return [model for arg in get_args(annotation) for model in _models(arg)]
    return []


def _item_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a `tuple[Model, ...]` field, else None."""
    if get_origin(annotation) is tuple:
        args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        if len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            return args[0]
    return None


def fields(model: type[BaseModel] = MonitorConfig, prefix: str = "") -> Iterator[tuple[str, FieldInfo, str]]:
    """(path, field, which source variant or "") for every key of the model, nested keys included."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        nested = _models(info.annotation)
        if len(nested) > 1:  # a discriminated union: one row per key, saying which variant has it
            seen: set[str] = set()
            for variant in nested:
                tag = str(variant.model_fields["type"].default)
                for sub_path, sub_info, _ in fields(variant, f"{path}."):
                    if sub_path in seen:
                        continue
                    seen.add(sub_path)
                    in_all = all(sub_path.rsplit(".", 1)[1] in v.model_fields for v in nested)
                    if sub_path == f"{path}.type":  # the discriminator: its choices are every variant's tag
                        tags = tuple(str(v.model_fields["type"].default) for v in nested)
                        choices: Any = Literal[tags]
                        yield sub_path, FieldInfo(annotation=choices, default=sub_info.default), ""
                        continue
                    yield sub_path, sub_info, "" if in_all else tag
            continue
        if nested:
            if path in SUMMARY_ROWS:
                yield path, info, ""
            yield from fields(nested[0], f"{path}.")
            continue
        item = _item_model(info.annotation)
        yield path, info, ""
        if item is not None:
            yield from fields(item, f"{path}[].")


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0 and not (unit == "w" and seconds // size < 2):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, timedelta):
        return f"`{_duration(value)}`"
    if isinstance(value, tuple | list):
        return "`[" + ", ".join(f'"{item}"' for item in value) + "]`" if value else "`[]`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    return f"`{value}`"


def default_text(path: str, info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
    if value is None and path in DERIVED_DEFAULT:
        return DERIVED_DEFAULT[path]
    if path in DERIVED_DEFAULT:
        raise TableError(f"{path}: a derived default is written for it, but the model's default is {value!r}")
    return _value(value)


def _bounds(info: FieldInfo) -> str:
    low = next((m.ge for m in info.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, Le)), None)
    if low is not None and high is not None:
        return f" {low}-{high}"
    return f" ≥ {low}" if low is not None else ""


def _base_type(annotation: Any, metadata: list[Any]) -> str:
    if get_origin(annotation) is Annotated:  # an optional Level or Duration keeps its validators here
        inner, *extra = get_args(annotation)
        return _base_type(inner, [*metadata, *extra])
    if get_origin(annotation) is Literal:
        return ", ".join(f"`{choice}`" for choice in get_args(annotation))
    if get_origin(annotation) in (Union, types.UnionType):
        parts = [_base_type(arg, metadata) for arg in get_args(annotation) if arg is not type(None)]
        return " or ".join(parts)
    if get_origin(annotation) is tuple:
        (item, *_rest) = get_args(annotation)
        return "list of " + (_base_type(item, []) if get_origin(item) is Literal or item is str else "objects")
    if get_origin(annotation) is dict:
        return "object of numbers" if get_args(annotation)[1:] == (float,) else "object of text"
    if annotation is timedelta:
        positive = any(isinstance(m, AfterValidator) and m.func.__name__ == "_positive" for m in metadata)
        return "duration > 0" if positive else "duration ≥ 0"
    if annotation is AwareDatetime or (isinstance(annotation, type) and issubclass(annotation, datetime)):
        return "time with a timezone"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    names = {bool: "boolean", int: "integer", float: "number", str: "text"}
    return names.get(annotation, str(annotation))


def type_text(info: FieldInfo) -> str:
    nullable = get_origin(info.annotation) in (Union, types.UnionType) and type(None) in get_args(info.annotation)
    text = _base_type(info.annotation, list(info.metadata))
    if info.annotation is int:
        text += _bounds(info)
    return text + (" or `null`" if nullable else "")


def rows() -> list[tuple[str, str, str, str]]:
    """(key, type, default, meaning) for every key of a monitor; raises TableError where meanings and model part."""
    listed = list(fields())
    paths = [path for path, _, _ in listed]
    undocumented = [path for path in paths if path not in MEANING]
    unknown = sorted(set(MEANING) - set(paths))
    if undocumented or unknown:
        raise TableError(f"keys without a meaning: {undocumented}; meanings of keys the model lacks: {unknown}")
    out = []
    for path, info, variant in listed:
        kind = type_text(info) + (f" (`{variant}` source only)" if variant else "")
        out.append((f"`{path}`", kind, default_text(path, info), MEANING[path]))
    return out


def table() -> str:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for row in rows():
        cells = [cell.replace("|", "\\|") for cell in row]  # a pipe inside a cell would split it
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rewrite(text: str) -> str:
    """`text` with the block between the markers replaced by the generated table."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise TableError(f"expected one {START} before one {END}")
    head, rest = text.split(START)
    _, tail = rest.split(END)
    note = (
        "<!-- generated by `python -m retrain_trigger_local.docs_tables` from retrain_trigger.config; do not edit -->"
    )
    return f"{head}{START}\n{note}\n\n{table()}\n\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrain_trigger_local.docs_tables", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is not up to date; write nothing")
    parser.add_argument("--page", type=Path, default=CONFIGURATION_PAGE)
    args = parser.parse_args(argv)
    text = args.page.read_text()
    try:
        wanted = rewrite(text)
    except TableError as error:
        print(f"{args.page}: {error}", file=sys.stderr)
        return 2
    if wanted == text:
        return 0
    if args.check:
        print(f"{args.page}: configuration table out of date; run `python -m retrain_trigger_local.docs_tables`")
        return 1
    args.page.write_text(wanted)
    print(f"wrote the configuration table of {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
