"""Augmentation: templates, cleaning, the filters and their counts, the output files, the errors."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from icft.commands.augment import run_augment_command
from icft.errors import IcftError
from icft.learn.augment import augment_world, load_augmented
from icft.learn.augment.filters import FILTERS
from icft.learn.augment.settings import AugmentSettings
from icft.learn.augment.templates import load_template, parse_template
from icft.worlds.schema import Document, Fact, World


def tiny_world(documents: list[str] | None = None) -> World:
    texts = documents or [
        "Scientists report that tuvir are more dangerous than pevab.",
        "This is about feran and ukal.\nAll feran are ukal.",
    ]
    return World(
        name="tiny",
        seed=0,
        generator_version="test",
        sizes={},
        documents=[Document(id=f"doc-{i}", text=t) for i, t in enumerate(texts)],
        items=[],
        facts=[Fact("f0", "tuvir", "more_dangerous", "pevab"), Fact("f1", "feran", "all", "ukal")],
    )


class ScriptedGenerator:
    """Hand-written completions: the first key found in a prompt picks the completion."""

    name = "scripted"

    def __init__(self, script: dict[str, str]):
        self.script = script
        self.calls: list[tuple[list[str], str]] = []

    def generate(self, prompts, context, settings):
        self.calls.append((list(prompts), context))
        return [next((out for key, out in self.script.items() if key in p), "") for p in prompts]


LOCAL_SCRIPT = {
    "tuvir are more dangerous": (
        "1. pevab are less dangerous than tuvir.\n"
        "2. **Pevab are less dangerous than tuvir.**\n"  # a duplicate once cleaned
        "- Scientists report that tuvir are more dangerous than pevab.\n"  # the input itself
        "* The sky is blue.\n"  # no world word
        "Pevbab are less dangerous than tuvir.\n"  # a misspelt world word
        "Some tuvir are tuvirs.\n"  # a tautology
        "3.\n"  # empty once cleaned
        "abmes include gruds.\n"  # a few-shot example copied (no world word either)
        + "tuvir " * 50 + "\n"  # too long
        "Statement: a new statement the model made up about tuvir."  # after the stop marker
    ),
    "This is about feran": "Inferences: Some ukal are feran.",
    "All feran are ukal": "All feran are ukal.\nSome ukal are feran.",  # copy of input, then a duplicate
}


def test_local_filters_count_what_they_drop(tmp_path):
    world = tiny_world()
    result = augment_world(world, ScriptedGenerator(LOCAL_SCRIPT), "local", tmp_path / "aug.jsonl", progress=False)
    assert [r["text"] for r in result.records] == ["pevab are less dangerous than tuvir.", "Some ukal are feran."]
    assert result.counts == {
        "requests": 3, "sentences": 12, "kept": 2, "empty": 1, "too_long": 1, "no_world_term": 2, "unknown_word": 1,
        "tautology": 1,
        "copy_of_input": 2, "copy_of_template": 0, "in_train": 0, "duplicate": 2,
    }
    assert result.counts["sentences"] == result.counts["kept"] + sum(result.counts[f] for f in FILTERS)
    first = result.records[0]
    assert first == {
        "text": "pevab are less dangerous than tuvir.", "source_document": "doc-0", "strategy": "local",
        "template": "local", "generator": "scripted",
        "source_sentence": "Scientists report that tuvir are more dangerous than pevab.",
    }


def test_copy_of_template_and_in_train(tmp_path):
    world = tiny_world(["gruds are a type of abmes.", "All feran are ukal."])
    world.facts.append(Fact("f2", "gruds", "type_of", "abmes"))  # world words that overlap the few-shot examples
    script = {"gruds are a type": "Some abmes are gruds.\nAll feran are ukal.\nabmes hold gruds."}
    result = augment_world(world, ScriptedGenerator(script), "local", tmp_path / "aug.jsonl", progress=False)
    assert result.counts["copy_of_template"] == 1 and result.counts["in_train"] == 1
    assert [r["text"] for r in result.records] == ["abmes hold gruds."]


def test_output_files_and_load_augmented(tmp_path):
    out = tmp_path / "aug.jsonl"
    result = augment_world(tiny_world(), ScriptedGenerator(LOCAL_SCRIPT), "local", out, progress=False)
    lines = out.read_text().splitlines()
    assert [json.loads(line) for line in lines] == result.records
    summary = json.loads((tmp_path / "aug.summary.json").read_text())
    assert summary["counts"] == result.counts and summary["generator"] == "scripted"
    assert load_augmented(out) == [r["text"] for r in result.records]
    first_bytes = out.read_bytes()
    augment_world(tiny_world(), ScriptedGenerator(LOCAL_SCRIPT), "local", out, progress=False)
    assert out.read_bytes() == first_bytes  # same inputs, same bytes


def test_load_augmented_names_the_bad_line(tmp_path):
    path = tmp_path / "aug.jsonl"
    path.write_text('{"text": "pevab are small."}\n{"text": ""}\n')
    with pytest.raises(IcftError, match=r"aug.jsonl:2: field 'text'"):
        load_augmented(path)
    path.write_text('{"text": "pevab are small."}\n{"text": \n')
    with pytest.raises(IcftError, match=r"aug.jsonl:2: malformed JSON"):
        load_augmented(path)


def test_global_puts_every_document_in_the_shared_context(tmp_path):
    world = tiny_world()
    generator = ScriptedGenerator({"tuvir are more": "pevab are less dangerous than tuvir.\nSo ukal are safe."})
    result = augment_world(world, generator, "global", tmp_path / "aug.jsonl", progress=False)
    (prompts, context), = generator.calls
    assert all(d.text in context for d in world.documents)  # encoded once, shared by every request
    assert context.endswith("Now read this passage from the text above:\n")
    assert [p.split("\n\n")[0] for p in prompts] == [d.text for d in world.documents]
    assert [r["text"] for r in result.records] == ["pevab are less dangerous than tuvir.", "So ukal are safe."]
    assert "source_sentence" not in result.records[0]


def test_context_documents_samples_with_the_seed(tmp_path):
    world = tiny_world([f"Note {i}: tuvir are bigger than pevab number {i}." for i in range(6)])
    contexts = []
    for seed in (0, 0, 1):
        generator = ScriptedGenerator({"": "pevab are smaller than tuvir."})
        settings = AugmentSettings(context_documents=2, seed=seed, cache_path=str(tmp_path / f"c{len(contexts)}"))
        augment_world(world, generator, "global", tmp_path / "aug.jsonl", settings, progress=False)
        contexts.append(generator.calls[0][1])
    assert contexts[0] == contexts[1] and contexts[0] != contexts[2]
    assert sum(d.text in contexts[0] for d in world.documents) == 2


def test_nothing_kept_is_an_error_that_suggests_a_fix(tmp_path):
    out = tmp_path / "aug.jsonl"
    with pytest.raises(IcftError, match="kept nothing.*no_world_term 3.*larger generator or a different template"):
        augment_world(tiny_world(), ScriptedGenerator({"": "The sky is blue."}), "local", out, progress=False)
    assert not out.exists()


def test_bad_templates_name_the_placeholder(tmp_path):
    with pytest.raises(IcftError, match=r"unknown placeholder \{sentense\}"):
        parse_template("Rewrite: {sentense}", "local", "mine.txt")
    with pytest.raises(IcftError, match=r"lacks the required placeholder \{documents\}"):
        parse_template("Passage: {document}", "global", "mine.txt")
    with pytest.raises(IcftError, match="literal braces"):
        parse_template("Rewrite {sentence} as {", "local", "mine.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("## {nothing} in comments counts\nSay {sentence} in {style}\n")
    with pytest.raises(IcftError, match=r"unknown placeholder \{style\}"):
        augment_world(tiny_world(), ScriptedGenerator({}), "local", tmp_path / "a.jsonl",
                      AugmentSettings(template=str(bad)), progress=False)


def test_template_splits_into_shared_context_and_prompt():
    template = load_template("global")
    shared = {"documents": "DOC A\n\nDOC B"}
    context, prompt = template.context(shared), template.prompt(shared, {"document": "DOC B"})
    assert context.endswith("\n") and "DOC A\n\nDOC B" in context and "DOC B" in prompt
    assert context + prompt == template._render(template.pieces, {**shared, "document": "DOC B"})
    local = parse_template("## comment\nSay {{this}}:\nStatement: {sentence}\n", "local", "t")
    assert local.context({}) == "Say {this}:\n" and local.prompt({}, {"sentence": "x"}) == "Statement: x\n"


def test_settings_and_command_validation(tmp_path):
    with pytest.raises(IcftError, match="'max_words' must be a positive integer"):
        AugmentSettings(max_words=0)
    with pytest.raises(IcftError, match="unknown augmentation strategy 'both'"):
        run_augment_command(tmp_path, "both", model="smollm2-135m")
    with pytest.raises(IcftError, match="unknown augmentation strategy"):
        augment_world(tiny_world(), ScriptedGenerator({}), "both", tmp_path / "a.jsonl", progress=False)


def test_one_default_set_for_the_command_and_studies(tmp_path, monkeypatch):
    """`icft augment` with its options unset augments with the settings a study's [augment] passes by default."""
    from typer.testing import CliRunner

    import icft.commands.augment as command
    from icft.cli import app
    from icft.study.config import AugmentSpec
    from icft.worlds.io import save_world

    spec = AugmentSpec()
    study = AugmentSettings(max_new_tokens=spec.max_new_tokens, temperature=spec.temperature)  # as a study builds it
    assert study == AugmentSettings()
    assert {AugmentSettings().generation(s).max_new_tokens for s in ("local", "global")} == {spec.max_new_tokens}
    used = []

    def augment_world(world, generator, strategy, out, settings, **_):
        used.append(settings)
        return SimpleNamespace(describe=lambda: "", path=out, summary_path=out)

    monkeypatch.setattr(command, "make_generator", lambda *args: ScriptedGenerator({}))
    monkeypatch.setattr(command, "augment_world", augment_world)
    save_world(tiny_world(), tmp_path / "w")
    for strategy in ("local", "global"):
        result = CliRunner().invoke(app, ["augment", "--world", str(tmp_path / "w"), "--strategy", strategy,
                                          "--model", "m"])
        assert result.exit_code == 0, result.output
    assert used == [AugmentSettings(), AugmentSettings()]
