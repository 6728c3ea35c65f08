import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from icft.errors import IcftError
from icft.worlds import check_world, load_world, save_world
from icft.worlds.imported import import_world

EXAMPLE = Path(__file__).parents[2] / "examples" / "byod"


def test_readme_example_imports_and_round_trips(tmp_path):
    world = import_world(EXAMPLE / "documents.jsonl", EXAMPLE / "questions.jsonl")
    assert len(world.documents) == 3 and world.splits == ["recall", "inference", "reversal"]
    assert world.items[0].options[0] == " Dana Quist." and world.items[0].answer == 0
    assert check_world(world) == []
    save_world(world, tmp_path)
    assert load_world(tmp_path) == world


def test_control_splits_are_named_by_the_user_and_must_exist():
    world = import_world(EXAMPLE / "documents.jsonl", EXAMPLE / "questions.jsonl", control_splits=("recall",))
    assert world.control_splits == ("recall",) and world.generalization_splits == ["inference", "reversal"]
    assert import_world(EXAMPLE / "documents.jsonl", EXAMPLE / "questions.jsonl").control_splits == ()
    with pytest.raises(IcftError, match="control split 'recal' has no test items .*recall"):
        import_world(EXAMPLE / "documents.jsonl", EXAMPLE / "questions.jsonl", control_splits=("recal",))


@pytest.mark.parametrize("line, message", [
    ('{"prompt": "x", "options": ["a", "b"], "answer": "c"}', "'answer' 'c' is not one of the options"),
    ('{"prompt": "x", "options": ["a"], "answer": 0}', "at least 2 non-empty strings"),
    ('{"prompt": "x", "options": ["a", "b"], "answer": 2}', "option's index (0 to 1)"),
    ('{"prompt": "x", "options": ["a", "b"]', "malformed JSON"),
    # free-form questions (no options)
    ('{"prompt": "x"}', "missing field 'answer': give the answer's text"),
    ('{"prompt": "x", "answer": "  "}', "'answer' of a free-form question (no 'options') must be a non-empty string"),
    ('{"prompt": "x", "answer": 3}', "'answer' of a free-form question"),
    ('{"prompt": "x", "answer": "y", "aliases": "z"}', "'aliases' must be a list of non-empty strings"),
    ('{"prompt": "x", "answer": "y", "aliases": ["z", 4]}', "'aliases' must be a list of non-empty strings"),
    ('{"prompt": "x", "options": ["a", "b"], "answer": 0, "aliases": ["z"]}', "'aliases' is for free-form questions"),
])
def test_bad_questions_name_the_line_and_the_fix(tmp_path, line, message):
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"prompt": "ok", "options": ["a", "b"], "answer": 0}\n' + line + "\n")
    with pytest.raises(IcftError, match="q.jsonl:2: .*" + re.escape(message)) as error:
        import_world(EXAMPLE / "documents.jsonl", questions)
    assert "\n" not in str(error.value)


def test_cli_import_then_every_command_reads_it(tmp_path):
    def icft(*args):
        return subprocess.run([sys.executable, "-m", "icft.cli", *args], capture_output=True, text=True)

    files = ["--documents", str(EXAMPLE / "documents.jsonl"), "--questions", str(EXAMPLE / "questions.jsonl")]
    run = icft("worlds", "import", *files, "--out", str(tmp_path / "mine"), "--control-split", "recall")
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "mine" / "world.json").read_text())["counts"]["documents"] == 3
    # two recall questions: no mode can pass the learned check, and the import says so in one line
    [warning] = [line for line in run.stdout.splitlines() if line.startswith("warning")]
    assert "control split recall holds 2 items: even 2/2 correct does not pass the learned check" in warning
    checked = icft("worlds", "check", str(tmp_path / "mine"))
    assert checked.returncode == 0 and "ok:" in checked.stdout and "recall*" in checked.stdout
    # the recall questions repeat the documents: as a generalization split, the shortcut audit flags them
    icft("worlds", "import", *files, "--out", str(tmp_path / "plain"))
    flagged = icft("worlds", "check", str(tmp_path / "plain"))
    assert flagged.returncode == 1 and "shortcut above chance: recall/" in flagged.stdout
    assert "--control-split" in flagged.stdout.splitlines()[-1]


KB = Path(__file__).parents[2] / "examples" / "kb"


def test_free_form_questions_import_beside_multiple_choice_and_round_trip(tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"prompt": "Orvel is led by", "answer": "Dana Quist", "aliases": ["Dana", "Dana Quist"], "split": "recall"}\n'
        '{"prompt": "Orvel is led by", "options": ["Dana Quist.", "Tom Berg."], "answer": 0, "split": "recall"}\n')
    world = import_world(EXAMPLE / "documents.jsonl", questions, control_splits=("recall",))
    free, choice = world.items
    assert free.free_form and not choice.free_form
    assert free.options == () and free.answers == (" Dana Quist", " Dana")  # gold first, repeats dropped, spaced
    assert free.chance == 0.0 and free.continuations == free.answers and choice.continuations == choice.options
    assert check_world(world) == []
    save_world(world, tmp_path / "w")
    assert load_world(tmp_path / "w") == world
    saved = json.loads((tmp_path / "w" / "test.jsonl").read_text().splitlines()[0])
    assert saved["answers"] == [" Dana Quist", " Dana"] and "options" not in saved


def test_documents_from_a_folder_of_text_files_one_each_in_sorted_order(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "b-second.md").write_text("# B\n\nThe second document.\n")
    (folder / "a-first.txt").write_text("The first document.\n")
    (folder / "notes.json").write_text("{}")  # neither .txt nor .md: not a document
    (folder / ".hidden.md").write_text("an editor's backup")
    world = import_world(folder, EXAMPLE / "questions.jsonl", name="mine")
    assert [(d.id, d.text) for d in world.documents] == [("a-first", "The first document."),
                                                         ("b-second", "# B\n\nThe second document.")]
    again = import_world(folder, EXAMPLE / "questions.jsonl", name="mine")
    assert again == world and again.sizes["sha256"] == world.sizes["sha256"]
    (folder / "a-first.txt").write_text("The first document, edited.\n")
    assert import_world(folder, EXAMPLE / "questions.jsonl", name="mine").sizes["sha256"] != world.sizes["sha256"]


def test_a_folder_without_documents_or_with_a_bad_file_is_a_one_line_error(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    with pytest.raises(IcftError, match="holds no .txt or .md files"):
        import_world(folder, EXAMPLE / "questions.jsonl")
    (folder / "data.csv").write_text("a,b")
    with pytest.raises(IcftError, match="holds no .txt or .md files"):
        import_world(folder, EXAMPLE / "questions.jsonl")
    (folder / "binary.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(IcftError, match=r"binary.txt: cannot be read as UTF-8 text .*save it as UTF-8"):
        import_world(folder, EXAMPLE / "questions.jsonl")
    (folder / "binary.txt").write_text("   \n")
    with pytest.raises(IcftError, match="binary.txt is empty"):
        import_world(folder, EXAMPLE / "questions.jsonl")
    (folder / "binary.txt").write_text("text")
    (folder / "binary.md").write_text("text")
    with pytest.raises(IcftError, match="two files are named 'binary'"):
        import_world(folder, EXAMPLE / "questions.jsonl")


def test_the_kb_example_imports_from_its_folder_with_both_kinds_of_question():
    world = import_world(KB / "documents", KB / "questions.jsonl", name="kb", control_splits=("recall",))
    assert len(world.documents) == 12 and world.documents[0].id == "dremholt"
    assert world.splits == ["recall", "rephrased", "reversed", "two_hop"]
    for split in world.splits:
        kinds = {item.free_form for item in world.items_in(split)}
        assert kinds == {True, False}, split
    assert check_world(world) == []


def test_the_kb_example_has_enough_control_questions_for_a_mode_to_pass(tmp_path):
    from icft.evaluate.learned import fewest_to_pass

    world = import_world(KB / "documents", KB / "questions.jsonl", name="kb", control_splits=("recall",))
    recall = world.items_in("recall")
    assert len(recall) >= 30 and fewest_to_pass(len(recall)) <= len(recall) - 3  # three misses may still pass
    assert all(len(world.items_in(split)) >= 12 for split in world.generalization_splits)
    # the correct option is not always in one place, so no position wins
    positions = {item.answer for item in world.items if not item.free_form}
    assert len(positions) == 3
    from icft.worlds.audit import audit_world, failures

    assert failures(audit_world(world)) == []
