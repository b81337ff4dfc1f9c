"""`retrain-trigger report`: one self-contained HTML page of a replay (or a compare): the interactive score-vs-levels
plot with episodes, grace periods, alerts and retrainings, the decisions table, and for a compare the variants and
their Pareto front. Plotly's JavaScript is inlined, so the file opens offline and can be attached to a ticket."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from retrain_trigger_cli import compare, replay
from retrain_trigger_cli.plot import ALERT_COLOR, drawn_series

LEVEL_COLOR = {"critical": "#d62728", "warning": "#ff7f0e", "reset": "#2ca02c"}
RETRAIN_COLOR = "#1f77b4"


@dataclass(frozen=True)
class Comparison:
    """A compare's outcome as the report shows it: every variant, the front, and which one the plot replays."""

    rows: Sequence[compare.Scored]
    front: Sequence[compare.Scored]
    labels: Sequence[tuple[datetime, datetime]]
    drawn: str  # the variant whose replay the score plot and decisions table show


def score_figure(result: replay.Replay, frame: pd.DataFrame, labels: Sequence[tuple[datetime, datetime]] = ()) -> Any:
    monitor = result.monitor
    drawn = drawn_series(frame)
    figure = go.Figure()
    if drawn.band is not None:
        figure.add_trace(
            go.Scatter(
                x=drawn.band["timestamp"], y=drawn.band["high"], mode="lines", line={"width": 0}, showlegend=False
            )
        )
        figure.add_trace(
            go.Scatter(
                x=drawn.band["timestamp"],
                y=drawn.band["low"],
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                name="daily range",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=drawn.line["timestamp"],
            y=drawn.line["drift_score"],
            mode="lines" if drawn.band is not None else "lines+markers",
            connectgaps=False,  # a gap in the scores stays a gap
            name="drift score" if drawn.band is None else "daily maximum",
            line={"color": "#333333"},
        )
    )
    for level, value in (("critical", monitor.critical), ("warning", monitor.warning), ("reset", monitor.reset_level)):
        if value is not None:
            figure.add_hline(
                y=value,
                line={"color": LEVEL_COLOR[level], "dash": "dash" if level == "reset" else "solid"},
                annotation_text=f"{level} {value:g}",
            )
    marks = replay.marks(result)
    for start, end in marks.episodes:
        figure.add_vrect(x0=start, x1=end, fillcolor="#d62728", opacity=0.12, line_width=0)
    for start, end in marks.grace:
        figure.add_vrect(x0=start, x1=end, fillcolor="#7f7f7f", opacity=0.12, line_width=0)
    for start, end in labels:
        figure.add_vrect(x0=start, x1=end, fillcolor="#2ca02c", opacity=0.10, line_width=0)
    _event_markers(figure, result)
    figure.update_layout(
        title=f"{monitor.id}: drift score against its levels",
        xaxis_title="time (UTC)",
        yaxis_title="drift score",
        hovermode="closest",
        height=520,
    )
    return figure


def _event_markers(figure: Any, result: replay.Replay) -> None:
    """A marker when each alert fired and each retraining started, at that evaluation's score (the critical level
    when the evaluation had none, e.g. a no-data alert)."""
    points: dict[str, list[tuple[datetime, float, str]]] = {}
    for step in result.steps:
        decision = step.decision
        y = decision.score if decision.score is not None else result.monitor.critical
        for notice in dict.fromkeys(a.notice for a in decision.new_actions):
            kind: str = "retraining" if notice.event == "retrain_started" else notice.event
            points.setdefault(kind, []).append((step.at, y, decision.reason))
    for kind, found in points.items():
        figure.add_trace(
            go.Scatter(
                x=[p[0] for p in found],
                y=[p[1] for p in found],
                mode="markers",
                name=kind,
                text=[p[2] for p in found],
                marker={
                    "symbol": "triangle-up" if kind == "retraining" else "circle",
                    "size": 12 if kind == "retraining" else 9,
                    "color": RETRAIN_COLOR if kind == "retraining" else _alert_color(kind),
                    "line": {"width": 1, "color": "white"},
                },
            )
        )


def _alert_color(event: str) -> str:
    named = {"tab:orange": "#ff7f0e", "tab:red": "#d62728", "tab:green": "#2ca02c", "darkred": "#8b0000"}
    return named.get(ALERT_COLOR.get(event, ""), ALERT_COLOR.get(event, "#9467bd"))


def decisions_table(result: replay.Replay) -> str:
    """The evaluations that changed state or acted (all of them would be a year of rows), as the replay records them."""
    rows = [replay.record(step) for step in result.steps]
    shown = [r for r in rows if r["transition"] or r["actions"] or "event" in r]
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(cell))}</td>"
            for cell in (
                r["timestamp"],
                "-" if r["score"] is None else f"{r['score']:.4f}",
                r["state"],
                " ".join(r["actions"]) or "-",
                r.get("event", ""),
                r["reason"],
            )
        )
        + "</tr>"
        for r in shown
    )
    return (
        f"<p>{len(rows)} evaluations; the {len(shown)} that changed state or acted:</p>"
        '<table id="decisions"><thead><tr><th>time</th><th>score</th><th>state</th><th>actions</th><th>event</th>'
        f"<th>reason</th></tr></thead><tbody>{body}</tbody></table>"
    )


def pareto_figure(comparison: Comparison) -> Any:
    """Retrainings against the median detection delay (with labels) or the alerts (without): the front apart, each
    point's variant, missed episodes and alerts in its hover text."""
    labelled = bool(comparison.labels)
    front = {row.variant.name for row in comparison.front}
    valid = [row for row in comparison.rows if row.summary is not None]
    figure = go.Figure()
    for on_front in (False, True):
        chosen = [row for row in valid if (row.variant.name in front) == on_front]
        figure.add_trace(
            go.Scatter(
                x=[_x(row, labelled) for row in chosen],
                y=[row.summary.retrains if row.summary else 0 for row in chosen],
                mode="markers",
                name="Pareto front" if on_front else "dominated",
                text=[f"{row.variant.name}; missed {row.missed}; alerts {row.alerts}" for row in chosen],
                marker={"size": 12 if on_front else 8, "color": "#d62728" if on_front else "#aaaaaa"},
            )
        )
    figure.update_layout(
        title="Variants and their Pareto front (missed, median delay, retrains, alerts)",
        xaxis_title="median detection delay (days)" if labelled else "alerts",
        yaxis_title="retrainings",
        height=460,
    )
    return figure


def _x(row: compare.Scored, labelled: bool) -> float | None:
    if not labelled:
        return float(row.alerts)
    delay = row.median_delay
    return None if delay is None else round(delay.total_seconds() / 86400, 2)


def comparison_table(comparison: Comparison) -> str:
    labelled = bool(comparison.labels)
    front = {row.variant.name for row in comparison.front}
    head = ["variant", "front", "retrains", "alerts", "first detection"]
    if labelled:
        head += ["caught", "missed", "median delay (h)", "retrains outside"]
    lines = []
    for row in comparison.rows:
        cells: list[Any] = [row.variant.name, "yes" if row.variant.name in front else ""]
        if row.summary is None:  # the engine's own validation refused it: say why, across the row
            escaped = "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
            lines.append(f'<tr>{escaped}<td colspan="{len(head) - 2}">invalid: {html.escape(row.error)}</td></tr>')
            continue
        first = row.summary.first_detection
        cells += [row.summary.retrains, row.alerts, first.isoformat() if first else "-"]
        if labelled:
            delay = row.median_delay
            hours = "-" if delay is None else f"{delay.total_seconds() / 3600:.1f}"
            cells += [f"{row.caught}/{row.episodes}", row.missed, hours, row.retrains_outside]
        lines.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f'<table id="variants"><thead><tr>{header}</tr></thead><tbody>{"".join(lines)}</tbody></table>'


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; }
th { background: #f2f2f2; }
"""


def render(
    title: str, result: replay.Replay, frame: pd.DataFrame, comparison: Comparison | None = None, source: str = ""
) -> str:
    labels = comparison.labels if comparison else ()
    plot = pio.to_html(
        score_figure(result, frame, labels),
        include_plotlyjs=False,  # inlined once in the head, before any figure needs it
        full_html=False,
        div_id="score-plot",
        config={"displaylogo": False},
    )
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(source)}</p>" if source else ""]
    if comparison is not None:
        parts += [
            "<h2>Variants</h2>",
            pio.to_html(pareto_figure(comparison), include_plotlyjs=False, full_html=False, div_id="pareto-plot"),
            comparison_table(comparison),
            f"<h2>Replay of {html.escape(comparison.drawn)}</h2>",
        ]
    parts += [plot, "<h2>Decisions</h2>", decisions_table(result)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>\n"
        # Inlined: the page needs no network.
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>\n'
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


def write(path: Path, page: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
