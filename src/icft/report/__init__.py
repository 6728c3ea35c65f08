"""Reports: tables, figures and findings built only from a study folder's stored results (no model is loaded).

An ICL-vs-FT study's pages are `icft.report.grid`, a transfer study's `icft.report.transfer`; both are written
with the page kit (`page`), decide their findings by the same rules (`verdicts`, `cases`) and write findings.json
alike (`findings_file`).

`write_report(study_dir)` writes into `study_dir/report/`:
  index.html          one self-contained page (figures embedded as base64 PNG)
  summary.md          the same tables and findings in Markdown, linking the PNGs
  findings.json       every finding and every case with its numbers (`icft.report.findings_file.case_record`),
                      and every cell's scores (`icft.report.grid.answer.cell_records`: exact match and F1 on
                      free-form splits)
  accuracy-*.png      icl_vs_ft: one bar chart per (model, world), beside the page
  transfer-*.png      transfer: one heatmap per (model, train size, variant), beside the page
  augmentation.json   icl_vs_ft with augmented cells: the augmentation ledger, item by item
  augmentation-curve-*.png  icl_vs_ft with [augment] per_fact: the scaling curve per (model, world)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from icft.errors import IcftError
from icft.jsonl import write_text_atomic
from icft.report.augmentation.ledger import LEDGER_FILE
from icft.report.augmentation.panel import augmentation_panel
from icft.report.findings_file import FINDINGS_FILE, findings_json
from icft.report.folder import read_config
from icft.report.grid.answer import cell_records
from icft.report.grid.figures import accuracy_figure
from icft.report.grid.findings import all_findings
from icft.report.grid.html import Comparison, FigureImage, render_page
from icft.report.grid.results import StudyResults, load_study
from icft.report.grid.where import split_answers
from icft.report.page import file_part, write_bytes_atomic
from icft.report.transfer.findings import transfer_findings
from icft.report.transfer.page import Heatmap, heatmaps, render_transfer_page
from icft.report.transfer.results import load_transfer
from icft.report.verdicts import Finding

REPORT_DIR = "report"
HTML_FILE = "index.html"
MARKDOWN_FILE = "summary.md"


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    markdown: Path
    figures: tuple[Path, ...]
    findings: Path
    augmentation: Path | None = None  # the augmentation ledger, when cells trained on augmentations


def write_report(study_dir: str | Path, compare: str | Path | None = None) -> ReportPaths:
    """Write the report of `study_dir` (and, with `compare`, a second study side by side); return the paths."""
    kinds = [read_config(Path(folder)).kind for folder in (study_dir, compare) if folder is not None]
    if "transfer" in kinds:
        if compare is not None:
            raise IcftError("a comparison reads icl_vs_ft studies only: report each transfer study on its own")
        return _write_transfer_report(study_dir)
    study = load_study(study_dir)
    comparison = None
    if compare is not None:
        other = load_study(compare)
        comparison = Comparison(study=other, findings=_findings(other))
    figures = _figures(study)
    findings = _findings(study)
    panel = augmentation_panel(study)
    page, markdown = render_page(study, figures, findings, comparison, panel.parts)
    cells = [row for model, scores in study.scores.items() for row in cell_records(scores, model)]
    answers = [answer.record(model) for model, scores in study.scores.items()
               for answer in split_answers(scores, findings[model])]
    paths = _write_files(Path(study_dir) / REPORT_DIR, page, markdown, figures + panel.figures,
                         findings_json(study.name, study.config.kind, findings, cells, answers))
    if panel.ledger is None:
        return paths
    write_text_atomic(paths.html.parent / LEDGER_FILE, panel.ledger)
    return replace(paths, augmentation=paths.html.parent / LEDGER_FILE)


def _write_transfer_report(study_dir: str | Path) -> ReportPaths:
    results = load_transfer(study_dir)
    findings = {model: transfer_findings([s for (m, _), s in results.scores.items() if m == model])
                for model in dict.fromkeys(model for model, _ in results.scores)}
    figures = heatmaps(results)
    page, markdown = render_transfer_page(results, figures, findings)
    return _write_files(Path(study_dir) / REPORT_DIR, page, markdown, figures,
                        findings_json(results.name, results.config.kind, findings))


def _write_files(out: Path, page: str, markdown: str, figures: list[FigureImage] | list[Heatmap],
                 findings: str) -> ReportPaths:
    """The figures (PNGs named by their `file_name`), then findings.json, the page and the summary."""
    figure_paths = []
    for figure in figures:
        write_bytes_atomic(out / figure.file_name, figure.png)
        figure_paths.append(out / figure.file_name)
    write_text_atomic(out / FINDINGS_FILE, findings)
    write_text_atomic(out / HTML_FILE, page)
    write_text_atomic(out / MARKDOWN_FILE, markdown)
    return ReportPaths(html=out / HTML_FILE, markdown=out / MARKDOWN_FILE, figures=tuple(figure_paths),
                       findings=out / FINDINGS_FILE)


def _findings(study: StudyResults) -> dict[str, list[Finding]]:
    return {model: all_findings(scores) for model, scores in study.scores.items()}


def _figures(study: StudyResults) -> list[FigureImage]:
    """One chart per (model, world); file names carry the model only when the study has several."""
    several = len(study.config.models) > 1
    figures = []
    for model, scores in study.scores.items():
        for world in scores.worlds():
            stem = f"accuracy-{file_part(model)}-{file_part(world)}" if several else f"accuracy-{file_part(world)}"
            title = f"{world} ({model})"
            figures.append(FigureImage(model=model, world=world, file_name=f"{stem}.png", title=title,
                                       png=accuracy_figure(scores, world, title)))
    return figures


__all__ = ["ReportPaths", "write_report"]
