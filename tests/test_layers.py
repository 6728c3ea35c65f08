"""The packages' layers point one way: the store at the bottom, the report reading only what is stored."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "icft"


PACKAGES = {"commands", "evaluate", "learn", "models", "report", "store", "study", "tasks", "worlds"}


def imported_modules(path: Path) -> set[str]:
    """The icft modules a file imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return {n for n in names if n.startswith("icft.")}


def imported_packages(package: str) -> dict[str, set[str]]:
    """For each module of `package`: the icft packages (and top-level modules) it imports."""
    return {str(path.relative_to(SRC)): {n.split(".")[1] for n in imported_modules(path)}
            for path in (SRC / package).rglob("*.py")}


@pytest.mark.parametrize("package, forbidden", [
    ("evaluate", {"study", "commands", "report"}),
    ("store", PACKAGES - {"store", "worlds"}),
    ("learn", {"evaluate", "study", "report", "commands"}),
    ("report", {"models", "commands"}),
    ("study", {"report", "commands"}),  # the dry run's planned comparisons live in evaluate.plan
    ("tasks", PACKAGES - {"tasks", "worlds"}),  # sentence splitting is icft.text; TaskFileSpec lives in tasks
    ("models", PACKAGES - {"models"}),
    ("worlds", PACKAGES - {"worlds"}),
])
def test_lower_layers_import_nothing_above_them(package, forbidden):
    offending = {module: sorted(imports & forbidden) for module, imports in imported_packages(package).items()
                 if imports & forbidden}
    assert offending == {}


def test_the_transfer_runner_shares_a_base_with_the_grid_runner_and_does_not_import_it():
    assert "icft.study.grid" not in imported_modules(SRC / "study" / "transfer.py")
    assert "icft.study.runner_base" in imported_modules(SRC / "study" / "transfer.py")


def imported_wings(folder: str, prefix: str) -> dict[str, set[str]]:
    """For each module under `folder` (a path below icft): the `prefix` subpackages and modules it imports."""
    depth = len(prefix.split("."))
    return {str(path.relative_to(SRC)): {n.split(".")[depth] for n in imported_modules(path)
                                          if n.startswith(prefix + ".") and len(n.split(".")) > depth}
            for path in (SRC / folder).rglob("*.py")}


def test_the_augmentation_wing_never_imports_the_fine_tuning_wing_and_only_the_training_data_reads_it():
    """learn/augment writes texts; learn/finetune trains on them: only `training` (a mode's examples, and the
    oracle's version in a fit's identity) reaches into augment."""
    assert {m: w for m, w in imported_wings("learn/augment", "icft.learn").items() if "finetune" in w} == {}
    readers = {m for m, w in imported_wings("learn/finetune", "icft.learn").items() if "augment" in w}
    assert readers == {"learn/finetune/training.py"}


def test_the_report_wings_share_a_kit_and_never_import_each_other():
    """report/grid (ICL vs FT) and report/transfer each import the shared modules (page, verdicts, cases, folder,
    findings_file), never each other; the shared modules import neither wing, and no module imports another's
    private names."""
    wings = {"grid", "transfer"}
    for wing in wings:
        other = (wings - {wing}).pop()
        crossing = {m: w for m, w in imported_wings(f"report/{wing}", "icft.report").items() if other in w}
        assert crossing == {}
    shared = {path: imported_wings("report", "icft.report")[path] for path in
              (f"report/{name}.py" for name in ("page", "verdicts", "cases", "folder", "findings_file"))}
    assert {m: w & wings for m, w in shared.items() if w & wings} == {}
    private = [(str(path.relative_to(SRC)), node.module, alias.name) for path in SRC.rglob("*.py")
               for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("icft")
               for alias in node.names if alias.name.startswith("_")]
    assert private == []


def test_the_packages_import_each_other_without_a_cycle():
    edges = {package: {p for imports in imported_packages(package).values() for p in imports if p in PACKAGES} - {package}
             for package in PACKAGES}
    done: list[str] = []
    while len(done) < len(edges):  # peel off the packages that import only peeled ones; a cycle never peels
        ready = sorted(p for p in edges if p not in done and edges[p] <= set(done))
        assert ready, f"import cycle among {sorted(set(edges) - set(done))}"
        done += ready


def test_the_report_imports_neither_torch_nor_transformers():
    code = "import sys, icft.report; print(sorted({'torch', 'transformers', 'peft'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_library_errors_name_settings_not_command_line_flags():
    """A study user cannot act on `--subsample`; `subsample` names the setting in a config and a flag alike."""
    import re

    flag = re.compile(r"(?<![\w-])--[a-z]")
    found = []
    for path in SRC.rglob("*.py"):
        if path.name == "cli.py" or path.parent.name == "commands":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                texts = [c.value for c in ast.walk(node.exc) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
                text = re.sub(r"`[^`]*`", "", "".join(texts))  # a whole command in backticks is a hint to run
                if flag.search(text):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert found == []
