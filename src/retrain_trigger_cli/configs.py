"""The configuration document the evaluator reads (`defaults` + `monitors`): from a file, or from a live stack."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from retrain_trigger.config import Catalog, MonitorConfig, parse_catalog
from retrain_trigger.errors import ConfigError
from retrain_trigger_cli.errors import UsageError


def load_document(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path}: not a JSON configuration document: {error}") from error
    if not isinstance(document, dict):
        raise UsageError(f"{path}: the configuration must be an object with 'defaults' and 'monitors'")
    return document


def select(
    document: Mapping[str, Any], monitor_id: str | None, origin: str = "config"
) -> tuple[Catalog, MonitorConfig]:
    """The validated catalog and the chosen monitor (the only one if `monitor_id` is None)."""
    try:
        catalog = parse_catalog(document)
    except ConfigError as error:
        raise UsageError(f"{origin}: {error}") from error
    if monitor_id is None:
        if len(catalog.monitors) == 1 and not catalog.errors:
            return catalog, catalog.monitors[0]
        if not catalog.monitors:  # nothing to choose from: what is wrong with each is the whole answer
            raise UsageError(f"{origin}: " + "; ".join(str(e) for e in catalog.errors))
        known = ", ".join(m.id for m in catalog.monitors)
        invalid = ", ".join(e.monitor_id for e in catalog.errors)
        raise UsageError(
            f"{origin}: several monitors ({known}" + (f"; invalid: {invalid}" if invalid else "") + ");"
            " choose one with --monitor"
        )
    monitor = catalog.get(monitor_id)
    if monitor is None:
        problem = next((e for e in catalog.errors if e.monitor_id == monitor_id), None)
        if problem is not None:
            raise UsageError(f"{origin}: {problem}")
        known = ", ".join(m.id for m in catalog.monitors)
        raise UsageError(f"{origin}: no monitor {monitor_id!r} (monitors: {known})")
    return catalog, monitor


def with_overrides(document: Mapping[str, Any], monitor_id: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the document whose monitor `monitor_id` has `overrides` set (they win over the defaults)."""
    changed = copy.deepcopy(dict(document))
    for monitor in changed.get("monitors", []):
        if isinstance(monitor, dict) and monitor.get("id") == monitor_id:
            monitor.update(overrides)
    return changed
