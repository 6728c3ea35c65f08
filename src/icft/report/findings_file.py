"""findings.json, beside either kind of report: the rules' settings, every finding of every model with all its
cases (`case_record`), and what the study kind adds (an ICL-vs-FT study: every cell's scores and the answer per
split, `icft.report.grid.answer`)."""

from __future__ import annotations

import json
import math

from icft.evaluate.learned import rule_text
from icft.evaluate.stats import ALPHA, ASSUMED_DISCORDANCE, ASSUMED_FIT_SD, ASSUMED_PROB_SD, POWER, PRIMARY_METRIC
from icft.report.cases import Case, primary
from icft.report.verdicts import MARGIN, Finding

FINDINGS_FILE = "findings.json"


def findings_json(name: str, kind: str, findings: dict[str, list[Finding]], cells: list[dict] | None = None,
                  answers: list[dict] | None = None) -> str:
    """findings.json: the rules' settings, then every finding of every model with all its cases, then (given) every
    cell's scores (`cells`), then (worlds findings 2-8 do not name) the answer per split, where the knowledge
    should go (`answers`)."""
    record = {
        "study": name, "kind": kind, "alpha": ALPHA, "power": POWER, "margin": MARGIN,
        "assumed_discordance_before_a_run": ASSUMED_DISCORDANCE,
        "primary_metric": PRIMARY_METRIC, "assumed_p_correct_sd_before_a_run": ASSUMED_PROB_SD,
        "assumed_between_fit_sd_before_a_run_or_with_one_fit": ASSUMED_FIT_SD,
        "learned_check": rule_text(),
        "findings": [{"model": model, "number": f.number, "claim": f.claim, "verdict": f.verdict,
                      "sentence": f.sentence, "cases": [case_record(c, model) for c in f.cases]}
                     for model, found in findings.items() for f in found],
    }
    if cells is not None:
        record["cells"] = cells
    if answers:
        record["answers"] = answers
    return json.dumps(record, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def case_record(case: Case, model: str) -> dict:
    """One case as JSON: `diff` is A - B (mean over seeds of the mean paired item difference), or A - chance,
    or the difference of normalized gains; b and c are the discordant counts (A right and B wrong, and the
    reverse); ci_low and ci_high its 95% interval (90% against chance, as TOST uses)."""
    prob, accuracy, known = case.prob, case.accuracy, case.known
    return {
        "finding": case.finding, "claim": case.claim, "model": model, "world": case.world, "split": case.split,
        "mode_a": case.a, "mode_b": case.b, "world_b": case.world_b, "split_b": case.split_b,
        "train_size": case.size, "seeds": case.seeds, "n": case.n, "b": case.discordant_b, "c": case.discordant_c,
        "diff": json_number(case.diff), "ci_low": json_number(case.ci_low), "ci_high": json_number(case.ci_high),
        "p": json_number(case.p), "p_holm": json_number(case.p_holm), "mde": json_number(case.mde),
        "margin": case.margin,
        "verdict": case.verdict, "note": case.note,
        "p_correct_diff": json_number(prob.diff) if prob else None,
        "p_correct_ci_low": json_number(prob.low) if prob else None,
        "p_correct_ci_high": json_number(prob.high) if prob else None,
        "metric": case.metric if case.b is not None and case.world_b is None else "accuracy",
        "accuracy_diff": json_number(accuracy.diff) if accuracy else None,
        "accuracy_ci_low": json_number(accuracy.low) if accuracy else None,
        "accuracy_ci_high": json_number(accuracy.high) if accuracy else None,
        "accuracy_p": json_number(accuracy.p) if accuracy else None,
        "accuracy_mde": json_number(accuracy.mde) if accuracy else None,
        # on the items whose facts both modes know (their control items answered), in the case's metric
        "known_n": known.n if known else None,
        "known_diff": json_number(known.diff) if known else None,
        "known_ci_low": json_number(known.low) if known else None,
        "known_ci_high": json_number(known.high) if known else None,
        "known_p": json_number(known.p) if known else None,
        # the fit as a sampled unit (a fine-tuned side): each fit's (seed's) difference in the case's metric, and
        # the between-fit variance its interval and p count (assumed where there is one fit)
        **_fit_record(case),
    }


def _fit_record(case: Case) -> dict:
    found = primary(case) if case.b is not None and case.world_b is None else None
    if found is None or found.between_fit_var is None:
        return {"fits": None, "per_fit_diff": None, "between_fit_var": None, "between_fit_var_assumed": None}
    return {"fits": len(found.per_fit), "per_fit_diff": [json_number(d) for d in found.per_fit],
            "between_fit_var": json_number(found.between_fit_var), "between_fit_var_assumed": found.fit_var_assumed}


def json_number(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)
