"""The report's figures as PNG bytes, drawn with matplotlib's Agg canvas (no display, no global state)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from taskgroup.report.affinity import gain_matrix
from taskgroup.report.selections import SPLIT_WORDS, SelectObject, curve_split, network_label

DPI = 90
_BASELINE_STYLES = [{"linestyle": "--", "marker": marker, "alpha": 0.8, "markersize": size}
                    for marker, size in (("s", 7), ("^", 7), ("D", 5), ("v", 9), ("x", 7))]
_ESTIMATOR_STYLE = {"linestyle": "-", "marker": "o", "linewidth": 2}


def loss_vs_budget(curves: pd.DataFrame) -> bytes:
    """Total loss of the chosen set against budget, per estimator and baseline (Figure 4); on the
    test split where the study has one."""
    split = curve_split(curves)
    figure, axes = _figure(7.5, 4.5)
    baselines = 0
    for (series, kind), rows in curves.dropna(subset=[f"{split}_loss"]).groupby(["series", "kind"], sort=False):
        rows = rows.sort_values("budget")
        if kind == "estimator":
            style = _ESTIMATOR_STYLE
        else:  # distinct markers, so baselines that coincide (e.g. worst = all-in-one) stay visible
            style, baselines = _BASELINE_STYLES[baselines % len(_BASELINE_STYLES)], baselines + 1
        loss, spread = rows[f"{split}_loss"], rows[f"{split}_loss_std"]
        line = axes.plot(rows["budget"], loss, label=series, **style)[0]
        if np.isfinite(spread.to_numpy(dtype=float)).any():
            axes.fill_between(rows["budget"], loss - spread, loss + spread, color=line.get_color(), alpha=0.15)
    axes.set_xlabel("inference budget")
    axes.set_ylabel(f"total {SPLIT_WORDS[split]} loss (lower is better)")
    axes.set_title("Total loss against budget")
    axes.grid(alpha=0.3)
    if axes.get_lines():
        axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        axes.text(0.5, 0.5, "no selections", ha="center", transform=axes.transAxes)
    return _png(figure)


def groupings(selections: Sequence[SelectObject], tasks: Sequence[str], estimator: str) -> bytes:
    """The chosen networks at each budget as a task-to-network graph; solid edges mark the serving network."""
    chosen = sorted((s for s in selections if s["estimator"] == estimator), key=lambda s: float(s["budget"]))
    columns = min(3, max(1, len(chosen)))
    rows = max(1, math.ceil(len(chosen) / columns))
    figure = Figure(figsize=(3.6 * columns, 0.45 * max(len(tasks), 4) * rows + 0.6), dpi=DPI)
    FigureCanvasAgg(figure)
    for position, selection in enumerate(chosen, start=1):
        axes = figure.add_subplot(rows, columns, position)
        _draw_grouping(axes, selection, tasks)
    if not chosen:
        figure.add_subplot(1, 1, 1).text(0.5, 0.5, "no selections", ha="center")
    figure.suptitle(f"Chosen networks per budget ({estimator})")
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.4 / figure.get_figheight()))  # the title's 0.4 inch kept clear of the panels
    return _png(figure)


def _draw_grouping(axes, selection: SelectObject, tasks: Sequence[str]) -> None:
    graph = nx.Graph()
    networks = [network_label(n) for n in selection["networks"]]
    graph.add_nodes_from(tasks, side="task")
    graph.add_nodes_from(networks, side="network")
    serving = {(task, networks[index]) for task, index in selection["assignment"].items()}
    for label, network in zip(networks, selection["networks"], strict=True):
        for task in network["tasks"]:
            graph.add_edge(task, label, serving=(task, label) in serving)
    position = {task: (0.0, -i / max(len(tasks) - 1, 1)) for i, task in enumerate(tasks)}
    position.update({label: (1.0, -i / max(len(networks) - 1, 1) if len(networks) > 1 else -0.5) for i, label in enumerate(networks)})
    solid = [edge for edge in graph.edges if graph.edges[edge]["serving"]]
    dotted = [edge for edge in graph.edges if not graph.edges[edge]["serving"]]
    nx.draw_networkx_edges(graph, position, edgelist=solid, ax=axes, width=2.0, edge_color="#1f4e79")
    nx.draw_networkx_edges(graph, position, edgelist=dotted, ax=axes, width=1.0, edge_color="#aaaaaa", style="dotted")
    nx.draw_networkx_nodes(graph, position, nodelist=list(tasks), ax=axes, node_color="#f4b183", node_size=180)
    nx.draw_networkx_nodes(graph, position, nodelist=networks, ax=axes, node_color="#9dc3e6", node_shape="s", node_size=180)
    for task in tasks:
        axes.text(position[task][0] - 0.08, position[task][1], task, ha="right", va="center", fontsize=8)
    for label in networks:
        axes.text(position[label][0] + 0.08, position[label][1], label, ha="left", va="center", fontsize=7)
    axes.set_xlim(-0.9, 2.3)
    axes.set_ylim(-1.15, 0.15)
    axes.set_title(f"budget {float(selection['budget']):g}: cost {float(selection['cost']):g}", fontsize=9)
    axes.axis("off")


def affinity_heatmap(gains: pd.DataFrame, tasks: Sequence[str]) -> bytes:
    """Gain of each task (row) when trained with a partner (column), per size, in percent; `gains`
    has rows (the report leaves the figure out where there are none)."""
    sizes = list(dict.fromkeys(gains["size"]))
    figure = Figure(figsize=(4.6 * len(sizes), 4.2), dpi=DPI)
    FigureCanvasAgg(figure)
    for position, size in enumerate(sizes, start=1):
        axes = figure.add_subplot(1, len(sizes), position)
        matrix = gain_matrix(gains, size, tasks).to_numpy(dtype=float) * 100
        limit = np.nanmax(np.abs(matrix)) if np.isfinite(matrix).any() else 1.0
        image = axes.imshow(matrix, cmap="RdBu", vmin=-limit, vmax=limit)
        axes.set_xticks(range(len(tasks)), labels=tasks, rotation=45, ha="right", fontsize=8)
        axes.set_yticks(range(len(tasks)), labels=tasks, fontsize=8)
        for (i, j), value in np.ndenumerate(matrix):
            if np.isfinite(value):
                colour = "white" if abs(value) > 0.6 * limit else "black"
                axes.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7, color=colour)
        axes.set_xlabel("trained with")
        axes.set_ylabel("task measured")
        axes.set_title(f"gain over alone, % ({size})", fontsize=9)
        figure.colorbar(image, ax=axes, shrink=0.8)
    figure.tight_layout()
    return _png(figure)


def distance_by_budget(distances: pd.DataFrame) -> bytes:
    """Each estimator's test loss above the exact optimum at each budget."""
    figure, axes = _figure(7.5, 3.8)
    for estimator, rows in distances.groupby("estimator", sort=False):
        rows = rows.sort_values("budget")
        axes.plot(rows["budget"], rows["distance"], label=estimator, **_ESTIMATOR_STYLE)
    axes.axhline(0.0, color="black", linewidth=0.8)
    axes.set_xlabel("inference budget")
    axes.set_ylabel("test loss above exact")
    axes.set_title("Distance from the exact optimum")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(figure)


def compute_against_distance(summary: pd.DataFrame, measure: str) -> bytes:
    """Compute spent (`measure`: candidate_epochs or device_hours) against mean distance from the optimum."""
    figure, axes = _figure(6.0, 4.0)
    for row in summary.dropna(subset=["mean_distance"]).to_dict("records"):
        axes.scatter(row[measure], row["mean_distance"], s=60)
        axes.annotate(row["estimator"], (row[measure], row["mean_distance"]), textcoords="offset points", xytext=(6, 4), fontsize=9)
    axes.set_xlabel(measure.replace("_", "-"))
    axes.set_ylabel("mean test loss above exact")
    axes.set_title("Compute spent against distance from the optimum")
    axes.grid(alpha=0.3)
    return _png(figure)


def _figure(width: float, height: float):
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot(1, 1, 1)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()
