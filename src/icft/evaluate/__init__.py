"""Evaluation: log-likelihood scoring of multiple-choice items and text generation, reusing a shared context;
metrics and the statistics of intervals and paired comparisons; the runner that scores a world in one mode
into the store."""

from icft.evaluate.generation import generate
from icft.evaluate.metrics import SplitSummary, summarize_splits
from icft.evaluate.runner import EvalSummary, evaluate_world
from icft.evaluate.scoring import OptionScores, score_choices
from icft.evaluate.stats import Difference, Estimate, cell_estimate, paired

__all__ = [
    "Difference", "Estimate", "EvalSummary", "OptionScores", "SplitSummary", "cell_estimate", "evaluate_world",
    "generate", "paired", "score_choices", "summarize_splits",
]
