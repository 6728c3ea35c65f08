"""Evaluation: log-likelihood scoring of multiple-choice items, reusing a shared context; task scoring;
metrics and the statistics of intervals and paired comparisons; the comparisons the findings plan (`plan`); the
runner that scores a world in one mode into the store.

The names below load on first use, so the report (which reads `icft.evaluate.stats`) never imports torch.
"""

from icft._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "SplitSummary": "metrics", "summarize_splits": "metrics", "EvalSummary": "runner",
    "evaluate_world": "runner", "OptionScores": "scoring", "score_choices": "scoring", "Difference": "stats",
    "Estimate": "stats", "cell_estimate": "stats", "paired": "stats",
})
