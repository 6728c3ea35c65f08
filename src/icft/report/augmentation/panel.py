"""The report's augmentation section: the ledger's tables per world, and the scaling curve of oracle-local.

Per world: what each strategy generated and kept (and why the rest was dropped), how much of what it kept is
true, unparsed or new, and, per split, which test items its kept sentences answer, with accuracy on the covered
and the uncovered items (for the mode trained on them, and for plain FT on the same items). The oracle's rows
are controls: the world's reasoner wrote them, so they bound what the method could reach; they are never the
method's result. With `[augment] per_fact`, a figure plots accuracy per split against the oracle-local
augmentation sentences per fact, with ICL's level as a dashed line: how much augmentation FT needs to match
ICL.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from icft.evaluate.stats import Estimate
from icft.learn.modes import BUDGETED, budget_mode, mode_label, mode_spec
from icft.learn.augment import summary_path
from icft.report.augmentation.ledger import Ledger, augmentation_file, covered_accuracy, ledger_json, study_ledgers
from icft.report.grid.html import FigureImage
from icft.report.grid.results import Scores, StudyResults
from icft.report.page import MISSING, Part, Table, file_part, heading, paragraph, png_bytes, to_html, to_markdown
from icft.store import CellKey

CONTROL_NOTE = ("Rows and modes named oracle are controls: the world's own reasoner wrote those augmentations (true "
                "by construction), so they show what fine-tuning on right inferences reaches, an upper bound for "
                "augmented FT; they are never the method's result, and no finding counts them.")


@dataclass(frozen=True)
class Panel:
    """The section's parts (HTML and Markdown) and its figures (PNG files beside the report)."""

    parts: list[Part]
    figures: list[FigureImage]
    ledger: str | None  # the ledger item by item (JSON), when some cell trained on augmentations


def augmentation_panel(study: StudyResults) -> Panel:
    """The augmentation section of `study`'s report; empty when no cell trained on augmentations."""
    parts: list[Part] = []
    figures: list[FigureImage] = []
    by_model = {}
    several = len(study.models) > 1
    for model in study.models:
        scores = study.scores[model]
        ledgers = study_ledgers(study, model)
        if ledgers:
            by_model[model] = ledgers
        curves = {w: c for w in scores.worlds() if (c := curve(study, scores, model, w))}
        if not ledgers and not curves:
            continue
        parts += [heading(2, f"Augmentation ({model})"), paragraph(CONTROL_NOTE)]
        for world in dict.fromkeys([*ledgers, *curves]):
            parts.append(heading(3, world))
            if world in ledgers:
                parts += _ledger_tables(scores, world, ledgers[world])
            if world in curves:
                figure = _curve_figure(scores, model, world, curves[world], several)
                figures.append(figure)
                parts.append(_curve_part(scores, world, curves[world], figure))
    return Panel(parts, figures, ledger_json(study, by_model) if by_model else None)


# ---- the ledger's tables ------------------------------------------------------------------------------------


def augmentation_table(ledgers: list[Ledger]) -> Table:
    """Per strategy (summed over seeds): generated, kept, drops, and the kept judged true / false / unparsed / new."""
    rows = []
    for label in dict.fromkeys(ledger.label for ledger in ledgers):
        group = [ledger for ledger in ledgers if ledger.label == label]
        kept = sum(ledger.counts.get("kept", 0) for ledger in group)
        drops: dict[str, int] = {}
        for ledger in group:
            for reason, n in ledger.drops.items():
                drops[reason] = drops.get(reason, 0) + n
        judged = {v: sum(ledger.verdicts.get(v, 0) for ledger in group) for v in ("true", "false", "unparsed")}
        new = sum(ledger.new for ledger in group)
        rows.append((label, str(sum(ledger.counts.get("sentences", 0) for ledger in group)), str(kept),
                     ", ".join(f"{r} {n}" for r, n in sorted(drops.items(), key=lambda kv: -kv[1])) or "none",
                     *[_share(judged[v], kept) for v in ("true", "false", "unparsed")], _share(new, kept)))
    header = ("augmentations", "generated", "kept", "dropped", "true", "false", "unparsed", "new inferences")
    return Table(header=header, rows=tuple(rows))


def coverage_table(scores: Scores, world: str, ledgers: list[Ledger]) -> Table:
    """Per strategy and split: items covered (a kept sentence states the answer) and accuracy on covered and
    uncovered items, for the mode trained on the strategy and for plain FT."""
    rows = []
    for label in dict.fromkeys(ledger.label for ledger in ledgers):
        group = [ledger for ledger in ledgers if ledger.label == label]
        for split in scores.splits(world):
            items = [(ledger, i) for ledger in group for i, s in ledger.splits.items() if s == split]
            if not items:
                continue
            covered = [(ledger, i) for ledger, i in items if ledger.coverage[i] > 0]
            sentences = sum(ledger.coverage[i] for ledger, i in covered)
            accuracies = [_fraction(covered_accuracy(scores, world, mode, group, split, flag))
                          for mode in (group[0].mode, "ft") for flag in (True, False)]
            rows.append((label, split, f"{len(covered)}/{len(items)}",
                         f"{sentences / len(covered):.1f}" if covered else MISSING, *accuracies))
    header = ("augmentations", "split", "items covered", "sentences per covered item", "trained: covered",
              "trained: not covered", "FT: covered", "FT: not covered")
    return Table(header=header, rows=tuple(rows))


def versus_ft_table(scores: Scores, world: str) -> Table | None:
    """Each augmented mode (the model's own and the oracle's) and each distilled mode against plain FT on every
    generalization split, paired on the same items: a comparison with a fine-tuned cell that did not learn its facts
    is invalid."""
    from icft.evaluate.plan import GREATER, Planned
    from icft.report.grid.findings import measure
    from icft.report.verdicts import DOES_NOT_REPRODUCE, INVALID, REPRODUCES, decide

    # the documents plus augmentations, and the distilled modes beside them (the teacher's distribution in place of
    # the augmentations' text: `icft.learn.distill`)
    modes = [m for m in scores.modes(world) if m != "ft" and (mode_spec(m).train_on[:1] == ("documents",)
                                                             or mode_spec(m).distills)]
    controls = scores.control_splits(world)
    rows = []
    for mode in modes:
        for split in scores.splits(world):
            if split in controls or scores.cell(world, mode, split) is None or scores.cell(world, "ft", split) is None:
                continue
            case = decide(measure(scores, Planned(0, GREATER, world, split, mode, "ft")))
            if case.verdict == INVALID:  # one side did not learn: its accuracy is shown, never tested
                rows.append((mode_label(mode), split, f"{scores.get(world, mode, split).mean:.2f}",
                             f"{scores.get(world, 'ft', split).mean:.2f}", MISSING, MISSING, MISSING, case.note))
                continue
            verdict = {REPRODUCES: "higher", DOES_NOT_REPRODUCE: "lower"}.get(
                case.verdict, f"no difference shown (MDE {case.mde:.2f})")
            rows.append((mode_label(mode), split, _estimate(case.estimates[0]), _estimate(case.estimates[1]),
                         f"{case.diff:+.2f} [{case.ci_low:+.2f}, {case.ci_high:+.2f}]",
                         f"{case.discordant_b}/{case.discordant_c}", f"{case.p:.3f}", verdict))
    if not rows:
        return None
    header = ("mode", "split", "accuracy", "FT", "mode − FT [95% CI]", "discordant (mode/FT)", "p (paired)",
              "verdict")
    return Table(header=header, rows=tuple(rows))


def _estimate(e: Estimate) -> str:
    return f"{e.mean:.2f}"


def _ledger_tables(scores: Scores, world: str, ledgers: list[Ledger]) -> list[Part]:
    generated, coverage = augmentation_table(ledgers), coverage_table(scores, world, ledgers)
    trained = ", ".join(f"{label} → {mode_label(mode)}" for label, mode in
                        dict.fromkeys((ledger.label, ledger.mode) for ledger in ledgers))
    note = (f"Trained: the mode fine-tuned on documents + that strategy's augmentations ({trained}); FT: plain "
            "FT on the same items. Accuracy as correct/items, over the seeds.")
    parts = [Part(to_html(generated, text_columns=4), to_markdown(generated)),
             Part(to_html(coverage, text_columns=2) + f'<p class="legend">{html.escape(note)}</p>\n',
                  f"\n{to_markdown(coverage)}\n{note}\n")]
    versus = versus_ft_table(scores, world)
    if versus is not None:
        legend = ("Each augmented or distilled mode against plain FT on the same items (paired, as the findings are: mid-p "
                  "McNemar, with the cluster bootstrap when items share facts or seeds repeat; each comparison on "
                  "its own, not adjusted for the others); higher or lower when p < 0.05 and the "
                  "95% interval excludes 0, else the smallest difference these items could have shown (MDE, 80% "
                  "power). A mode whose learned check failed is not compared.")
        parts.append(Part(to_html(versus, text_columns=2) + f'<p class="legend">{html.escape(legend)}</p>\n',
                          f"\n{to_markdown(versus)}\n{legend}\n"))
    return parts


def _share(count: int, total: int) -> str:
    return f"{count / total:.2f} ({count})" if total else MISSING


def _fraction(counts: tuple[int, int] | None) -> str:
    if counts is None or counts[1] == 0:
        return MISSING
    return f"{counts[0] / counts[1]:.2f} ({counts[0]}/{counts[1]})"


# ---- the scaling curve --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One budget of the curve: its mode, the sentences per fact it kept (mean over seeds), its accuracies."""

    mode: str
    per_fact: int | None  # None: ft-oracle-local, each candidate once
    sentences_per_fact: float
    accuracy: dict[str, Estimate]  # split -> accuracy


def curve(study: StudyResults, scores: Scores, model: str, world: str) -> list[Point]:
    """The curve's points on `world`, by sentences per fact: plain FT at 0 (when 0 is a budget), each budget's
    cell, and ft-oracle-local itself (each candidate once: about 2 per fact)."""
    budgets: list[int | None] = sorted(study.config.augment.per_fact)
    points = []
    for k in [*budgets, None] if budgets else []:
        mode = "ft" if k == 0 else budget_mode(k) if k else BUDGETED
        accuracy = {s: e for s in scores.splits(world) if (e := scores.get(world, mode, s)) is not None}
        x = 0.0 if k == 0 else _sentences_per_fact(study, model, world, mode, k)
        if accuracy and x is not None:
            points.append(Point(mode, k, x, accuracy))
    points.sort(key=lambda p: p.sentences_per_fact)
    return points if any(p.per_fact != 0 for p in points) else []


def _sentences_per_fact(study: StudyResults, model: str, world: str, mode: str,
                        per_fact: int | None) -> float | None:
    """Kept sentences per stated fact of the budget's oracle files, averaged over the seeds that have one."""
    ratios = []
    for seed in study.config.seeds:
        path = augmentation_file(study.folder, study.config, CellKey(world, seed, model, mode), "oracle-local",
                                 per_fact)
        if summary_path(path).is_file():
            summary = json.loads(summary_path(path).read_text(encoding="utf-8"))
            ratios.append(summary["counts"]["kept"] / max(summary["facts"], 1))
    return sum(ratios) / len(ratios) if ratios else None


def curve_table(scores: Scores, world: str, points: list[Point]) -> Table:
    splits = [s for s in scores.splits(world) if any(s in p.accuracy for p in points)]
    rows = [(mode_label(p.mode), "each once" if p.per_fact is None else str(p.per_fact), f"{p.sentences_per_fact:.2f}",
             *[f"{p.accuracy[s].mean:.2f}" if s in p.accuracy else MISSING for s in splits],
             scores.invalid(world, p.mode) or "passed") for p in points]
    icl = [scores.get(world, "icl", s) for s in splits]
    if any(icl):
        rows.append(("ICL", "", "", *[f"{e.mean:.2f}" if e else MISSING for e in icl], "(reference)"))
    return Table(header=("mode", "budget per fact", "sentences per fact", *splits, "learned check"), rows=tuple(rows))


def _curve_figure(scores: Scores, model: str, world: str, points: list[Point], several: bool) -> FigureImage:
    """Accuracy per split (95% CI) against sentences per fact; ICL per split as a dashed line of its colour."""
    figure = Figure(figsize=(6.5, 4.2), dpi=120, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    splits = [s for s in scores.splits(world) if any(s in p.accuracy for p in points)]
    for n, split in enumerate(splits):
        color = colors[n % len(colors)]
        shown = [p for p in points if split in p.accuracy]
        xs = [p.sentences_per_fact for p in shown]
        estimates = [p.accuracy[split] for p in shown]
        errors = [[e.mean - e.low for e in estimates], [e.high - e.mean for e in estimates]]  # (2, points)
        axes.errorbar(xs, [e.mean for e in estimates], yerr=errors, color=color, marker="o", capsize=3,
                      label=split)
        # a point whose fit failed the learned check is drawn hollow: its accuracy is shown, never compared
        unlearned = [(x, e.mean) for x, e, p in zip(xs, estimates, shown) if scores.invalid(world, p.mode)]
        if unlearned:
            axes.plot(*zip(*unlearned), linestyle="none", marker="o", markersize=7, markerfacecolor="white",
                      markeredgecolor=color, zorder=3)
        icl = scores.get(world, "icl", split)
        if icl is not None:
            axes.axhline(icl.mean, color=color, linestyle="--", linewidth=1.1, label=f"ICL {split}")
    if any(scores.invalid(world, p.mode) for p in points):
        axes.plot([], [], linestyle="none", marker="o", markerfacecolor="white", markeredgecolor="#555555",
                  label="hollow: failed the learned check")
    axes.set_xlabel("oracle-local augmentation sentences per fact", fontsize=11)
    axes.set_ylabel("accuracy (95% CI)", fontsize=11)
    axes.set_ylim(0, 1.02)
    title = f"{world}: how much augmentation until FT matches ICL?" + (f" ({model})" if several else "")
    axes.set_title(title, fontsize=11)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(color="#dddddd", linewidth=0.6)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=min(4, 2 * len(splits)), frameon=False,
                fontsize=9)
    stem = f"augmentation-curve-{file_part(model)}-{file_part(world)}" if several else \
        f"augmentation-curve-{file_part(world)}"
    return FigureImage(model=model, world=world, file_name=f"{stem}.png", title=title, png=png_bytes(figure))


def _curve_part(scores: Scores, world: str, points: list[Point], figure: FigureImage) -> Part:
    table = curve_table(scores, world, points)
    encoded = base64.b64encode(figure.png).decode("ascii")
    alt = f"Accuracy per split against oracle-local augmentation sentences per fact on {world}, with ICL's level"
    legend = ("The scaling curve (a control): FT on documents + the oracle's local augmentations at each budget "
              "of [augment] per_fact (0 is plain FT); the dashed lines are ICL.")
    return Part(f"<p><b>{html.escape(legend)}</b></p>\n{to_html(table)}"
                f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(alt)}" '
                f'data-file="{html.escape(figure.file_name)}">\n',
                f"\n**{legend}**\n\n{to_markdown(table)}\n![{alt}]({figure.file_name})\n")
