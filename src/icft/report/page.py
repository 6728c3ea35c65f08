"""The page kit both kinds of report are written with (`icft.report.grid.html`, `icft.report.transfer.page`,
`icft.report.augmentation.panel`): a `Part` in HTML and Markdown at once, headings, paragraphs, lists of facts,
answers, notes and findings with their verdict badges, the page's CSS and document; plain tables in both formats;
and the PNG files beside the page.
"""

from __future__ import annotations

import html
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from icft.report.verdicts import DOES_NOT_REPRODUCE, INVALID, NOT_SHOWN, NOT_TESTED, REPRODUCES, Finding

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from icft.evaluate.stats import Estimate

MISSING = "—"  # a cell with no result


@dataclass(frozen=True)
class Part:
    """A piece of the report in both formats."""

    html: str
    markdown: str


def title_and_facts(title: str, facts: list[tuple[str, str]]) -> Part:
    """The page title and a list of "key: value" facts about the study."""
    items_html = "".join(f"<li><b>{html.escape(k)}:</b> {html.escape(v)}</li>" for k, v in facts)
    items_md = "".join(f"- **{k}:** {v}\n" for k, v in facts)
    return Part(f"<h1>{html.escape(title)}</h1>\n<ul class=\"facts\">{items_html}</ul>\n", f"# {title}\n\n{items_md}")


def answer_list(lines: list[str], model: str | None) -> Part:
    """A few lines that answer the study's question; `model` heads them when the study has several."""
    head_html = f"<p><b>{html.escape(model)}</b></p>\n" if model else ""
    head_md = f"**{model}**\n\n" if model else ""
    return Part(head_html + '<ul class="answer">' + "".join(f"<li>{html.escape(line)}</li>" for line in lines)
                + "</ul>\n", head_md + "".join(f"- {line}\n" for line in lines))


def notes(study) -> Part:
    """Runs left out of the tables: incomplete, not run, ignored (`study`: either kind's results, each with the three
    lists of lines)."""
    lines = [*study.incomplete, *study.not_run, *study.ignored]
    if not lines:
        return Part("", "")
    intro = "These runs are not in the tables (unfinished runs count only once they finish):"
    return Part(
        "<h2>Notes</h2>\n<p>" + html.escape(intro) + "</p>\n<ul class=\"notes\">"
        + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>\n",
        f"## Notes\n\n{intro}\n\n" + "".join(f"- {line}\n" for line in lines),
    )


def findings_list(findings: list[Finding]) -> Part:
    items_html, items_md = [], []
    for f in findings:
        cases_html = "".join(f"<li>{html.escape(d)}</li>" for d in f.details)
        items_html.append(
            f"<li>{badge(f.verdict)} "
            f"<b>{html.escape(f.claim)}</b><br>{html.escape(f.sentence)}"
            + (f'<ul class="cases">{cases_html}</ul>' if cases_html else "") + "</li>\n"
        )
        items_md.append(f"{f.number}. **{f.verdict}**: {f.claim} {f.sentence}\n"
                        + "".join(f"   - {d}\n" for d in f.details))
    return Part('<ol class="findings">\n' + "".join(items_html) + "</ol>\n", "".join(items_md))


def heading(level: int, text: str) -> Part:
    return Part(f"<h{level}>{html.escape(text)}</h{level}>\n", f"{'#' * level} {text}\n")


def paragraph(text: str) -> Part:
    return Part(f"<p>{html.escape(text)}</p>\n", f"{text}\n")


def badge(verdict: str) -> str:
    return f'<span class="verdict {VERDICT_CLASSES[verdict]}">{html.escape(verdict)}</span>'


VERDICT_CLASSES = {REPRODUCES: "v-yes", DOES_NOT_REPRODUCE: "v-no", NOT_SHOWN: "v-unclear", NOT_TESTED: "v-untested",
                    INVALID: "v-no"}


CSS = """
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


def document(title: str, parts: list[Part], extra_css: str = "") -> tuple[str, str]:
    """(the self-contained HTML page, the Markdown summary) of `parts`, in order."""
    body = "".join(p.html for p in parts)
    page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n<style>{CSS}{extra_css}</style>\n</head>\n"
            f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n")
    return page, "\n".join(p.markdown for p in parts)


# ---- tables -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """Plain strings: the first column names the row."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def to_markdown(table: Table) -> str:
    lines = [_markdown_row(table.header), "|" + "|".join(["---"] + ["--:"] * (len(table.header) - 1)) + "|"]
    lines += [_markdown_row(row) for row in table.rows]
    return "\n".join(lines) + "\n"


def to_html(table: Table, css_class: str = "results", text_columns: int = 1) -> str:
    """An HTML table; the first `text_columns` columns hold names (left-aligned), the rest numbers."""

    def cell(tag: str, n: int, text: str, extra: str = "") -> str:
        aligned = ' class="text"' if n < text_columns else ""
        return f"<{tag}{extra}{aligned}>{html.escape(text)}</{tag}>"

    head = "".join(cell("th", n, h) for n, h in enumerate(table.header))
    body = "".join(
        "<tr>" + cell("th", 0, row[0], ' scope="row"') + "".join(cell("td", n, c) for n, c in enumerate(row[1:], 1))
        + "</tr>\n"
        for row in table.rows
    )
    return f'<table class="{css_class}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n'


def _markdown_row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def format_estimate(estimate: Estimate) -> str:
    """"0.62 [0.48, 0.75]": the mean and its 95% CI."""
    return f"{estimate.mean:.2f} [{estimate.low:.2f}, {estimate.high:.2f}]"


# ---- figures ------------------------------------------------------------------------------------------------


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG, with no version stamp: the same numbers give the same bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def file_part(name: str) -> str:
    """A model, world or task name made safe for a file name ("org/model" -> "org_model")."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "x"


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
