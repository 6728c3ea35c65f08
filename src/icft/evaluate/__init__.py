"""Evaluation: log-likelihood scoring of multiple-choice items and text generation, reusing a shared context;
metrics with bootstrap confidence intervals; the runner that scores a world in one mode into the store."""

from icft.evaluate.generation import generate
from icft.evaluate.metrics import Estimate, SplitSummary, estimate, pooled_estimate, summarize_splits
from icft.evaluate.runner import EvalSummary, evaluate_world
from icft.evaluate.scoring import OptionScores, score_choices

__all__ = [
    "Estimate", "EvalSummary", "OptionScores", "SplitSummary", "estimate", "evaluate_world", "generate",
    "pooled_estimate", "score_choices", "summarize_splits",
]
