"""`hpo-operator trials --plot FILE.png|FILE.html`: a picture of the search, drawn by matplotlib.

Top panel: the objective of each completed trial in completion order, with the running best as a
step line and the best trial starred. Below it, one panel per tuned hyperparameter (value against
objective): a log axis for Logarithmic ranges (and a -log(1-x) axis for ReverseLogarithmic, as
SageMaker searches them), a category axis in the range's own order for categorical ones, the best
trial starred again. HTML is the same figure as SVG inside one self-contained page (no script, no
second plotting library). matplotlib is the optional extra `sagemaker-hpo-operator[plot]`: never
in the operator's image.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo_operator.cli.trialrows import (
    MAXIMIZE,
    JobInfo,
    Trial,
    best_trial,
    format_number,
    hyperparameter_names,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

EXTRA = "sagemaker-hpo-operator[plot]"
MISSING = (
    f"hpo-operator trials --plot needs matplotlib, which the operator does not install: "
    f"pip install '{EXTRA}'"
)
SUFFIXES = (".png", ".html")
COLUMNS = 3  # hyperparameter panels per row
BEST_COLOR = "#d62728"


class PlotUnavailable(Exception):
    """matplotlib is not installed (the message names the extra to install)."""


def check_available() -> None:
    """Raise PlotUnavailable before any AWS call when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable(MISSING) from None


def scored_in_completion_order(trials: Sequence[Trial]) -> list[Trial]:
    """The trials with an objective, by end time (then name): the order the search saw them."""
    scored = [t for t in trials if t.objective is not None]
    return sorted(scored, key=lambda t: (t.ended if t.ended is not None else math.inf, t.name))


def running_best(values: Sequence[float], objective_type: str | None) -> list[float]:
    """The best objective so far after each value."""
    pick = max if objective_type == MAXIMIZE else min
    out: list[float] = []
    for value in values:
        out.append(value if not out else pick(out[-1], value))
    return out


def build_figure(info: JobInfo, trials: Sequence[Trial]) -> Figure:
    """The figure (not yet saved), so that tests can read its axes and labels."""
    from matplotlib.figure import Figure

    scored = scored_in_completion_order(trials)
    best = best_trial(scored, info.objective_type)
    names = hyperparameter_names(scored)
    rows = math.ceil(len(names) / COLUMNS)
    fig = Figure(figsize=(10, 3.4 + 2.8 * rows), dpi=100, layout="constrained")
    grid = fig.add_gridspec(1 + rows, COLUMNS, height_ratios=[1.25] + [1] * rows)
    metric = info.metric or "objective"
    direction = "lower is better" if info.objective_type != MAXIMIZE else "higher is better"
    top = fig.add_subplot(grid[0, :])
    _objective_panel(top, info, scored, best, f"{metric} ({direction})")
    for index, name in enumerate(names):
        ax = fig.add_subplot(grid[1 + index // COLUMNS, index % COLUMNS])
        _hyperparameter_panel(ax, info, name, scored, best, metric)
    status = f", {info.status}" if info.status else ""
    fig.suptitle(f"{info.name}: {len(scored)} trials with an objective{status}")
    return fig


def _objective_panel(
    ax: Axes, info: JobInfo, scored: Sequence[Trial], best: Trial | None, label: str
) -> None:
    xs = list(range(1, len(scored) + 1))
    values = [float(t.objective or 0.0) for t in scored]
    ax.scatter(xs, values, s=14, color="#1f77b4", alpha=0.7, label="trial")
    if values:
        ax.step(
            xs,
            running_best(values, info.objective_type),
            where="post",
            color="#ff7f0e",
            linewidth=2,
            label="best so far",
        )
    if best is not None:
        at = scored.index(best) + 1
        ax.scatter(
            [at],
            [values[at - 1]],
            marker="*",
            s=220,
            color=BEST_COLOR,
            zorder=3,
            label=f"best: {best.name} = {format_number(best.objective)}",
        )
    ax.set_xlabel("trial, in completion order (count)")
    ax.set_ylabel(label)
    ax.grid(True, alpha=0.3)
    if values:
        ax.legend(loc="best", fontsize="small")
    else:
        ax.text(
            0.5,
            0.5,
            "no trial has an objective yet",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )


def _hyperparameter_panel(
    ax: Axes, info: JobInfo, name: str, scored: Sequence[Trial], best: Trial | None, metric: str
) -> None:
    kind, scaling = info.ranges.get(name, ("", ""))
    having = [t for t in scored if name in t.hyperparameters]
    raw = [t.hyperparameters[name] for t in having]
    numbers = _numbers(raw) if kind != "Categorical" else None
    ys = [float(t.objective or 0.0) for t in having]
    if numbers is None:  # a category axis, in the range's order, then any other value seen
        order = list(info.categories.get(name, ()))
        order += sorted({v for v in raw if v not in order})
        xs: list[float] = [float(order.index(v)) for v in raw]
        ax.set_xticks(range(len(order)), order, rotation=30 if len(order) > 4 else 0)
        ax.set_xlim(-0.5, len(order) - 0.5)
        axis = f"{name} (category)"
    else:
        xs = numbers
        axis = _scale(ax, name, scaling, numbers)
    ax.scatter(xs, ys, s=12, color="#1f77b4", alpha=0.7)
    if best is not None and best in having:
        at = having.index(best)
        ax.scatter([xs[at]], [ys[at]], marker="*", s=180, color=BEST_COLOR, zorder=3)
    ax.set_xlabel(axis)
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)


def _numbers(values: Sequence[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def _scale(ax: Axes, name: str, scaling: str, numbers: Sequence[float]) -> str:
    """Set the axis the range was searched on; the label says which."""
    if scaling == "Logarithmic" and all(v > 0 for v in numbers):
        ax.set_xscale("log")
        return f"{name} (log scale)"
    if scaling == "ReverseLogarithmic" and all(0 <= v < 1 for v in numbers):
        import numpy as np

        ax.set_xscale(
            "function",
            functions=(lambda x: -np.log1p(-np.asarray(x)), lambda y: -np.expm1(-np.asarray(y))),
        )
        return f"{name} (reverse-log scale)"
    return name


def save(fig: Figure, path: Path, title: str) -> None:
    """PNG, or the figure as SVG in a standalone HTML page, by the file's suffix."""
    if path.suffix.lower() == ".png":
        fig.savefig(path, format="png")
        return
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # the XML prolog and doctype have no place inside HTML
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n{svg}\n</body>\n</html>\n"
    )
    path.write_text(page, encoding="utf-8")


def plot(info: JobInfo, trials: Sequence[Trial], path: Path) -> Any:
    """Draw and save the picture; the figure is returned for whoever wants to look at it."""
    fig = build_figure(info, trials)
    save(fig, path, f"Trials of {info.name}")
    return fig
