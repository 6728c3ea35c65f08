"""write_report on a hand-made study: files, embedded figures, Markdown tables, --compare, and a real browser."""

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from icft.errors import IcftError
from icft.report import ReportPaths, write_report

CHROMIUM = Path("/usr/bin/chromium")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WORLDS = {"reversals": ("reversed", "rephrased"), "reversal_curse": ("reverse_a", "reverse_b", "forward")}
MODES = {"pretrained": None, "icl": 0.9, "ft": None, "ft-global": 0.85}  # None: at chance


def accuracy(ft_boost=0.0, ft_learned=True):
    """Every cell's accuracy; fine-tuned modes learned their facts (control splits at 0.95) unless told not."""
    from hand_made_studies import CHANCE, CONTROLS

    def value(world, mode, split, a):
        if mode.startswith("ft") and ft_learned and split in CONTROLS[world]:
            return 0.95
        return min(1.0, (CHANCE[split] if a is None else a) + (ft_boost if mode == "ft" else 0.0))

    return {(w, m, s): value(w, m, s, a) for w, splits in WORLDS.items() for m, a in MODES.items() for s in splits}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from hand_made_studies import write_study

    folder = write_study(tmp_path_factory.mktemp("study") / "small-model", accuracy(), seeds=(0, 1), n_items=61,
                         name="small", unfinished=[("reversal_curse", "icl", 1)])
    return folder, write_report(folder)


def test_files_are_written_beside_each_other(report):
    folder, paths = report
    assert isinstance(paths, ReportPaths)
    assert paths.html == folder / "report" / "index.html" and paths.markdown == folder / "report" / "summary.md"
    assert [p.name for p in paths.figures] == ["accuracy-reversals.png", "accuracy-reversal_curse.png"]
    for path in paths.figures:
        assert path.parent == paths.html.parent and path.read_bytes().startswith(PNG_MAGIC)
    assert not list(paths.html.parent.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_html_holds_every_world_table_and_an_embedded_figure_each(report):
    _, paths = report
    page = paths.html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<title>icft report: small</title>" in page
    for world, splits in WORLDS.items():
        assert f"<h3>{world}</h3>" in page
        learned, table = page.split(f"<h3>{world}</h3>")[1].split("</table>")[:2]
        assert "Did each mode learn the facts?" in learned
        assert "".join(f"<th>{s}</th>" for s in splits) in table
        for row in ("chance", "n items"):
            assert f'<th scope="row" class="text">{row}</th>' in table
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"[^>]*data-file="([^"]+)"', page)
    assert len(images) == len(paths.figures) == 2
    for encoded, name in images:  # the embedded figure is the PNG written beside the page
        assert base64.b64decode(encoded) == (paths.html.parent / name).read_bytes()
        assert imread(io.BytesIO(base64.b64decode(encoded))).shape[2] in (3, 4)
    assert "src=\"http" not in page and "<script" not in page  # self-contained


def test_incomplete_runs_are_noted_and_left_out(report):
    _, paths = report
    page, markdown = paths.html.read_text(), paths.markdown.read_text()
    for text in (page, markdown):
        assert "reversal_curse-s1 · tiny-model · icl: incomplete" in text
    curse = markdown.split("### reversal_curse")[1].split("![")[0]
    icl_row = next(line for line in curse.split("| mode | reverse_a")[1].splitlines() if line.startswith("| ICL |"))
    assert icl_row.endswith("| 1 |")  # one finished seed of two


def test_markdown_has_the_tables_findings_and_figure_links(report):
    _, paths = report
    markdown = paths.markdown.read_text()
    assert markdown.startswith("# icft report: small\n")
    # the fits' matrix products are named beside the scoring precision (bf16 fits of fp32 weights)
    assert "- **precision of the runs:** float32\n- **precision of the fits' matrix products:** bf16\n" in markdown
    assert "| mode | reversed | rephrased | seeds |" in markdown
    assert "| mode | reverse_a | reverse_b | forward | seeds |" in markdown
    assert "](accuracy-reversals.png)" in markdown and "](accuracy-reversal_curse.png)" in markdown
    assert "## Findings (tiny-model)" in markdown
    findings = markdown.split("## Findings (tiny-model)")[1]
    assert re.findall(r"^(\d)\. \*\*", findings, flags=re.M) == [str(n) for n in range(1, 9)]
    # ICL 0.9 vs FT near a 0.25 chance on reverse_a: the reversal curse shows
    assert "8. **reproduces**: Reversal curse" in findings
    assert "1. **reproduces**: The pretrained model" in findings
    assert "2. **reproduces**: ICL generalizes" in findings
    assert "3. **not tested**" in findings  # no syllogisms world


def test_the_report_opens_with_the_answer(report):
    _, paths = report
    markdown, page = paths.markdown.read_text(), paths.html.read_text()
    answer = markdown.split("## The answer\n\n")[1].split("\n\n")[0].splitlines()
    assert markdown.index("## The answer") < markdown.index("## Results")
    assert 1 <= len(answer) <= 5 and all(line.startswith("- ") for line in answer)
    assert answer[0].startswith("- Highest accuracy per generalization split") and "reversals/reversed: ICL 0.9" in answer[0]
    assert "rephrased" not in answer[0]  # a control split is never ranked
    assert answer[1].startswith("- Learned check: passed by ICL (reversals, reversal_curse), FT (reversals, "
                                "reversal_curse), FT-global")
    assert "2 (ICL > FT on reversals/reversed: +0." in answer[2]
    # FT-global 0.85 vs ICL 0.9: two seeds are two fits, and one degree of freedom for their spread (t = 12.7)
    # cannot show non-inferiority within 0.15
    assert answer[4].startswith("- Not shown at this size: 6 (effects below") and "not tested: 3, 4, 7" in answer[4]
    assert '<ul class="answer">' in page
    # the unfinished ICL seed leaves ICL with one seed on reversal_curse: the report says so
    assert "ICL: one seed, so the intervals cover the items only" in markdown.split("### reversal_curse")[1]


def test_a_fine_tuned_model_that_did_not_learn_makes_its_comparisons_invalid(tmp_path):
    from hand_made_studies import write_study

    folder = write_study(tmp_path / "s", accuracy(ft_learned=False), seeds=(0,), n_items=40, name="unlearned")
    markdown = write_report(folder).markdown.read_text()
    findings = markdown.split("## Findings")[1]
    # FT sits at chance on its control splits: ICL vs FT and the reversal curse are not findings but invalid
    assert "2. **invalid**: ICL generalizes" in findings and "8. **invalid**: Reversal curse" in findings
    assert re.search(r"FT did not learn the facts \(control 0\.\d\d = \d+/\d+\)", findings)
    assert "1. **reproduces**: The pretrained model" in findings  # no fine-tuned model involved: still a finding
    learned = markdown.split("### reversals")[1].split("| mode | reversed")[0]
    # 20/40 is 15 items short of the 35/40 that show recall above 0.75; ICL read its facts (a margin of items)
    assert "| FT | 0.50 (20/40) | NOT learned (15) | 12 | 4 | 0.250 | loss ≤ 0.3 |" in learned
    assert re.search(r"\| ICL \| [0-9.]+ \(\d+/40\) \| read \(\d+\) \|", learned)


def test_same_results_same_bytes(report):
    folder, paths = report
    before = [p.read_bytes() for p in (paths.html, paths.markdown, *paths.figures)]
    again = write_report(folder)
    assert [p.read_bytes() for p in (again.html, again.markdown, *again.figures)] == before


def test_compare_puts_two_studies_side_by_side(tmp_path, report):
    from hand_made_studies import write_study

    folder = shutil.copytree(report[0], tmp_path / "small-model")  # leave the shared report as it is
    other = write_study(tmp_path / "bigger-model", accuracy(ft_boost=0.4), seeds=(0, 1), n_items=61, name="big")
    paths = write_report(folder, compare=other)
    page, markdown = paths.html.read_text(), paths.markdown.read_text()
    assert "## Comparison: small vs big" in markdown and "<h2>Comparison: small vs big</h2>" in page
    assert "| mode | split | small | big | big − small [95% CI] | verdict |" in markdown
    assert "| FT | reversed | " in markdown and "big higher" in markdown
    side_by_side = markdown.split("### Findings side by side")[1]
    # FT catches up with ICL in the other study: ICL > FT is not shown there, and FT escapes the reversal curse
    row_2 = "| 2. ICL generalizes better than FT on reversals (split reversed). | reproduces | not shown at this size |"
    assert row_2 in side_by_side
    assert re.search(r"\| 8\. Reversal curse[^|]*\| reproduces \| does not reproduce \|", side_by_side)
    assert "\nbig:\n" in side_by_side and "\nsmall:\n" in side_by_side


def test_a_transfer_study_is_not_compared(tmp_path):
    """Transfer studies get their own report (tests/report/test_transfer_report.py), but no --compare."""
    from hand_made_studies import write_study

    from icft.study.config import parse_study_config

    folder = write_study(tmp_path / "t", {("reversals", "icl", "reversed"): 0.8}, seeds=(0,))
    transfer = tmp_path / "transfer"
    transfer.mkdir()
    (transfer / "study.json").write_text(json.dumps(parse_study_config({"kind": "transfer"}).model_dump(mode="json")))
    with pytest.raises(IcftError, match="a comparison reads icl_vs_ft studies only"):
        write_report(folder, compare=transfer)


def test_page_renders_in_headless_chromium(report, tmp_path):
    """Needs chromium: apt-get update && apt-get install -y --no-install-recommends chromium."""
    _, paths = report
    install = "apt-get update && apt-get install -y --no-install-recommends chromium"
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: {install}"
    shot = tmp_path / "page.png"
    subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1200,2000", paths.html.resolve().as_uri()], check=True, capture_output=True,
                   timeout=120)
    assert shot.stat().st_size > 20_000
    pixels = imread(shot)  # (2000, 1200, channels)
    assert pixels.shape[:2] == (2000, 1200)
    assert np.std(pixels[..., :3]) > 0.05  # not a blank page


def test_a_study_with_no_finished_run_still_reports(tmp_path):
    from hand_made_studies import write_study

    folder = write_study(tmp_path / "s", {("reversals", "icl", "reversed"): 0.8}, seeds=(0,),
                         unfinished=[("reversals", "icl", 0)])
    paths = write_report(folder)
    assert paths.figures == ()
    page = paths.html.read_text()
    assert "No finished runs yet" in page and "reversals-s0 · tiny-model · icl: incomplete (10 items stored" in page
    assert "<img" not in page and "Findings" not in page  # nothing to claim


def test_a_study_of_two_models_reports_each(tmp_path):
    from hand_made_studies import write_study

    cells = {("reversals", "icl", "reversed"): 0.9, ("reversals", "ft", "reversed"): 0.3}
    folder = write_study(tmp_path / "s", cells, seeds=(0,), n_items=41, model="model-a")
    write_study(folder, {key: 1 - value for key, value in cells.items()}, seeds=(0,), n_items=41, model="model/b")
    config = json.loads((folder / "study.json").read_text())
    (folder / "study.json").write_text(json.dumps({**config, "models": ["model-a", "model/b"]}))
    paths = write_report(folder)
    assert [p.name for p in paths.figures] == ["accuracy-model-a-reversals.png", "accuracy-model_b-reversals.png"]
    markdown = paths.markdown.read_text()
    assert "## Results: model-a" in markdown and "## Findings: model/b" in markdown
    findings_a, findings_b = markdown.split("## Findings: model-a")[1].split("## Findings: model/b")
    assert "2. **reproduces**" in findings_a and "2. **does not reproduce**" in findings_b


def test_the_answer_puts_the_models_verdicts_side_by_side(tmp_path, report):
    """With --compare the opening answer shows each model's learned checks and verdicts in columns, and says
    where the answer depends on the model."""
    from hand_made_studies import write_study

    folder = shutil.copytree(report[0], tmp_path / "small-model")
    other = write_study(tmp_path / "bigger-model", accuracy(ft_boost=0.4), seeds=(0, 1), n_items=61, name="big",
                        model="other-model")
    markdown = write_report(folder, compare=other).markdown.read_text()
    answer = markdown.split("## The answer")[1].split("\n## ")[0]
    assert "| tiny-model | other-model | the models agree? |" in answer
    rows = {line.split(" | ")[0].strip("| "): line for line in answer.splitlines() if line.startswith("| ")}
    assert re.search(r"\| ICL passed \d+/122; FT passed \d+/122; FT-global passed \d+/122 \| yes \|$",
                     rows["learned check: reversals"])
    assert re.search(r"\| reproduces: ICL > FT on reversals/reversed: \+0\.\d\d \[\+0\.\d\d, \+0\.\d\d\] "
                     r"\| not shown at this size \(MDE 0\.\d\d\) \| no: depends on the model \|$",
                     rows["2. ICL generalizes better than FT on reversals (split reversed)."])
    same = write_report(folder).markdown.read_text()  # one model, no comparison: no side-by-side table
    assert "the models agree?" not in same


def test_a_two_model_study_answers_side_by_side_and_names_a_failed_learned_check(tmp_path):
    from hand_made_studies import write_study

    from icft.report.grid.answer import verdicts_by_model
    from icft.report.grid.findings import all_findings
    from icft.report.grid.results import load_study

    folder = tmp_path / "two-models"
    write_study(folder, accuracy(ft_learned=False), model="model-b")  # model-b's FT did not learn its facts
    write_study(folder, accuracy(), model="model-a")
    config = json.loads((folder / "study.json").read_text())
    (folder / "study.json").write_text(json.dumps({**config, "models": ["model-a", "model-b"]}))
    study = load_study(folder)
    table = verdicts_by_model({m: (study.scores[m], all_findings(study.scores[m])) for m in study.models})
    rows = {row[0]: row[1:] for row in table.rows}
    assert table.header == ("", "model-a", "model-b", "the models agree?")
    a, b, agree = rows["learned check: reversal_curse"]
    assert "FT passed" in a and "FT FAILED" in b and agree == "no: depends on the model"
    a, b, agree = rows["2. ICL generalizes better than FT on reversals (split reversed)."]
    assert a.startswith("reproduces: ICL > FT") and b == "invalid" and agree == "no: depends on the model"
    assert "| model-a | model-b | the models agree? |" in write_report(folder).markdown.read_text()


def test_the_fits_table_gives_each_fits_generalization_beside_the_pooled_one(report):
    """Two seeds are two fits: the fine-tuned rows list each fit's mean generalization accuracy, in seed order."""
    _, paths = report
    learned = paths.markdown.read_text().split("### reversals")[1].split("| mode | reversed")[0]
    assert "generalization per fit |" in learned
    ft_row = next(line for line in learned.splitlines() if line.startswith("| FT |"))
    per_fit = ft_row.rstrip(" |").split("|")[-1].strip().split(" / ")
    pooled = float(ft_row.split("|")[-3])
    assert len(per_fit) == 2 and abs(sum(map(float, per_fit)) / 2 - pooled) <= 0.011
    icl_row = next(line for line in learned.splitlines() if line.startswith("| ICL |"))
    assert icl_row.endswith("|  |")  # ICL is no fit
