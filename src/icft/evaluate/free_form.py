"""Free-form answers: SQuAD exact match and token F1 of a generated answer, and the gold answers' likelihood.

A free-form item (`Item.free_form`) is answered by greedy generation after its prompt, cut at the first line
break or sentence end (". ": a model that read "X was founded by Imra Qell. Its office ..." goes on past the
answer; an answer with an inner ". ", such as "Dr. Smith", needs an alias "Dr") or after `MAX_ANSWER_TOKENS`.
The answer is scored against the gold answer and its aliases with SQuAD's
normalization (lower case, no punctuation, no articles, collapsed white space): exact match and token F1, each
the best over the accepted answers, from torchmetrics' implementation of the official SQuAD v1.1 script.

Paired tests need a continuous per-item score beside the 0/1 one: each accepted answer is also scored as a
continuation of the prompt (`icft.evaluate.scoring`), and `answer_probability` turns the best mean per-token
log-probability into a per-token probability in (0, 1], the free-form counterpart of p(correct).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MAX_ANSWER_TOKENS = 24  # a short answer: a name, a number, a few words
ANSWER_STOPS = ("\n", ". ")


def squad_scores(prediction: str, answers: Sequence[str]) -> tuple[bool, float]:
    """(exact match, token F1 in [0, 1]) of `prediction` against the best of `answers`, SQuAD-normalized."""
    from torchmetrics.functional.text import squad  # imported here: torchmetrics takes a second to load

    if not answers:
        raise ValueError("squad_scores needs at least one accepted answer")
    scores = squad({"prediction_text": prediction, "id": "item"},
                   {"answers": {"answer_start": [0] * len(answers), "text": list(answers)}, "id": "item"})
    return bool(scores["exact_match"].item() == 100.0), float(scores["f1"].item()) / 100.0


def answer_probability(logprobs: Sequence[float], n_tokens: Sequence[int]) -> float:
    """exp of the best mean per-token log-probability over the accepted answers: the geometric mean probability
    of that answer's tokens (1.0 when the model is sure of every token of one accepted answer)."""
    if not logprobs or len(logprobs) != len(n_tokens):
        raise ValueError("answer_probability needs one token count per scored answer")
    return math.exp(max(lp / max(n, 1) for lp, n in zip(logprobs, n_tokens)))
