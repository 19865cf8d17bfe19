"""The report's two figures (matplotlib, Agg backend, PNG): accuracy with CI bars, explain-answer deltas."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402

MODE_HATCH = {"answer": "", "explain": "//"}


def _save(figure, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp.png")
    os.close(fd)
    try:
        figure.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(figure)
        Path(tmp).unlink(missing_ok=True)


def _error_bars(points: list[float], lows: list[float], highs: list[float]) -> list[list[float]]:
    return [[max(0.0, p - lo) for p, lo in zip(points, lows)], [max(0.0, hi - p) for p, hi in zip(points, highs)]]


def accuracy_plot(cells: list[dict], benchmarks: list[str], labels: list[str], path: Path) -> Path:
    """Grouped bars: one group per benchmark, one bar per (run, mode), 95 % CI error bars.

    Args:
        cells: ``{"label", "benchmark", "mode", "accuracy", "ci_low", "ci_high"}`` dicts (fractions).
        benchmarks: x-axis order.
        labels: run order (colours).
        path: PNG destination.
    """
    series = [(label, mode) for label in labels for mode in ("answer", "explain")
              if any(c["label"] == label and c["mode"] == mode for c in cells)]
    width = 0.8 / max(1, len(series))
    figure, axes = plt.subplots(figsize=(max(6.0, 1.6 * len(benchmarks) * max(1, len(series)) / 2), 4.2))
    colours = plt.get_cmap("tab10")
    for k, (label, mode) in enumerate(series):
        xs, ys, lows, highs = [], [], [], []
        for b, benchmark in enumerate(benchmarks):
            cell = next((c for c in cells if (c["label"], c["mode"], c["benchmark"]) == (label, mode, benchmark)), None)
            if cell is not None:
                xs.append(b - 0.4 + width * (k + 0.5))
                ys.append(100 * cell["accuracy"])
                lows.append(100 * cell["ci_low"])
                highs.append(100 * cell["ci_high"])
        axes.bar(xs, ys, width * 0.95, yerr=_error_bars(ys, lows, highs), capsize=3, label=f"{label} / {mode}",
                 color=colours(labels.index(label) % 10), hatch=MODE_HATCH[mode], edgecolor="black", linewidth=0.5)
    axes.set_xticks(range(len(benchmarks)), benchmarks)
    axes.set_ylabel("accuracy (%), 95% Wilson CI")
    axes.set_ylim(0, 100)
    axes.set_title("Accuracy by benchmark and prompt mode")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _save(figure, path)
    return path


def delta_plot(cells: list[dict], benchmarks: list[str], labels: list[str], path: Path) -> Path:
    """Explain minus answer accuracy per (run, benchmark), paired-bootstrap 95 % CI, zero line.

    Args:
        cells: ``{"label", "benchmark", "delta", "ci_low", "ci_high"}`` dicts (fractions).
        benchmarks: x-axis order.
        labels: run order (colours).
        path: PNG destination.
    """
    width = 0.8 / max(1, len(labels))
    figure, axes = plt.subplots(figsize=(max(6.0, 1.4 * len(benchmarks) * max(1, len(labels)) / 2), 3.8))
    colours = plt.get_cmap("tab10")
    for k, label in enumerate(labels):
        xs, ys, lows, highs = [], [], [], []
        for b, benchmark in enumerate(benchmarks):
            cell = next((c for c in cells if (c["label"], c["benchmark"]) == (label, benchmark)), None)
            if cell is not None:
                xs.append(b - 0.4 + width * (k + 0.5))
                ys.append(100 * cell["delta"])
                lows.append(100 * cell["ci_low"])
                highs.append(100 * cell["ci_high"])
        axes.errorbar(xs, ys, yerr=_error_bars(ys, lows, highs), fmt="o", capsize=4, color=colours(k % 10), label=label)
    axes.axhline(0.0, color="grey", linewidth=0.8)
    axes.set_xticks(range(len(benchmarks)), benchmarks)
    axes.set_xlim(-0.6, len(benchmarks) - 0.4)
    axes.set_ylabel("explain - answer (points)")
    axes.set_title("Stability: accuracy change when an explanation is required")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _save(figure, path)
    return path


def findings_plot(results: list[dict], path: Path) -> Path:
    """Each finding's effect per seed (dots) and pooled (diamond), 95 % CIs, zero line (points).

    Args:
        results: :func:`medreasoner.eval.findings.evaluate_contrast` outputs.
        path: PNG destination.
    """
    figure, axes = plt.subplots(figsize=(7.5, 0.7 + 0.55 * len(results) * 2))
    y = 0.0
    ticks, names = [], []
    for result in results:
        for k, seed in enumerate(result["per_seed"]):
            effect = 100 * seed["effect"]
            axes.errorbar([effect], [y + 0.15 * k], xerr=_error_bars([effect], [100 * seed["ci_low"]], [100 * seed["ci_high"]]),
                          fmt="o", color="tab:blue", capsize=3, markersize=4)
        pooled = result["pooled"]
        effect = 100 * pooled["effect"]
        axes.errorbar([effect], [y - 0.35], xerr=_error_bars([effect], [100 * pooled["ci_low"]], [100 * pooled["ci_high"]]),
                      fmt="D", color="black", capsize=4)
        ticks.append(y)
        names.append(result["name"])
        y -= 1.2
    axes.axvline(0.0, color="grey", linewidth=0.8)
    axes.set_yticks(ticks, names, fontsize=8)
    axes.set_xlabel("effect (points): per seed (blue) and pooled (black), 95 % CI")
    axes.set_title("Findings")
    _save(figure, path)
    return path
