"""The teacher's targets, its top-k distribution at every token a student example learns, and the loss that reads
them. They are computed (once, and cached) by `icft.evaluate.teacher`, with the ICL scorer's context reuse."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from icft.errors import IcftError


@dataclass(frozen=True)
class TeacherTargets:
    """Per training example (in the order the loop gets them), the teacher's top-k log-probabilities at each
    learned token (its completion and end-of-text), and how the student learns them."""

    ids: list[torch.Tensor]  # (n_i, k) token ids
    logprobs: list[torch.Tensor]  # (n_i, k) log-probabilities at `temperature`
    rest: list[torch.Tensor]  # (n_i,) log of the mass outside the top k
    temperature: float
    ce_weight: float
    seconds: float = 0.0  # what computing them took (0 when read from the cache)

    def __len__(self) -> int:
        return len(self.ids)

    def token_losses(self, logits: torch.Tensor, targets: torch.Tensor, examples: Sequence[int],
                     own_text: torch.Tensor | None = None) -> torch.Tensor:
        """The loss of each learned token (N,): T^2 KL(teacher || student) at temperature T over the teacher's
        top k and the rest of the vocabulary as one outcome, plus `ce_weight` x the next-token loss on the world's
        own text (`own_text` (N,) bool: the documents' tokens, not an augmentation's or a probe's; None: all).

        `logits` (N, V) and `targets` (N,) are the student's at the learned tokens of `examples`, concatenated in
        their order (as the packed rows hold them)."""
        if not examples:
            return logits.new_zeros(0)
        device = logits.device
        ids = torch.cat([self.ids[i] for i in examples]).to(device)  # (N, k)
        teacher = torch.cat([self.logprobs[i] for i in examples]).to(device)  # (N, k)
        teacher_rest = torch.cat([self.rest[i] for i in examples]).to(device)  # (N,)
        scaled = logits.float()
        if self.temperature != 1:  # spares a vocabulary-wide copy per token at the default
            scaled = scaled / self.temperature
        losses = self.temperature ** 2 * _TopKDistillation.apply(scaled, ids, teacher, teacher_rest)
        if self.ce_weight:
            ce = F.cross_entropy(logits.float(), targets, reduction="none")
            losses = losses + self.ce_weight * (ce if own_text is None else ce * own_text)
        return losses

    def check(self, learned_tokens: Sequence[int]) -> None:
        """An `IcftError` when the targets do not cover the examples' learned tokens one for one."""
        counts = [len(r) for r in self.rest]
        if counts != list(learned_tokens):
            raise IcftError(f"the teacher's targets cover {len(counts)} examples ({sum(counts)} tokens) but the "
                            f"fit has {len(learned_tokens)} ({sum(learned_tokens)} tokens): recompute them for "
                            "these examples (delete the study's distill/ folder)")


class _TopKDistillation(torch.autograd.Function):
    """KL(teacher || student) per row, the teacher given as its top-k log-probabilities and the log of the rest's
    mass, the student as logits (N, V); the rest is one outcome of both distributions.

    Written out because autograd's version keeps more vocabulary-wide buffers per token (the gather's scatter, the
    log-sum-exp's softmax, the masked copy, their sums): 3.0x the next-token loss's time against 2.2x here
    (`benchmarks/distill_loss.py`; within a fit's step, 1.32 s against FT's 1.27). Its gradient is one:
    d KL / d z_j = q_j - target_j, where target is the teacher's p_j on its top k and p_rest x q_j / q_rest (the
    rest's mass spread as the student spreads its own) elsewhere.

    q_rest is summed over the rest itself (a log-sum-exp with the top k left out), never as 1 - the top mass: once
    the student is sure, that difference is rounding (fp32 keeps 1 - 1e-8 as 1), and p_rest / q_rest, which
    spreads the rest's mass, then blew the gradient up by orders of magnitude."""

    @staticmethod
    def forward(ctx, logits, ids, teacher, teacher_rest):
        log_q = logits.log_softmax(-1)  # (N, V)
        student = log_q.gather(1, ids)  # (N, k)
        student_rest = rest_logmass(log_q, ids)  # (N,)
        p, p_rest = teacher.exp(), teacher_rest.exp()
        # the rest's term, 0 where the teacher's top k hold all of its mass
        rest = torch.where(p_rest > 0, torch.xlogy(p_rest, p_rest) - p_rest * student_rest, 0.0)
        kl = (p * (teacher - student)).sum(-1) + rest  # (N,)
        ctx.save_for_backward(log_q, ids, p, p_rest, student_rest)
        return kl

    @staticmethod
    def backward(ctx, grad):
        log_q, ids, p, p_rest, student_rest = ctx.saved_tensors
        # q_j - p_rest q_j / q_rest off the top k: q_j (1 - p_rest / q_rest), in logs so a tiny q_rest is exact
        gradient = log_q.exp() - (log_q - student_rest[:, None]).exp_().mul_(p_rest[:, None])  # (N, V)
        gradient.scatter_(1, ids, log_q.gather(1, ids).exp() - p)  # q_j - p_j on it
        return gradient.mul_(grad[:, None]), None, None, None


def rest_logmass(log_probs: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """log of the probability mass outside `ids` (n, k) in each row of `log_probs` (n, V), summed over the other
    tokens themselves, so it is exact however small (1 - the top mass is rounding once a model is sure: fp32 keeps
    1 - 1e-8 as 1); -inf where `ids` hold every token."""
    return log_probs.scatter(1, ids, float("-inf")).logsumexp(-1)
