"""Bar charts in the style of the paper's figures: per world, x = split, one bar per mode, CI error bars, chance.

Figures are drawn on a `Figure` with the Agg canvas directly (no pyplot): no global state, no display needed.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from icft.learn.modes import is_scaling_point, mode_label
from icft.report.grid.results import Scores
from icft.report.page import png_bytes

# One colour per mode in every figure: grey for the untouched model, blue for ICL, oranges for plain FT,
# greens for augmented FT (the paper also groups conditions by colour family).
MODE_COLORS = {
    "pretrained": "#9e9e9e",
    "icl": "#1f6fb4",
    "ft": "#e6550d",
    "ft-split": "#fdae6b",
    "ft-local": "#a1d99b",
    "ft-global": "#41ab5d",
    "ft-local-global": "#006d2c",
    "ft-oracle-local": "#bcbddc",  # purples: the oracle's controls
    "ft-oracle-global": "#6a51a3",
}
OTHER_COLOR = "#756bb1"
GROUP_WIDTH = 0.8  # of the distance between two splits
MAX_WIDTH_IN = 9.0  # the page is ~1000 px wide: a wider figure would shrink its labels


def accuracy_figure(scores: Scores, world: str, title: str) -> bytes:
    """The PNG of `world`'s accuracies: grouped bars with 95% CI error bars, a dashed line at chance and a dotted
    one at the best shortcut baseline of each generalization split (see `icft.worlds.audit`). The scaling
    curve's budgets have their own figure (`icft.report.augmentation.panel`), not bars here."""
    splits, modes = scores.splits(world), bar_modes(scores, world)
    inches = min(MAX_WIDTH_IN, max(5.5, 1.6 + 0.45 * len(splits) * len(modes)))  # wider is scaled down in the page
    figure = Figure(figsize=(inches, 4.2), dpi=120, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = GROUP_WIDTH / len(modes)
    for j, mode in enumerate(modes):
        present = [(i, scores.get(world, mode, split)) for i, split in enumerate(splits)]
        present = [(i, e) for i, e in present if e is not None]
        xs = [i - GROUP_WIDTH / 2 + (j + 0.5) * width for i, _ in present]
        means = [e.mean for _, e in present]
        errors = [[e.mean - e.low for _, e in present], [e.high - e.mean for _, e in present]]  # (2, bars)
        axes.bar(xs, means, width * 0.92, yerr=errors, capsize=3, label=mode_label(mode),
                 color=MODE_COLORS.get(mode, OTHER_COLOR), edgecolor="white", linewidth=0.5,
                 error_kw={"elinewidth": 1, "ecolor": "#333333"})
    drawn = False
    for i, split in enumerate(splits):
        axes.hlines(scores.chance[(world, split)], i - GROUP_WIDTH / 2 - 0.04, i + GROUP_WIDTH / 2 + 0.04,
                    colors="black", linestyles="--", linewidth=1.2, label="chance" if i == 0 else None)
        if (world, split) in scores.baselines:  # the best heuristic that needs no reasoning, fit on train text
            axes.hlines(scores.baselines[(world, split)][1], i - GROUP_WIDTH / 2 - 0.04, i + GROUP_WIDTH / 2 + 0.04,
                        colors="#c51b8a", linestyles=":", linewidth=1.6,
                        label=None if drawn else "best shortcut baseline")
            drawn = True
    axes.set_xticks(range(len(splits)), splits, fontsize=11)  # the names the tables use
    axes.set_ylim(0, 1.02)
    axes.set_ylabel("accuracy (95% CI)", fontsize=11)
    axes.set_title(title, fontsize=12)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=min(4, len(modes) + 1), frameon=False,
                fontsize=10)
    return png_bytes(figure)


def bar_modes(scores: Scores, world: str) -> list[str]:
    """The modes drawn as bars: every mode with results, but the scaling curve's budgets (they have a figure)."""
    return [mode for mode in scores.modes(world) if not is_scaling_point(mode)]


