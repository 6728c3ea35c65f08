"""The distillation loss's cost per learned token, beside the next-token loss, at Gemma 3's vocabulary, in one run.

    python benchmarks/distill_loss.py                     # 200 tokens x 262,144 vocabulary, top 20, 2 threads
    python benchmarks/distill_loss.py --tokens 400 --threads 1

Forward and backward of one step's loss over random logits (the model's own cost is left out: it is the same for
both losses), timed over `--repeats` after two warm-ups:
  ce          torch's cross-entropy (what FT learns by)
  kl-autograd T^2 KL(teacher || student) over the teacher's top k and the rest, differentiated by autograd
              (three vocabulary-wide buffers per token: the gather's scatter, the log-sum-exp's softmax, their sum)
  kl          the same KL as `icft.learn.distill.TeacherTargets.token_losses` computes it, with its gradient written
              out (q - target), checked here against kl-autograd's
The last line printed is:
  distill_loss: ce_ms=<ms> kl_autograd_ms=<ms> kl_ms=<ms> kl_over_ce=<ratio> max_grad_diff=<float>
"""

from __future__ import annotations

import argparse
import time

import torch


def autograd_kl(logits: torch.Tensor, ids: torch.Tensor, teacher: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
    from icft.learn.distill.teacher import rest_logmass

    log_q = logits.log_softmax(-1)
    student, student_rest = log_q.gather(1, ids), rest_logmass(log_q, ids)
    return (teacher.exp() * (teacher - student)).sum(-1) + rest.exp() * (rest - student_rest)


def timed(fn, logits: torch.Tensor, repeats: int) -> tuple[float, torch.Tensor]:
    for _ in range(2):
        logits.grad = None
        fn().sum().backward()
    start = time.perf_counter()
    for _ in range(repeats):
        logits.grad = None
        fn().sum().backward()
    return (time.perf_counter() - start) / repeats * 1000, logits.grad.clone()


def main() -> None:
    from icft.learn.distill.teacher import rest_logmass
    from icft.learn.distill.teacher import TeacherTargets

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--vocab", type=int, default=262_144)
    parser.add_argument("--top-k", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    logits = (torch.randn(args.tokens, args.vocab) * 3).requires_grad_()
    teacher_logprobs = (torch.randn(args.tokens, args.vocab) * 3).log_softmax(-1)
    values, ids = teacher_logprobs.topk(args.top_k, dim=-1)
    rest = rest_logmass(teacher_logprobs, ids)
    del teacher_logprobs
    targets = torch.randint(0, args.vocab, (args.tokens,))
    written = TeacherTargets([ids], [values], [rest], 1.0, 0.0)
    ce_ms, _ = timed(lambda: torch.nn.functional.cross_entropy(logits, targets, reduction="none"), logits,
                     args.repeats)
    reference_ms, reference_grad = timed(lambda: autograd_kl(logits, ids, values, rest), logits, args.repeats)
    kl_ms, kl_grad = timed(lambda: written.token_losses(logits, targets, [0]), logits, args.repeats)
    diff = float((kl_grad - reference_grad).abs().max())
    print(f"{args.tokens} tokens x {args.vocab} vocabulary, top {args.top_k}, {args.threads} threads: "
          f"ce {ce_ms:.0f} ms, kl (autograd) {reference_ms:.0f} ms, kl (written-out gradient) {kl_ms:.0f} ms")
    print(f"distill_loss: ce_ms={ce_ms:.1f} kl_autograd_ms={reference_ms:.1f} kl_ms={kl_ms:.1f} "
          f"kl_over_ce={kl_ms / ce_ms:.2f} max_grad_diff={diff:.2e}")


if __name__ == "__main__":
    main()
