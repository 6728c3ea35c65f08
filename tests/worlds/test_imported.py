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
])
def test_bad_questions_name_the_line(tmp_path, line, message):
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"prompt": "ok", "options": ["a", "b"], "answer": 0}\n' + line + "\n")
    with pytest.raises(IcftError, match="q.jsonl:2: .*" + re.escape(message)):
        import_world(EXAMPLE / "documents.jsonl", questions)


def test_cli_import_then_every_command_reads_it(tmp_path):
    def icft(*args):
        return subprocess.run([sys.executable, "-m", "icft.cli", *args], capture_output=True, text=True)

    files = ["--documents", str(EXAMPLE / "documents.jsonl"), "--questions", str(EXAMPLE / "questions.jsonl")]
    run = icft("worlds", "import", *files, "--out", str(tmp_path / "mine"), "--control-split", "recall")
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "mine" / "world.json").read_text())["counts"]["documents"] == 3
    checked = icft("worlds", "check", str(tmp_path / "mine"))
    assert checked.returncode == 0 and "ok:" in checked.stdout and "recall*" in checked.stdout
    # the recall questions repeat the documents: as a generalization split, the shortcut audit flags them
    icft("worlds", "import", *files, "--out", str(tmp_path / "plain"))
    flagged = icft("worlds", "check", str(tmp_path / "plain"))
    assert flagged.returncode == 1 and "shortcut above chance: recall/" in flagged.stdout
    assert "--control-split" in flagged.stdout.splitlines()[-1]
