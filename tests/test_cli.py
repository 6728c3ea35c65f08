"""The command line as a user meets it: real subprocesses, one-line errors, no tracebacks."""

import json
import subprocess
import sys
from pathlib import Path

import pytest


def icft(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "icft.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_build_show_check(tmp_path):
    out = tmp_path / "rev"
    built = icft("worlds", "build", "reversals", "--out", str(out), "--seed", "3", "--size", "facts=6")
    assert built.returncode == 0, built.stderr
    assert json.loads((out / "world.json").read_text())["sizes"]["facts"] == 6
    shown = icft("worlds", "show", str(out))
    assert shown.returncode == 0 and "reversed" in shown.stdout and "rephrased" in shown.stdout
    checked = icft("worlds", "check", str(out))
    assert checked.returncode == 0 and checked.stdout.startswith("ok:")


def test_check_fails_on_a_corrupted_world(tmp_path):
    out = tmp_path / "rev"
    icft("worlds", "build", "reversals", "--out", str(out))
    lines = (out / "test.jsonl").read_text().splitlines()
    item = json.loads(lines[0])
    item["answer"] = 1 - item["answer"]
    lines[0] = json.dumps(item)
    (out / "test.jsonl").write_text("\n".join(lines) + "\n")
    checked = icft("worlds", "check", str(out))
    assert checked.returncode == 1 and "does not follow from the train facts" in checked.stdout


@pytest.mark.parametrize("args, message", [
    (["worlds", "build", "reversls", "--out", "x"], "error: unknown world 'reversls': choose one of reversals"),
    (["worlds", "build", "reversals", "--out", "x", "--size", "fact=3"], "has no size 'fact'"),
    (["worlds", "build", "reversals", "--out", "x", "--size", "facts=abc"], "must look like KEY=INTEGER"),
    (["worlds", "build", "reversals", "--out", "x", "--preset", "huge"], "has no preset 'huge'"),
    (["worlds", "show", "no/such/dir"], "world folder no/such/dir does not exist"),
    (["study", "no-such.toml", "--out", "x"], "study config no-such.toml does not exist"),
    (["eval", "--world", "w", "--mode", "fewshot"], "unknown mode 'fewshot': choose one of pretrained, icl"),
    (["augment", "--world", "w", "--strategy", "sideways", "--model", "m"], "unknown augmentation strategy"),
    (["finetune", "--world", "w", "--out", "o", "--split-sentences", "halves"], "--split-sentences must be one of"),
])
def test_bad_input_is_one_line(tmp_path, args, message):
    result = icft(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_malformed_world_file_names_the_line(tmp_path):
    out = tmp_path / "rev"
    icft("worlds", "build", "reversals", "--out", str(out))
    with (out / "train.jsonl").open("a") as f:
        f.write("{not json\n")
    result = icft("worlds", "check", str(out))
    assert result.returncode == 2 and "train.jsonl:73: malformed JSON" in result.stderr


def test_unknown_model_and_config_typo_are_one_line(tmp_path):
    world = tmp_path / "rev"
    icft("worlds", "build", "reversals", "--out", str(world))
    result = icft("eval", "--world", str(world), "--mode", "pretrained", "--model", "gpt-17", "--db", str(tmp_path / "r.db"))
    assert result.returncode == 2 and "unknown model 'gpt-17'" in result.stderr and "Traceback" not in result.stderr
    config = tmp_path / "s.toml"
    config.write_text('[[worlds]]\nname = "reversals"\n[finetune]\nlerning_rate = 0.1\n')
    result = icft("study", str(config), "--out", str(tmp_path / "s"))
    assert result.returncode == 2 and "unknown key 'lerning_rate'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_transfer_study_dry_run_and_bad_task_file(tmp_path):
    from pathlib import Path

    preset = Path(__file__).parents[1] / "configs" / "transfer.toml"
    dry = icft("study", str(preset), "--out", str(tmp_path / "t"), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "judge/reversals" in dry.stdout and "fticl" in dry.stdout and "4 fine-tunings" in dry.stdout
    (tmp_path / "train.jsonl").write_text('{"input": "a", "output": "b"}\n{"input": "c"\n')
    (tmp_path / "test.jsonl").write_text('{"input": "d", "output": "e"}\n')
    config = tmp_path / "mine.toml"
    config.write_text('kind = "transfer"\n[transfer]\nbuiltin_domains = []\n[[transfer.tasks]]\nname = "echo"\n'
                      'domain = "mine"\nkind = "generation"\ninstruction = "Echo."\n'
                      f'train = "{tmp_path / "train.jsonl"}"\ntest = "{tmp_path / "test.jsonl"}"\n')
    result = icft("study", str(config), "--out", str(tmp_path / "m"))
    assert result.returncode == 2 and "train.jsonl:2: malformed JSON" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "m").exists()
    typo = tmp_path / "typo.toml"
    typo.write_text(preset.read_text().replace('models = ["smollm2-135m"]', 'models = ["smollm2-13m"]'))
    result = icft("study", str(typo), "--out", str(tmp_path / "typo"))
    assert result.returncode == 2 and "unknown model 'smollm2-13m'" in result.stderr
    assert not (tmp_path / "typo").exists()  # nothing recorded: the fixed config runs in the same folder


def test_ctrl_c_says_how_to_resume(monkeypatch, capsys):
    import icft.cli as cli

    def typer_after_ctrl_c():
        raise SystemExit(130)  # what typer makes of a KeyboardInterrupt

    monkeypatch.setattr(cli, "app", typer_after_ctrl_c)
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 130 and "rerun the same command to resume" in capsys.readouterr().err


def test_a_world_size_typo_leaves_the_folder_free_for_the_fixed_config(tmp_path):
    config = tmp_path / "s.toml"
    config.write_text('[[worlds]]\nname = "reversals"\nsizes = { factz = 12 }\n')
    result = icft("study", str(config), "--out", str(tmp_path / "s"))
    assert result.returncode == 2 and "has no size 'factz'" in result.stderr
    assert not (tmp_path / "s").exists()  # nothing recorded: the fixed config runs in the same folder


def test_dry_run_refuses_an_unknown_model_as_the_real_run_does(tmp_path):
    config = tmp_path / "s.toml"
    config.write_text('models = ["gpt-17"]\n[[worlds]]\nname = "reversals"\n')
    result = icft("study", str(config), "--out", str(tmp_path / "s"), "--dry-run")
    assert result.returncode == 2 and "unknown model 'gpt-17'" in result.stderr and "Traceback" not in result.stderr


def test_an_unusable_results_path_is_one_line_before_the_model_loads(tmp_path):
    world = tmp_path / "rev"
    icft("worlds", "build", "reversals", "--out", str(world))
    result = icft("eval", "--world", str(world), "--mode", "pretrained", "--model", "gpt-17",
                  "--db", "/proc/nope/x.db")
    assert result.returncode == 2 and "/proc/nope/x.db is not a usable results database" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_scoring_benchmark_says_what_to_install(tmp_path):
    import importlib.util
    from pathlib import Path

    if importlib.util.find_spec("lm_eval") is not None:
        pytest.skip("lm-eval is installed: the benchmark runs instead of stopping")
    script = Path(__file__).parents[1] / "benchmarks" / "icl_scoring.py"
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == ("icl_scoring compares with lm-evaluation-harness: install it with "
                                     "`pip install -e '.[bench]'` (or pass --lm-eval-items 0 to skip it)")


def test_augment_writes_the_oracles_augmentations_and_refuses_worlds_it_cannot_write(tmp_path):
    from icft.learn.augment import load_augmented
    from icft.learn.augment.oracle import write_oracle
    from icft.worlds.io import load_world

    world = tmp_path / "rev"
    icft("worlds", "build", "reversals", "--out", str(world), "--size", "facts=4")
    written = icft("augment", "--world", str(world), "--strategy", "oracle-local")
    assert written.returncode == 0, written.stderr
    assert "oracle augmentations kept" in written.stdout
    write_oracle(load_world(world), "oracle-local", tmp_path / "direct.jsonl")  # what the library writes
    assert load_augmented(world / "augmented-oracle-local.jsonl") == load_augmented(tmp_path / "direct.jsonl")

    imported = tmp_path / "mine"
    byod = Path(__file__).parents[1] / "examples" / "byod"
    icft("worlds", "import", "--documents", str(byod / "documents.jsonl"), "--questions",
         str(byod / "questions.jsonl"), "--out", str(imported))
    for args, message in (([str(imported), "--strategy", "oracle-global"], "has no facts (an imported world)"),
                          ([str(world), "--strategy", "oracle-local", "--model", "m"], "drop a generator"),
                          ([str(world), "--strategy", "oracle-local", "--temperature", "1"], "drop --temperature")):
        refused = icft("augment", "--world", *args)
        assert refused.returncode == 2 and message in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1


def test_a_binary_file_given_as_augmentations_is_one_line(tmp_path):
    world = tmp_path / "rev"
    icft("worlds", "build", "reversals", "--out", str(world), "--size", "facts=4")
    binary = tmp_path / "cache.sqlite"
    binary.write_bytes(b"SQLite format 3\x00\xf8\xff\x00\x01" * 20)
    result = icft("finetune", "--world", str(world), "--distill", "--augmented", str(binary), "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "is not UTF-8 text: give a JSON-lines file" in result.stderr
    assert "Traceback" not in result.stderr
