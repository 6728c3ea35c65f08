"""The report page, written twice from the same parts: a self-contained HTML file and a Markdown summary.

Sections, in order: what the study is, the answer (five lines per model), how to read the numbers, notes
(incomplete or missing runs), results per model and world (tables + figure), the augmentation panel when
cells trained on augmentations (`report.augmentation.panel`), findings, and the comparison with a second study
when one is given. The parts themselves (CSS, headings, lists, tables) are the page kit both kinds of report share
(`icft.report.page`).
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

from icft.evaluate.stats import ALPHA, POWER
from icft.evaluate.learned import rule_text
from icft.report.grid.answer import answer_lines, verdicts_by_model
from icft.report.grid.results import StudyResults
from icft.report.grid.tables import compare_table, known_table, learned_table, probability_table, world_table
from icft.report.page import (Part, Table, answer_list, badge, document, findings_list, heading, notes, paragraph,
                              title_and_facts, to_html, to_markdown)
from icft.report.verdicts import MARGIN, Finding

@dataclass(frozen=True)
class FigureImage:
    """A rendered figure: `file_name` is its PNG beside the report (the Markdown links it, the HTML embeds it)."""

    model: str
    world: str
    file_name: str
    title: str
    png: bytes


@dataclass(frozen=True)
class Comparison:
    """A second study to put beside the first, with its findings per model."""

    study: StudyResults
    findings: dict[str, list[Finding]]


def render_page(study: StudyResults, figures: list[FigureImage], findings: dict[str, list[Finding]],
                comparison: Comparison | None = None, extra: list[Part] = ()) -> tuple[str, str]:
    """(HTML page, Markdown summary); `extra` parts (the augmentation panel) come after the results."""
    return document(f"icft report: {study.name}", _page_parts(study, figures, findings, comparison, list(extra)))


def _page_parts(study: StudyResults, figures: list[FigureImage], findings: dict[str, list[Finding]],
               comparison: Comparison | None, extra: list[Part]) -> list[Part]:
    parts = [_overview(study)]
    if study.models:
        parts.append(heading(2, "The answer"))
        parts += [answer_list(answer_lines(study.scores[m], findings[m]), m if len(study.models) > 1 else None)
                  for m in study.models]
        parts += _side_by_side(study, findings, comparison)
    parts += [_reading_guide(), notes(study)]
    if not study.models:
        parts += [heading(2, "Results"), paragraph("No finished runs yet: tables and findings need at least one.")]
    for model in study.models:  # every model listed has finished runs, so figures
        parts.append(heading(2, f"Results{_for_model(study, model)}"))
        parts += [_world_results(study, figure) for figure in figures if figure.model == model]
    parts += extra
    for model in study.models:
        parts += [heading(2, f"Findings{_for_model(study, model)}"), findings_list(findings[model])]
    if comparison is not None:
        parts += _comparison(study, findings, comparison)
    return parts


# ---- sections -----------------------------------------------------------------------------------------------


def _overview(study: StudyResults) -> Part:
    config = study.config
    worlds = ", ".join(f"{w.label} ({'folder ' + w.path if w.path else 'preset ' + w.preset})" for w in config.worlds)
    facts = [
        ("study folder", str(study.folder)),
        ("kind", config.kind),
        ("models", ", ".join(config.models)),
        ("worlds", worlds),
        ("modes", ", ".join(config.modes)),
        ("seeds", ", ".join(str(s) for s in config.seeds)),
        ("code versions of the runs", ", ".join(study.code_versions) or "none yet"),
        ("precision of the runs", ", ".join(study.precisions) or "none yet"),
    ]
    if study.finetune_precisions:
        facts.append(("precision of the fits' matrix products", ", ".join(study.finetune_precisions)))
    return title_and_facts(f"icft report: {study.name}", facts)


def _side_by_side(study: StudyResults, findings: dict[str, list[Finding]],
                  comparison: Comparison | None) -> list[Part]:
    """With several models (this study's, or the compared study's too): their verdicts side by side."""
    columns = {model: (study.scores[model], findings[model]) for model in study.models}
    if comparison is not None:
        other = comparison.study
        name_a, name_b = _study_names(study, other)
        shared = set(study.models) & set(other.models)
        columns = {(f"{model} ({name_a})" if model in shared else model): column for model, column in columns.items()}
        columns |= {(f"{model} ({name_b})" if model in shared else model): (other.scores[model],
                                                                           comparison.findings[model])
                    for model in other.models}
    if len(columns) < 2:
        return []
    table = verdicts_by_model(columns)
    legend = ("Per model, side by side: each world's learned check (every mode given the facts, with its control "
              "items answered) and each finding's verdict with its effect (A − B on the primary metric, 95% CI) or "
              "the smallest effect the study could detect; the last column says where the answer depends on the "
              "model.")
    return [heading(3, "Per model"), Part(f'<p class="legend">{html.escape(legend)}</p>\n'
                                           + to_html(table, text_columns=len(table.header)),
                                           f"{legend}\n\n{to_markdown(table)}")]


def _reading_guide() -> Part:
    text = (
        "Built only from the study's stored results (results.db, and the worlds the study saved); no model is "
        "loaded. Accuracy is the share of items whose option with the highest summed log-likelihood is correct: "
        "mean [95% CI]. With one seed the interval is Wilson's and covers the items only; with several seeds it "
        "also covers the variation between seeds (worlds), by a bootstrap over seeds and then items, and items "
        "that share a fact are resampled together. p(correct), the probability of the correct option(s) "
        "(softmax over the options' log-likelihoods), is shown beside accuracy. "
        "Two modes are compared on the same items (joined on item id within each world, seed and split). The "
        "primary metric of a paired verdict, declared before the run, is p(correct): the paired difference with "
        "its 95% CI and a two-sided p from a paired t-test on the means of fact clusters (items that share a fact "
        "count once; with several seeds also a paired cluster bootstrap); the same comparison in accuracy (mid-p "
        f"McNemar) is shown beside it. \"A > B\" reproduces when p < {ALPHA} (Holm-adjusted where a finding "
        "needs only some case) and the CI lies above 0; the mirror image does not reproduce; otherwise it is "
        "\"not shown at this size\", with the minimum detectable effect (MDE, "
        f"{POWER:.0%} power) of the comparison. \"Near chance\" is an equivalence test: the 90% interval of "
        f"accuracy − chance must lie within ±{MARGIN:.2f}; a result below chance is \"no knowledge; option bias\", "
        f"with the bias measured. \"A ≥ B\" needs the paired lower bound above −{MARGIN:.2f}; \"no gain\" needs "
        f"the paired upper bound below +{MARGIN:.2f} in every cell. Across worlds with different chance levels "
        "the normalized gains (accuracy − chance) / (1 − chance) are compared. \"Not tested\" means the study "
        "lacks the worlds or modes a finding needs. "
        f"Every mode given the facts must first pass its world's learned check on the control splits, which ask "
        f"the trained statements themselves ({rule_text()}): a comparison with one that did not is "
        "\"invalid\", not a finding. Every finding and case is also in findings.json beside this page."
    )
    return Part(f'<p class="guide">{html.escape(text)}</p>\n', f"{text}\n")


def _world_results(study: StudyResults, figure: FigureImage) -> Part:
    """A world's section: first the learned check (did each mode learn the facts?), then the results."""
    scores = study.scores[figure.model]
    table = world_table(scores, figure.world)
    learned = learned_table(scores, figure.world)
    probability = probability_table(scores, figure.world)
    extra_html = to_html(probability) if probability else ""
    extra_md = f"\n{to_markdown(probability)}" if probability else ""
    known = known_table(scores, figure.world)
    if known:
        legend = ("Knowing before generalizing: a mode knows a fact when it answers every control item that asks it; "
                  "each generalization split is scored again on the items whose facts the mode knows.")
        extra_html += f'<p class="legend">{html.escape(legend)}</p>\n{to_html(known, text_columns=len(known.header))}'
        extra_md += f"\n{legend}\n\n{to_markdown(known)}"
    one_seed = [row[0] for row in table.rows if row[-1] == "1"]
    if one_seed:
        note = (f"{', '.join(one_seed)}: one seed, so the intervals cover the items only (not the variation "
                "between worlds).")
        extra_html += f'<p class="legend">{html.escape(note)}</p>\n'
        extra_md += f"\n{note}\n"
    question = "Did each mode learn the facts?"
    if not scores.control_splits(figure.world):
        question += " This world names no control split, so the learned check is missing."
    encoded = base64.b64encode(figure.png).decode("ascii")
    alt = f"Accuracy per split and mode on {figure.world}, with 95% CIs and chance"
    return Part(
        f"<section class=\"world\">\n<h3>{html.escape(figure.world)}</h3>\n"
        f"<p><b>{html.escape(question)}</b></p>\n{to_html(learned, text_columns=3)}{to_html(table)}{extra_html}"
        f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(alt)}" '
        f'data-file="{html.escape(figure.file_name)}">\n</section>\n',
        f"### {figure.world}\n\n**{question}**\n\n{to_markdown(learned)}\n{to_markdown(table)}{extra_md}\n"
        f"![{alt}]({figure.file_name})\n",
    )


def _comparison(study: StudyResults, findings: dict[str, list[Finding]], comparison: Comparison) -> list[Part]:
    other = comparison.study
    name_a, name_b = _study_names(study, other)
    parts = [heading(2, f"Comparison: {name_a} vs {name_b}"),
             paragraph(f"{name_a} is this study ({study.folder}); {name_b} is {other.folder}. "
                        f"The last columns give the difference of the means with its 95% CI (the studies are "
                        "independent: Newcombe's MOVER) and which study is higher where that CI excludes 0.")]
    for model_a, model_b in _model_pairs(study, other):
        pair = f" ({model_a} vs {model_b})" if (len(study.models), len(other.models)) != (1, 1) else ""
        a, b = study.scores[model_a], other.scores[model_b]
        for world in list(dict.fromkeys(a.worlds() + b.worlds())):
            parts.append(heading(3, f"{world}{pair}"))
            table = compare_table(a, b, world, name_a, name_b)
            parts.append(Part(to_html(table, text_columns=2), to_markdown(table)))
        parts.append(heading(3, f"Findings side by side{pair}"))
        parts.append(_findings_side_by_side(findings[model_a], comparison.findings[model_b], name_a, name_b))
    return parts


def _findings_side_by_side(first: list[Finding], second: list[Finding], name_a: str, name_b: str) -> Part:
    table = Table(header=("finding", name_a, name_b),
                  rows=tuple((f"{a.number}. {a.claim}", a.verdict, b.verdict) for a, b in zip(first, second)))
    sentences = [(name_a, first), (name_b, second)]
    markdown = to_markdown(table) + "".join(
        f"\n{name}:\n\n" + "".join(f"{f.number}. {f.sentence}\n" for f in fs) for name, fs in sentences)
    rows = "".join(
        f'<tr><th scope="row" class="text">{html.escape(row[0])}</th>'
        f"<td class=\"text\">{badge(a.verdict)}</td><td class=\"text\">{badge(b.verdict)}</td></tr>\n"
        for row, a, b in zip(table.rows, first, second))
    head = "".join(f'<th class="text">{html.escape(h)}</th>' for h in table.header)
    page = (f'<table class="findings-table">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n'
            + "".join(f"<details><summary>{html.escape(name)}: the numbers</summary><ol>"
                      + "".join(f"<li>{html.escape(f.sentence)}</li>" for f in fs) + "</ol></details>\n"
                      for name, fs in sentences))
    return Part(page, markdown)


# ---- pieces -------------------------------------------------------------------------------------------------


def _for_model(study: StudyResults, model: str) -> str:
    return f": {model}" if len(study.config.models) > 1 else f" ({model})"


def _study_names(first: StudyResults, second: StudyResults) -> tuple[str, str]:
    """Names that tell the two studies apart: their names, else their folders."""
    for a, b in ((first.name, second.name), (first.folder.name, second.folder.name),
                 (str(first.folder), str(second.folder))):
        if a != b:
            return a, b
    return "first", "second"


def _model_pairs(first: StudyResults, second: StudyResults) -> list[tuple[str, str]]:
    """The same model in both studies where they share models; otherwise every model of one with every other."""
    shared = [m for m in first.models if m in second.models]
    if shared:
        return [(m, m) for m in shared]
    return [(a, b) for a in first.models for b in second.models]


