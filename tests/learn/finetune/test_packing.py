import pytest
import torch
import torch.nn.functional as F

from icft.errors import IcftError
from icft.learn.examples import TrainingExample
from icft.learn.finetune.packing import IGNORE, TokenizedExample, collate_rows, pack_rows, tokenize_examples
from tiny_models import tiny_model, tiny_tokenizer


def test_prompt_tokens_and_first_token_are_masked():
    tokenizer = tiny_tokenizer()
    [example] = tokenize_examples([TrainingExample("All glon are yomp.", " All troff are glon.")], tokenizer)
    prompt = tokenizer("All glon are yomp.")["input_ids"]
    completion = tokenizer(" All troff are glon.")["input_ids"] + [tokenizer.eos_token_id]
    assert list(example.input_ids) == prompt + completion
    assert list(example.labels) == [IGNORE] * len(prompt) + completion
    assert example.loss_tokens == len(completion)


def test_a_plain_document_learns_every_token_but_the_first():
    tokenizer = tiny_tokenizer()
    [example] = tokenize_examples([TrainingExample("", "femp are more dangerous than glon.")], tokenizer)
    assert example.input_ids[-1] == tokenizer.eos_token_id
    assert example.labels[0] == IGNORE
    assert example.labels[1:] == example.input_ids[1:]


def test_pack_rows_places_every_example_once_within_the_row_budget():
    lengths = [5, 17, 3, 9, 9, 12, 1, 20, 8, 16, 4, 4]
    rows = pack_rows(lengths, row_tokens=20)
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in row) <= 20 for row in rows)
    assert len(rows) == -(-sum(lengths) // 20)  # 108 tokens -> 6 rows: the fewest possible here
    assert pack_rows(lengths, row_tokens=20) == rows  # deterministic


def test_an_example_longer_than_a_row_is_an_error_naming_the_fix():
    with pytest.raises(IcftError, match="example 1 has 30 tokens but a packing row holds 20: raise row_tokens"):
        pack_rows([10, 30], row_tokens=20)


def test_collate_restarts_positions_and_keeps_attention_inside_each_example():
    a = TokenizedExample((5, 6, 7), (IGNORE, 6, 7))
    b = TokenizedExample((8, 9), (IGNORE, 9))
    c = TokenizedExample((4,), (IGNORE,))
    batch = collate_rows([[a, b], [c]], pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7, 8, 9], [4, 0, 0, 0, 0]]
    assert batch.position_ids.tolist() == [[0, 1, 2, 0, 1], [0, 0, 1, 2, 3]]
    assert batch.targets.tolist() == [[6, 7, IGNORE, 9, IGNORE], [IGNORE] * 5]
    assert batch.real_tokens == 6
    allowed = batch.allowed.squeeze(1).int()  # (B, T, T)
    assert allowed[0].tolist() == [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 1, 1],
    ]
    assert allowed[1, 2].tolist() == [0, 1, 1, 0, 0]  # padding sees only earlier padding
    additive = batch.model_inputs("eager")["attention_mask"]  # eager adds the mask to the scores
    assert torch.equal(additive == 0, batch.allowed)
    assert torch.all(additive[~batch.allowed] == torch.finfo(torch.float32).min)


def per_token_loss(model, batch):
    logits = model(**batch.model_inputs(model.config._attn_implementation)).logits  # (B, T, V)
    losses = F.cross_entropy(logits.transpose(1, 2), batch.targets, ignore_index=IGNORE, reduction="none")
    return logits, losses  # (B, T, V), (B, T)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_an_example_scores_the_same_alone_and_packed_between_neighbours(attention):
    loaded = tiny_model()
    loaded.model.set_attn_implementation(attention)
    before, target, after = tokenize_examples(
        [
            TrainingExample("Did you know that", " the gruds are a type of abmes?"),
            TrainingExample("All glon are yomp.", " All troff are glon."),
            TrainingExample("", "hello world, this is a test."),
        ],
        loaded.tokenizer,
    )
    pad = loaded.tokenizer.pad_token_id
    with torch.no_grad():
        alone_logits, alone_loss = per_token_loss(loaded.model, collate_rows([[target]], pad))
        packed_logits, packed_loss = per_token_loss(loaded.model, collate_rows([[before, target, after], [after]], pad))
    span = slice(len(before), len(before) + len(target))
    torch.testing.assert_close(packed_logits[0, span], alone_logits[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(packed_loss[0, span], alone_loss[0], atol=1e-5, rtol=1e-5)
    # the check can fail: without the block mask and restarted positions the neighbour leaks in
    with torch.no_grad():
        leaky = loaded.model(collate_rows([[before, target]], pad).input_ids).logits  # (1, T, V)
    assert not torch.allclose(leaky[0, span], alone_logits[0], atol=1e-3)


def test_flash_attention_gets_position_ids_only_and_they_alone_delimit_examples():
    """What DataCollatorWithFlattening relies on: transformers finds the packed examples from position ids."""
    loaded = tiny_model()
    examples = tokenize_examples([TrainingExample("", "femp are more dangerous than glon."),
                                  TrainingExample("", "All glon are yomp.")], loaded.tokenizer)
    batch = collate_rows([examples], loaded.tokenizer.pad_token_id)
    inputs = batch.model_inputs("flash_attention_2")
    assert set(inputs) == {"input_ids", "position_ids", "use_cache"}
    with torch.no_grad():
        by_positions = loaded.model(**inputs).logits  # (1, T, V)
        by_mask = loaded.model(**batch.model_inputs("sdpa")).logits  # (1, T, V)
    torch.testing.assert_close(by_positions, by_mask, atol=1e-5, rtol=1e-5)


def test_logits_can_be_kept_only_where_there_is_a_target():
    """The loop asks transformers for logits at learned positions only (a boolean `logits_to_keep`)."""
    loaded = tiny_model()
    examples = tokenize_examples([TrainingExample("All glon are yomp.", " All troff are glon."),
                                  TrainingExample("", "Abmes include gruds.")], loaded.tokenizer)
    batch = collate_rows([examples, examples[1:]], loaded.tokenizer.pad_token_id)
    learned = batch.targets != IGNORE  # (B, T)
    with torch.no_grad():
        full = loaded.model(**batch.model_inputs()).logits  # (B, T, V)
        kept = loaded.model(**batch.model_inputs(), logits_to_keep=learned).logits  # (N, V)
    assert kept.shape == (int(learned.sum()), full.shape[-1])
    torch.testing.assert_close(kept, full[learned])
