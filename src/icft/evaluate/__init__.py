"""Evaluation: log-likelihood scoring of multiple-choice items, reusing a shared context; task scoring;
metrics and the statistics of intervals and paired comparisons; the runner that scores a world in one mode
into the store.

The names below load on first use, so the report (which reads `icft.evaluate.stats`) never imports torch.
"""

from importlib import import_module

_HOMES = {
    "SplitSummary": "metrics", "summarize_splits": "metrics", "EvalSummary": "runner",
    "evaluate_world": "runner", "OptionScores": "scoring", "score_choices": "scoring", "Difference": "stats",
    "Estimate": "stats", "cell_estimate": "stats", "paired": "stats",
}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)


__all__ = sorted(_HOMES)
