"""The report page, written twice from the same parts: a self-contained HTML file and a Markdown summary.

Sections, in order: what the study is, the answer (five lines per model), how to read the numbers, notes
(incomplete or missing runs), results per model and world (tables + figure), the augmentation panel when
cells trained on augmentations (`report.augmentation.panel`), findings, and the comparison with a second study
when one is given.
Transfer studies reuse these parts (CSS, headings, findings) for a page of their own (`report.transfer.page`).
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from icft.evaluate.stats import ALPHA, POWER
from icft.report.answer import answer_lines, verdicts_by_model
from icft.report.findings import DOES_NOT_REPRODUCE, INVALID, MARGIN, NOT_SHOWN, NOT_TESTED, REPRODUCES, Finding
from icft.report.results import StudyResults
from icft.evaluate.learned import rule_text
from icft.report.tables import (
    Table, compare_table, known_table, learned_table, probability_table, to_html, to_markdown, world_table,
)

if TYPE_CHECKING:  # only for an annotation: transfer.page imports this module
    from icft.report.transfer.results import TransferResults


@dataclass(frozen=True)
class Part:
    """A piece of the report in both formats."""

    html: str
    markdown: str


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
    parts = _page_parts(study, figures, findings, comparison, list(extra))
    body = "".join(p.html for p in parts)
    page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>icft report: {html.escape(study.name)}</title>\n<style>{_CSS}</style>\n</head>\n"
            f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n")
    return page, "\n".join(p.markdown for p in parts)


def _page_parts(study: StudyResults, figures: list[FigureImage], findings: dict[str, list[Finding]],
               comparison: Comparison | None, extra: list[Part]) -> list[Part]:
    parts = [_overview(study)]
    if study.models:
        parts.append(_heading(2, "The answer"))
        parts += [_answer(answer_lines(study.scores[m], findings[m]), m if len(study.models) > 1 else None)
                  for m in study.models]
        parts += _side_by_side(study, findings, comparison)
    parts += [_reading_guide(), _notes(study)]
    if not study.models:
        parts += [_heading(2, "Results"), _paragraph("No finished runs yet: tables and findings need at least one.")]
    for model in study.models:  # every model listed has finished runs, so figures
        parts.append(_heading(2, f"Results{_for_model(study, model)}"))
        parts += [_world_results(study, figure) for figure in figures if figure.model == model]
    parts += extra
    for model in study.models:
        parts += [_heading(2, f"Findings{_for_model(study, model)}"), _findings(findings[model])]
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
    return _title_and_facts(f"icft report: {study.name}", facts)


def _title_and_facts(title: str, facts: list[tuple[str, str]]) -> Part:
    """The page title and a list of "key: value" facts about the study."""
    items_html = "".join(f"<li><b>{html.escape(k)}:</b> {html.escape(v)}</li>" for k, v in facts)
    items_md = "".join(f"- **{k}:** {v}\n" for k, v in facts)
    return Part(f"<h1>{html.escape(title)}</h1>\n<ul class=\"facts\">{items_html}</ul>\n", f"# {title}\n\n{items_md}")


def _answer(lines: list[str], model: str | None) -> Part:
    """A few lines that answer the study's question; `model` heads them when the study has several."""
    head_html = f"<p><b>{html.escape(model)}</b></p>\n" if model else ""
    head_md = f"**{model}**\n\n" if model else ""
    return Part(head_html + '<ul class="answer">' + "".join(f"<li>{html.escape(line)}</li>" for line in lines)
                + "</ul>\n", head_md + "".join(f"- {line}\n" for line in lines))


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
    return [_heading(3, "Per model"), Part(f'<p class="legend">{html.escape(legend)}</p>\n'
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


def _notes(study: StudyResults | TransferResults) -> Part:
    """Runs left out of the tables: incomplete, not run, ignored (any study kind's results)."""
    lines = [*study.incomplete, *study.not_run, *study.ignored]
    if not lines:
        return Part("", "")
    intro = "These runs are not in the tables (unfinished runs count only once they finish):"
    return Part(
        "<h2>Notes</h2>\n<p>" + html.escape(intro) + "</p>\n<ul class=\"notes\">"
        + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>\n",
        f"## Notes\n\n{intro}\n\n" + "".join(f"- {line}\n" for line in lines),
    )


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


def _findings(findings: list[Finding]) -> Part:
    items_html, items_md = [], []
    for f in findings:
        cases_html = "".join(f"<li>{html.escape(d)}</li>" for d in f.details)
        items_html.append(
            f"<li>{_badge(f.verdict)} "
            f"<b>{html.escape(f.claim)}</b><br>{html.escape(f.sentence)}"
            + (f'<ul class="cases">{cases_html}</ul>' if cases_html else "") + "</li>\n"
        )
        items_md.append(f"{f.number}. **{f.verdict}**: {f.claim} {f.sentence}\n"
                        + "".join(f"   - {d}\n" for d in f.details))
    return Part('<ol class="findings">\n' + "".join(items_html) + "</ol>\n", "".join(items_md))


def _comparison(study: StudyResults, findings: dict[str, list[Finding]], comparison: Comparison) -> list[Part]:
    other = comparison.study
    name_a, name_b = _study_names(study, other)
    parts = [_heading(2, f"Comparison: {name_a} vs {name_b}"),
             _paragraph(f"{name_a} is this study ({study.folder}); {name_b} is {other.folder}. "
                        f"The last columns give the difference of the means with its 95% CI (the studies are "
                        "independent: Newcombe's MOVER) and which study is higher where that CI excludes 0.")]
    for model_a, model_b in _model_pairs(study, other):
        pair = f" ({model_a} vs {model_b})" if (len(study.models), len(other.models)) != (1, 1) else ""
        a, b = study.scores[model_a], other.scores[model_b]
        for world in list(dict.fromkeys(a.worlds() + b.worlds())):
            parts.append(_heading(3, f"{world}{pair}"))
            table = compare_table(a, b, world, name_a, name_b)
            parts.append(Part(to_html(table, text_columns=2), to_markdown(table)))
        parts.append(_heading(3, f"Findings side by side{pair}"))
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
        f"<td class=\"text\">{_badge(a.verdict)}</td><td class=\"text\">{_badge(b.verdict)}</td></tr>\n"
        for row, a, b in zip(table.rows, first, second))
    head = "".join(f'<th class="text">{html.escape(h)}</th>' for h in table.header)
    page = (f'<table class="findings-table">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n'
            + "".join(f"<details><summary>{html.escape(name)}: the numbers</summary><ol>"
                      + "".join(f"<li>{html.escape(f.sentence)}</li>" for f in fs) + "</ol></details>\n"
                      for name, fs in sentences))
    return Part(page, markdown)


# ---- pieces -------------------------------------------------------------------------------------------------


def _heading(level: int, text: str) -> Part:
    return Part(f"<h{level}>{html.escape(text)}</h{level}>\n", f"{'#' * level} {text}\n")


def _paragraph(text: str) -> Part:
    return Part(f"<p>{html.escape(text)}</p>\n", f"{text}\n")


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


def _badge(verdict: str) -> str:
    return f'<span class="verdict {_VERDICT_CLASSES[verdict]}">{html.escape(verdict)}</span>'


_VERDICT_CLASSES = {REPRODUCES: "v-yes", DOES_NOT_REPRODUCE: "v-no", NOT_SHOWN: "v-unclear", NOT_TESTED: "v-untested",
                    INVALID: "v-no"}


_CSS = """
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif; color: #222; margin: 0;
       background: #fafafa; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 1.7em; margin-bottom: 0.3em; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 4px; margin-top: 1.8em; }
h3 { margin-bottom: 0.4em; }
.facts { padding-left: 1.2em; line-height: 1.5; }
.answer { background: #f4f9f1; border-left: 4px solid #2e7d32; padding: 8px 14px 8px 30px; line-height: 1.5; }
.legend { font-size: 0.9em; color: #444; margin-top: 0; }
.guide { background: #f2f6fb; border-left: 4px solid #1f6fb4; padding: 10px 14px; line-height: 1.5; }
table { border-collapse: collapse; margin: 8px 0 14px; font-variant-numeric: tabular-nums; font-size: 0.95em; }
th, td { border: 1px solid #d0d0d0; padding: 5px 10px; text-align: right; }
thead th { background: #f0f0f0; }
tbody th { font-weight: 600; background: #fafafa; }
th.text, td.text { text-align: left; }
img { max-width: 100%; height: auto; display: block; margin: 6px 0 18px; }
.findings > li { margin-bottom: 12px; line-height: 1.45; }
.cases { font-size: 0.92em; color: #444; margin-top: 4px; }
.verdict { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.85em; font-weight: 600;
           margin-right: 6px; }
.v-yes { background: #d8f0d8; color: #1b5e20; }
.v-no { background: #fbd9d9; color: #8e1b1b; }
.v-unclear { background: #fdf0cc; color: #7a5300; }
.v-untested { background: #e6e6e6; color: #555; }
.notes { color: #5a4a00; }
details { margin: 6px 0; }
"""
