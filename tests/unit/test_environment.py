"""environment.yml and pyproject.toml name the same packages."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
SKIP = {"python", "pip"}


def normalise(requirement: str) -> str:
    name = re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0]
    return name.lower().replace("_", "-")


def conda_names() -> set[str]:
    names = set()
    for line in (ROOT / "environment.yml").read_text().splitlines():
        item = re.match(r"^\s*-\s+([^#]+?)\s*(#.*)?$", line)
        if not item or item.group(1).endswith(":") or item.group(1).startswith("-"):
            continue  # section headers and pip options such as `-e .`
        names.add(normalise(item.group(1)))
    return names - SKIP - {"conda-forge"}


def pyproject_names() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return {normalise(r) for r in requirements}


def test_environment_and_pyproject_name_the_same_packages():
    conda, pip = conda_names(), pyproject_names()
    assert "tensorflow" in conda and "nbval" in conda
    assert conda == pip, (f"only in environment.yml: {sorted(conda - pip)}; "
                          f"only in pyproject.toml: {sorted(pip - conda)}")


def test_every_environment_line_says_why():
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if re.match(r"^\s*-\s+[a-z]", line, re.I) and "pip:" not in line:
            assert "#" in line, f"no comment saying why: {line.strip()}"


def test_environment_installs_the_package_itself():
    assert re.search(r"^\s*-\s+-e \.", (ROOT / "environment.yml").read_text(), re.M)
