"""The README's plot: time per request against items, drawn with matplotlib."""

from __future__ import annotations

from pathlib import Path

from .apps import LABELS
from .inprocess import InProcessResult

_STYLE = {"a": ":", "b": "-", "c": "--", "d": "-."}


def draw(
    result: InProcessResult, path: Path, title: str, kinds: tuple[str, ...] = ("b", "c", "d")
) -> None:
    """Save a PNG of median µs per request (with the interquartile range) against items."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = sorted(result.samples)
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=110)
    for kind in kinds:
        medians = [result.median_us(items, kind) for items in counts]
        low, high = zip(*(result.quartiles_us(items, kind) for items in counts), strict=True)
        axes.errorbar(
            counts,
            medians,
            yerr=[
                [m - q for m, q in zip(medians, low, strict=True)],
                [q - m for m, q in zip(medians, high, strict=True)],
            ],
            linestyle=_STYLE.get(kind, "-"),
            marker="o",
            capsize=3,
            label=LABELS[kind],
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(counts, [str(items) for items in counts])
    axes.set_xlabel("items per callback (ResponseFriendItem)")
    axes.set_ylabel("CPU µs per request (median, in process)")
    axes.set_title(title, fontsize=10)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
