"""The transfer report: matrices, FTICL − FT deltas, weight changes, heatmaps and findings, as HTML and Markdown.

Sections: what the study is, how to read it, notes (incomplete or missing runs), then per model and train
size one matrix per variant (rows = the unmodified model, then each training task; columns = test tasks),
the label-answer rates of classification-trained rows, the FTICL − FT deltas and the weight changes, and
last the findings per model. The page style and the findings list are those of the page kit, `icft.report.page`.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from icft.evaluate.plan import GREATER
from icft.evaluate.stats import ALPHA
from icft.report.cases import compare
from icft.report.page import (MISSING, Part, Table, answer_list, document, file_part, findings_list, format_estimate,
                              heading, notes, paragraph, png_bytes, title_and_facts, to_html, to_markdown)
from icft.report.verdicts import MARGIN, Finding, findings_summary
from icft.report.transfer.results import (
    RELATION_TAGS, UNMODIFIED, Cell, TransferResults, TransferScores, variant_label,
)

LEGEND = ("ID = in-domain (the training task itself), CD = cross-domain (same task, other domain), "
          f"CT = cross-task (another task); {MISSING} = no finished run. Each cell: mean [95% CI].")
DELTA_LEGEND = ("FTICL − FT: difference of the two means; * marks cells whose paired difference (the same "
                f"examples, per seed) has a 95% interval that excludes 0; {MISSING} = either is missing.")
WEIGHT_LEGEND = "Mean absolute change of all weights (fine-tuned − unmodified), mean over seeds."
_EXTRA_CSS = """
.scroll { overflow-x: auto; }
table.matrix { font-size: 0.85em; }
table.matrix td, table.matrix th { white-space: nowrap; padding: 4px 7px; }
"""


@dataclass(frozen=True)
class Heatmap:
    """A rendered matrix: `file_name` is its PNG beside the report (the Markdown links it, the HTML embeds it)."""

    model: str
    size: int
    variant: str
    file_name: str
    png: bytes


# ---- tables -------------------------------------------------------------------------------------------------


def matrix_table(s: TransferScores, variant: str) -> Table:
    """Rows: the unmodified model, then each training task; columns: test tasks with their metric."""
    rows = [(UNMODIFIED, *[_cell(s.base(test)) for test in s.tasks])]
    rows += [(_train_label(s, variant, train), *[_cell(s.get(variant, train, test)) for test in s.tasks])
             for train in s.train_tasks]
    return Table(header=("trained on", *[f"{test} ({info.metric})" for test, info in s.tasks.items()]),
                 rows=tuple(rows))


def _train_label(s: TransferScores, variant: str, train: str) -> str:
    """The row's training task, marked when its fit failed the learned check (its cells compare nothing)."""
    fit = s.weights.get((variant, train))
    if fit is not None and fit.learned is False:
        return f"{train} (NOT learned: train score {fit.train_score:.2f})"
    return train


def label_rate_table(s: TransferScores, variant: str) -> Table | None:
    """Share of answers that are a training label: classification-trained rows on generation test tasks."""
    tests = [t for t in s.tasks if s.kind(t) == "generation"]
    rows = []
    for train in s.train_tasks:
        cells = [s.get(variant, train, test) for test in tests]
        if s.kind(train) == "classification" and any(c is not None and c.label_rate is not None for c in cells):
            rows.append((train, *[MISSING if c is None or c.label_rate is None else f"{c.label_rate:.0%}"
                                  for c in cells]))
    return Table(header=("trained on", *tests), rows=tuple(rows)) if rows else None


def delta_table(s: TransferScores) -> Table:
    """FTICL − FT per cell: the difference of the means, * where the paired 95% interval excludes 0."""
    rows = []
    for train in s.train_tasks:
        cells = []
        for test in s.tasks:
            ft, fticl = s.get("ft", train, test), s.get("fticl", train, test)
            if ft is None or fticl is None:
                cells.append(MISSING)
                continue
            paired = compare(0, GREATER, train, test, "fticl", "ft", fticl.examples, ft.examples)
            apart = "*" if paired.diff is not None and (paired.ci_low > 0 or paired.ci_high < 0) else ""
            cells.append(f"{fticl.estimate.mean - ft.estimate.mean:+.2f}{apart} {_tag(ft)}".rstrip())
        rows.append((train, *cells))
    return Table(header=("trained on", *s.tasks), rows=tuple(rows))


def weight_table(s: TransferScores) -> Table | None:
    """Mean absolute weight change (and final loss) per training task and variant, means over seeds."""
    variants = [v for v in s.variants if any(key[0] == v for key in s.weights)]
    if not variants:
        return None
    ratio = "ft" in variants and "fticl" in variants
    header = ("trained on", *[f"mean |Δw| {variant_label(v)}" for v in variants], *(["FTICL / FT"] if ratio else []),
              *[f"final loss {variant_label(v)}" for v in variants], "seeds")
    rows = []
    for train in s.train_tasks:
        changes = [s.weights.get((v, train)) for v in variants]
        if all(c is None for c in changes):
            continue
        cells = [MISSING if c is None else f"{c.mean_abs:.3g}" for c in changes]
        if ratio:
            ft, fticl = s.weights.get(("ft", train)), s.weights.get(("fticl", train))
            cells.append(MISSING if ft is None or fticl is None or not ft.mean_abs
                         else f"{fticl.mean_abs / ft.mean_abs:.2f}")
        cells += [MISSING if c is None or c.final_loss is None else f"{c.final_loss:.3f}" for c in changes]
        seeds = sorted({seed for c in changes if c is not None for seed in c.seeds})
        rows.append((train, *cells, ", ".join(str(seed) for seed in seeds)))
    return Table(header=header, rows=tuple(rows))


def _cell(cell: Cell | None) -> str:
    return MISSING if cell is None else f"{format_estimate(cell.estimate)} {_tag(cell)}".rstrip()


def _tag(cell: Cell) -> str:
    return RELATION_TAGS.get(cell.relation, "") if cell.relation else ""


# ---- figures ------------------------------------------------------------------------------------------------


def heatmaps(results: TransferResults) -> list[Heatmap]:
    """One heatmap per (model, size, variant); file names carry the model only when the study has several."""
    several = len(results.config.models) > 1
    figures = []
    for (model, size), s in results.scores.items():
        for variant in s.variants:
            stem = "-".join([*([file_part(model)] if several else []), f"n{size}", variant])
            title = f"{variant_label(variant)}, {size} training examples ({model})"
            figures.append(Heatmap(model, size, variant, f"transfer-{stem}.png", _heatmap(s, variant, title)))
    return figures


def _heatmap(s: TransferScores, variant: str, title: str) -> bytes:
    table_rows = [(UNMODIFIED, [s.base(t) for t in s.tasks])]
    table_rows += [(train, [s.get(variant, train, t) for t in s.tasks]) for train in s.train_tasks]
    values = np.array([[np.nan if c is None else c.estimate.mean for c in cells] for _, cells in table_rows])
    n_rows, n_cols = values.shape  # (1 + training tasks, test tasks)
    figure = Figure(figsize=(min(9.0, 2.4 + 0.8 * n_cols), 1.8 + 0.42 * n_rows), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colours = colormaps["viridis"].with_extremes(bad="#e0e0e0")  # missing cells grey, not a low score
    image = axes.imshow(np.ma.masked_invalid(values), cmap=colours, vmin=0.0, vmax=1.0, aspect="auto")
    for i, (_, cells) in enumerate(table_rows):
        for j, cell in enumerate(cells):
            text = MISSING if cell is None else f"{cell.estimate.mean:.2f}\n{_tag(cell)}".rstrip()
            dark = cell is not None and cell.estimate.mean < 0.6
            axes.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black")
    axes.set_xticks(range(n_cols), list(s.tasks), rotation=40, ha="right", fontsize=8)
    axes.set_yticks(range(n_rows), [name for name, _ in table_rows], fontsize=8)
    axes.set_xlabel("tested on", fontsize=9)
    axes.set_ylabel("trained on", fontsize=9)
    axes.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axes, shrink=0.8, label="accuracy / ROUGE-L")
    return png_bytes(figure)


# ---- the page -----------------------------------------------------------------------------------------------


def render_transfer_page(results: TransferResults, figures: list[Heatmap],
                         findings: dict[str, list[Finding]]) -> tuple[str, str]:
    """(HTML page, Markdown summary)."""
    several = len(results.config.models) > 1
    parts = [_overview(results)]
    if findings:
        parts.append(heading(2, "The answer"))
        parts += [answer_list([best_variants(results, model), *findings_summary(found, variant_label)], model if several else None)
                  for model, found in findings.items()]
    parts += [_guide(), notes(results)]
    if not results.scores:
        parts += [heading(2, "Results"), paragraph("No finished runs yet: tables and findings need at least one.")]
    for (model, size), s in results.scores.items():
        parts.append(heading(2, f"Results: {model}, {size} training examples" if several
                              else f"Results: {size} training examples ({model})"))
        for variant in s.variants:
            figure = next((f for f in figures if (f.model, f.size, f.variant) == (model, size, variant)), None)
            parts += _variant_parts(s, variant, figure)
        if "ft" in s.variants and "fticl" in s.variants:
            parts += [heading(3, "FTICL − FT"), _table(delta_table(s), DELTA_LEGEND)]
        table = weight_table(s)
        if table is not None:
            parts += [heading(3, "Weight change"),
                      _table(table, WEIGHT_LEGEND)]
    for model, found in findings.items():
        parts += [heading(2, f"Findings: {model}" if several else f"Findings ({model})"), findings_list(found)]
    return document(f"icft report: {results.name}", parts, _EXTRA_CSS)


def best_variants(results: TransferResults, model: str) -> str:
    """Per relation (in-domain, cross-domain, cross-task): the variant with the highest mean score."""
    means: dict[str, dict[str, list[float]]] = {}
    for (m, _), s in results.scores.items():
        for (variant, _, _), cell in s.cells.items():
            if m == model and cell.relation is not None:
                means.setdefault(cell.relation, {}).setdefault(variant, []).append(cell.estimate.mean)
    parts = []
    for relation, by_variant in means.items():
        best, values = max(by_variant.items(), key=lambda kv: sum(kv[1]) / len(kv[1]))
        parts.append(f"{relation}: {variant_label(best)} {sum(values) / len(values):.2f}")
    return "Best variant per relation (mean score over its cells): " + ("; ".join(parts) or "none") + "."


def _variant_parts(s: TransferScores, variant: str, figure: Heatmap | None) -> list[Part]:
    parts = [heading(3, variant_label(variant)), _table(matrix_table(s, variant), LEGEND)]
    if figure is not None:
        alt = f"Heatmap of the {variant_label(variant)} matrix: mean score per training and test task"
        encoded = base64.b64encode(figure.png).decode("ascii")
        parts.append(Part(f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(alt)}" '
                          f'data-file="{html.escape(figure.file_name)}">\n', f"![{alt}]({figure.file_name})\n"))
    rates = label_rate_table(s, variant)
    if rates is not None:
        parts += [heading(4, f"Answers with labels ({variant_label(variant)})"),
                  _table(rates, "Share of the answers on generation tasks that are exactly one of the training "
                                "task's labels (after strip and lower case).")]
    return parts


def _overview(results: TransferResults) -> Part:
    config, spec = results.config, results.config.transfer
    facts = [
        ("study folder", str(results.folder)),
        ("kind", config.kind),
        ("models", ", ".join(config.models)),
        ("tasks (from the stored runs)",
         ", ".join(f"{key} ({info.kind})" for key, info in results.tasks.items()) or "none yet"),
        ("training tasks", ", ".join(spec.train) if spec.train else "every task"),
        ("variants", ", ".join(variant_label(v) for v in spec.variants)),
        ("train sizes", ", ".join(str(n) for n in spec.train_sizes)),
        ("seeds", ", ".join(str(s) for s in config.seeds)),
        ("FTICL demonstrations per training prompt", str(spec.demonstrations)),
        ("test prompts", f"{spec.eval_shots}-shot, first {spec.test_examples} test examples per task"),
        ("code versions of the runs", ", ".join(results.code_versions) or "none yet"),
        ("precision of the runs", ", ".join(results.precisions) or "none yet"),
        ("precision of the fits' matrix products", ", ".join(results.finetune_precisions) or "none yet"),
    ]
    return title_and_facts(f"icft report: {results.name}", facts)


def _guide() -> Part:
    text = (
        "Built only from the study's stored results (results.db); no model is loaded. A transfer study fine-tunes "
        "the model on one task (FT; FTICL puts in-context demonstrations in every training prompt) and scores it "
        "on every test task. A cell is the mean score with a 95% CI: accuracy for classification tasks (Wilson for "
        "one seed; with several seeds also a bootstrap over seeds and examples), ROUGE-L F1 for generation tasks "
        "(the bootstrap). The unmodified row is the model before fine-tuning. Only finished runs count. Findings "
        "compare two rows on the same test examples (joined on example id within each seed): the paired "
        f"difference, its 95% CI and a two-sided p (mid-p McNemar for accuracy, a paired t-test for ROUGE-L; with "
        f"several seeds also a paired bootstrap). \"A > B\" reproduces when p < {ALPHA} (Holm-adjusted where some "
        "cell suffices) and the CI lies above 0; \"FTICL keeps FT\" needs the paired lower bound above "
        f"−{MARGIN:.2f}; \"no gain\" needs the paired upper bound below +{MARGIN:.2f} in every cell; otherwise "
        "\"not shown at this size\", with the minimum detectable effect; \"not tested\" means the study lacks the "
        "cells a finding needs. Every finding and case is also in findings.json beside this page."
    )
    return Part(f'<p class="guide">{html.escape(text)}</p>\n', f"{text}\n")


def _table(table: Table, legend: str) -> Part:
    return Part(f'<div class="scroll">\n{to_html(table, css_class="results matrix")}</div>\n'
                f'<p class="legend">{html.escape(legend)}</p>\n', f"{to_markdown(table)}\n{legend}\n")
