"""Context distillation: the teacher's top-k targets equal a plain forward's, the loss is the KL it says it is, a
student learns its teacher's distribution, and the targets are cached."""

import dataclasses

import pytest
import torch

from icft.errors import IcftError
from icft.evaluate.scoring import top_k_distributions
from icft.evaluate.teacher import cached_teacher_targets, teacher_targets
from icft.learn.distill import DistillSettings, TeacherTargets, teacher_contexts
from icft.learn.distill.teacher import rest_logmass
from icft.learn.examples import TrainingExample, document_suffix_examples
from icft.learn.finetune import FinetuneConfig, finetune
from icft.learn.icl import IclContext
from icft.models.tokens import Continuation, context_ids
from icft.worlds import build_world
from tiny_models import tiny_model

CONTEXT = "Read the following documents.\n\nfemp are more dangerous than glon.\n\n"
EXAMPLES = [TrainingExample("", "glon are less dangerous than femp."), TrainingExample("", "All glon are yomp."),
            TrainingExample("", "yomp.", teacher_prefix="All troff are ")]
SMALL = dict(row_tokens=64, micro_batch_tokens=64, batch_tokens=128, lr_schedule="constant")


def _naive_logprobs(loaded, ids: list[int], temperature: float) -> torch.Tensor:
    with torch.no_grad():
        logits = loaded.model(input_ids=torch.tensor([ids])).logits[0].float()
    return (logits / temperature).log_softmax(-1)


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_top_k_distributions_are_those_of_a_plain_forward_over_context_and_continuation(temperature):
    loaded = tiny_model()
    tok = loaded.tokenizer
    prefix = context_ids(tok, CONTEXT)
    conts = [Continuation(ids=tuple(tok(t)["input_ids"]), start=s) for t, s in
             (("glon are less dangerous than femp.", 0), ("All glon are yomp.", 2))]
    tops = top_k_distributions(loaded, conts, CONTEXT, top_k=5, temperature=temperature, token_budget=16)
    for cont, top in zip(conts, tops):
        full = _naive_logprobs(loaded, prefix + list(cont.ids), temperature)
        at = torch.arange(cont.start, len(cont.ids)) + len(prefix) - 1  # the positions predicting scored tokens
        values, ids = full[at].topk(5, dim=-1)
        assert top.ids.shape == (len(cont.ids) - cont.start, 5)
        assert torch.equal(top.ids, ids)
        assert torch.allclose(top.logprobs, values, atol=1e-4)
        assert torch.allclose(top.rest.exp() + values.exp().sum(-1), torch.ones(len(at)), atol=1e-4)


def test_the_loss_is_the_exact_kl_when_k_covers_the_vocabulary_and_zero_for_the_teacher_itself():
    torch.manual_seed(0)
    vocab, n = 7, 4
    teacher_logits, student_logits = torch.randn(n, vocab) * 2, torch.randn(n, vocab) * 2
    for temperature in (1.0, 2.0):
        teacher = (teacher_logits / temperature).log_softmax(-1)
        values, ids = teacher.topk(vocab, dim=-1)
        targets = TeacherTargets([ids], [values], [torch.full((n,), float("-inf"))], temperature, 0.0)
        student = (student_logits / temperature).log_softmax(-1)
        exact = (teacher.exp() * (teacher - student)).sum(-1) * temperature ** 2
        got = targets.token_losses(student_logits, torch.zeros(n, dtype=torch.long), [0])
        assert torch.allclose(got, exact, atol=1e-5)
        assert targets.token_losses(teacher_logits, torch.zeros(n, dtype=torch.long), [0]).abs().max() < 1e-5
    # top-k with the rest as one outcome: a lower bound of the full KL (grouping outcomes never raises a KL)
    teacher = teacher_logits.log_softmax(-1)
    values, ids = teacher.topk(3, dim=-1)
    rest = rest_logmass(teacher, ids)
    partial = TeacherTargets([ids], [values], [rest], 1.0, 0.0).token_losses(student_logits, torch.zeros(n).long(), [0])
    full = (teacher.exp() * (teacher - student_logits.log_softmax(-1))).sum(-1)
    assert (partial <= full + 1e-6).all() and (partial > 0).all()


def test_a_student_fit_on_its_teachers_targets_comes_to_answer_as_the_teacher_does(tmp_path):
    teacher_model = tiny_model(seed=3)
    contexts = [IclContext(CONTEXT, "", 1)] * len(EXAMPLES)
    targets = teacher_targets(teacher_model, EXAMPLES, contexts, DistillSettings(top_k=8), progress=False)
    assert len(targets) == 3 and targets.seconds > 0
    student = tiny_model(seed=5)
    result = finetune(student, EXAMPLES, FinetuneConfig(epochs=30, learning_rate=3e-3, **SMALL), tmp_path,
                      progress=False, teacher=targets)
    assert result.epoch_losses[-1] < 0.5 * result.epoch_losses[0]
    # the student alone now puts the teacher's top token first where the teacher (with its context) does
    tok = student.tokenizer
    text = EXAMPLES[0].completion
    ids = tok(text)["input_ids"] + [tok.eos_token_id]
    with torch.no_grad():
        logits = student.model(input_ids=torch.tensor([ids])).logits[0]
    agree = (logits[: len(ids) - 1].argmax(-1) == targets.ids[0][:, 0]).float().mean()
    assert agree > 0.8


def test_targets_that_do_not_match_the_examples_are_refused(tmp_path):
    loaded = tiny_model()
    contexts = [IclContext(CONTEXT, "", 1)] * 2
    targets = teacher_targets(loaded, EXAMPLES[:2], contexts, DistillSettings(top_k=4), progress=False)
    with pytest.raises(IcftError, match="teacher's targets cover 2 examples"):
        finetune(tiny_model(), EXAMPLES, FinetuneConfig(epochs=1, **SMALL), tmp_path, progress=False, teacher=targets)
    with pytest.raises(IcftError, match="recall_target does not apply"):
        finetune(tiny_model(), EXAMPLES[:2], FinetuneConfig(epochs=1, recall_target=0.5, **SMALL), tmp_path,
                 progress=False, teacher=targets)


def test_the_targets_are_cached_and_a_second_call_reads_them(tmp_path, monkeypatch):
    loaded = tiny_model()
    contexts = [IclContext(CONTEXT, "", 1)] * len(EXAMPLES)
    first = cached_teacher_targets(tmp_path, loaded, EXAMPLES, contexts, DistillSettings(top_k=4), progress=False)
    import icft.evaluate.teacher as teacher_module

    monkeypatch.setattr(teacher_module, "teacher_targets", lambda *a, **k: pytest.fail("recomputed"))
    again = cached_teacher_targets(tmp_path, loaded, EXAMPLES, contexts, DistillSettings(top_k=4), progress=False)
    for a, b in zip(first.ids + first.logprobs + first.rest, again.ids + again.logprobs + again.rest):
        assert torch.equal(a.to(b.dtype), b)
    assert len(list(tmp_path.glob("teacher-*.safetensors"))) == 1
    # other settings are other targets
    monkeypatch.undo()
    cached_teacher_targets(tmp_path, loaded, EXAMPLES, contexts, DistillSettings(top_k=4, temperature=2.0),
                           progress=False)
    assert len(list(tmp_path.glob("teacher-*.safetensors"))) == 2


def test_document_suffixes_cut_each_document_at_every_sentence_and_the_teacher_reads_the_prefix():
    world = build_world("syllogisms", seed=0, examples=4, conflicts=1)
    examples = document_suffix_examples(world)
    first = world.documents[0].text
    mine = [e for e in examples if e.teacher_prefix + e.completion == first]
    assert len(mine) == 3 and mine[0].teacher_prefix == "" and mine[0].completion == first
    assert all(e.prompt == "" for e in examples)
    assert len(examples) == sum(len(e.teacher_prefix) == 0 for e in examples) * 3


def test_the_relevant_context_holds_the_documents_that_name_the_sequences_terms():
    world = build_world("reversal_curse", seed=0, people_a=6, people_b=4)
    tok = tiny_model().tokenizer
    doc = world.documents[1]
    name = doc.text.split(" is ")[0]  # "Pefra Ramob"
    example = TrainingExample("", f"The person we mean is {name}.")
    corpus, relevant = (teacher_contexts(world, [example], how, tok, seed=0)[0] for how in ("corpus", "relevant"))
    assert corpus.n_documents == len(world.documents)
    assert 1 <= relevant.n_documents < len(world.documents) and doc.text in relevant.context
    assert all(name.split()[0] in d for d in relevant.context.split("\n\n")[1:-1])
    nothing = teacher_contexts(world, [TrainingExample("", "The weather is fine.")], "relevant", tok, seed=0)[0]
    assert nothing == corpus


def test_settings_out_of_range_are_refused_with_the_key_named():
    for bad, key in ((dict(context="all"), "context"), (dict(temperature=0), "temperature"),
                     (dict(top_k=0), "top_k"), (dict(ce_weight=-1), "ce_weight")):
        with pytest.raises(ValueError, match=key):
            DistillSettings(**bad)
    assert dataclasses.asdict(DistillSettings())["context"] == "corpus"


def test_probes_start_from_terms_the_documents_name_only_late_and_are_no_test_prompt():
    from icft.learn.augment.filters import world_vocabulary
    from icft.learn.distill.probes import probe_prompts

    world = build_world("reversal_curse", seed=0, people_a=6, people_b=4)
    probes = probe_prompts(world)
    assert "The first ledem" in probes  # "Pefra Ramob is the inventor of the first ledem."
    assert "The composer of 'Digup Natok'" in probes  # a quoted title stays whole
    vocabulary = world_vocabulary(world)
    starts = {doc.text.split()[0].lower() for doc in world.documents}
    for probe in probes:
        assert any(w.strip("'").lower() in vocabulary for w in probe.split())
        assert probe.split()[0].lower() not in starts - {"the"}
    # read from the documents alone: a world without its test and control items gives the same probes
    assert probe_prompts(dataclasses.replace(world, items=[])) == probes
    syllogisms = probe_prompts(build_world("syllogisms", seed=0, examples=8, conflicts=3))
    assert syllogisms and all(len(p.split()) == 1 for p in syllogisms)  # "digag, edrit" is no run of one term


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_the_written_out_gradient_equals_autograds_of_the_same_kl(temperature):
    torch.manual_seed(1)
    n, vocab, k = 5, 50, 4
    teacher = (torch.randn(n, vocab) * 3).log_softmax(-1)
    values, ids = teacher.topk(k, dim=-1)
    rest = torch.log1p(-values.exp().sum(-1))
    logits = (torch.randn(n, vocab) * 3).requires_grad_()
    targets = TeacherTargets([ids], [values], [rest], temperature, 0.0)
    targets.token_losses(logits, torch.zeros(n).long(), [0]).sum().backward()
    fused = logits.grad.clone()
    logits.grad = None
    log_q = (logits / temperature).log_softmax(-1)  # the same KL, differentiated by autograd
    student = log_q.gather(1, ids)
    student_rest = torch.log1p(-student.exp().sum(-1))
    kl = (values.exp() * (values - student)).sum(-1) + rest.exp() * (rest - student_rest)
    (temperature ** 2 * kl).sum().backward()
    assert torch.allclose(fused, logits.grad, atol=1e-5)


def test_the_next_token_loss_is_mixed_in_on_the_worlds_own_text_only():
    torch.manual_seed(2)
    n, vocab = 4, 9
    teacher = torch.randn(n, vocab).log_softmax(-1)
    values, ids = teacher.topk(3, dim=-1)
    rest = torch.log1p(-values.exp().sum(-1))
    logits, targets = torch.randn(n, vocab), torch.tensor([1, 2, 3, 4])
    plain = TeacherTargets([ids], [values], [rest], 1.0, 0.0).token_losses(logits, targets, [0])
    own = torch.tensor([True, True, False, False])  # the last two are an augmentation's (or a probe's) tokens
    mixed = TeacherTargets([ids], [values], [rest], 1.0, 0.5).token_losses(logits, targets, [0], own)
    ce = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    assert torch.allclose(mixed, plain + 0.5 * ce * own)
    assert torch.allclose(mixed[2:], plain[2:]) and (mixed[:2] > plain[:2]).all()


def test_a_sure_students_gradient_stays_exact_where_one_minus_its_top_mass_is_rounding():
    """The rest's mass is summed over the rest: a student whose top k hold all but 1e-12 of its mass gets the
    gradient autograd gives the exact KL, not one blown up by 1 - top mass rounding to nothing."""
    torch.manual_seed(3)
    n, vocab, k = 3, 1000, 5
    logits = torch.randn(n, vocab)
    logits[:, :k] += 40.0  # the student is sure: the rest holds ~e^-40 of its mass
    teacher = (torch.randn(n, vocab) * 2).log_softmax(-1)
    values, ids = teacher.topk(k, dim=-1)
    rest = rest_logmass(teacher, ids)
    logits.requires_grad_()
    TeacherTargets([ids], [values], [rest], 1.0, 0.0).token_losses(logits, torch.zeros(n).long(), [0]).sum().backward()
    fused = logits.grad.clone()
    exact = logits.detach().double().requires_grad_()
    log_q = exact.log_softmax(-1)
    student, student_rest = log_q.gather(1, ids), rest_logmass(log_q, ids)
    kl = (values.double().exp() * (values.double() - student)).sum(-1) + rest.double().exp() * (rest.double() - student_rest)
    kl.sum().backward()
    assert torch.isfinite(fused).all() and fused.abs().max() < 2
    assert torch.allclose(fused.double(), exact.grad, atol=1e-5)
