"""Imports only go downward (DESIGN.md's module table), read from the source.

The function-level imports count too: `config.setup()` once reached up for
the dataset's and the weights' descriptions from inside a function, which made
config, data and weights a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tlhelpers"

# Lower numbers sit lower. atomic (writing a file whole), compat and
# progress import nothing of the package; tflogs, distribute and
# offline_weights import nothing above them (only each other, downward);
# `session` assembles the Setup line from the ones below it.
LAYERS = {
    "atomic": -1,
    "compat": -1,    # Keras/TensorFlow internals, nothing of the package
    "progress": -1,  # tqdm's bar, nothing of the package
    "tflogs": 0,
    "distribute": 1,
    "offline_weights": 0,
    "config": 2,
    "data": 3,
    "weights": 4,
    "session": 5,
}


def tlhelpers_imports(path: Path) -> set[str]:
    """Top-level tlhelpers modules that `path` imports, anywhere in the file."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1]  # the file's package, e.g. ("tlhelpers", "data")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (list(package[:len(package) - node.level + 1]) if node.level
                    else [])
            base += node.module.split(".") if node.module else []
            # `from . import config`: the names are modules themselves.
            targets = ([base + [alias.name] for alias in node.names]
                       if node.module is None else [base])
        else:
            continue
        found.update(t[1] for t in targets if len(t) > 1 and t[0] == "tlhelpers")
    return found


def module_files(name: str) -> list[Path]:
    folder = PACKAGE / name
    return sorted(folder.glob("*.py")) if folder.is_dir() else [PACKAGE / f"{name}.py"]


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_imports_go_downward(name):
    for path in module_files(name):
        upward = {target for target in tlhelpers_imports(path) - {name}
                  if LAYERS.get(target, len(LAYERS)) >= LAYERS[name]}
        assert not upward, (f"{path.relative_to(PACKAGE.parent)} imports "
                            f"{sorted(upward)}, which do not sit below {name}")


def test_the_reader_sees_function_level_and_relative_imports():
    source = PACKAGE / "data" / "registry.py"
    assert "config" in tlhelpers_imports(source)
    assert "data" in tlhelpers_imports(source)  # `.archive`: its own package
    assert {"config", "distribute", "tflogs", "weights", "data"} <= \
        tlhelpers_imports(PACKAGE / "session.py")
