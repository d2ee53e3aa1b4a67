"""Repository rules: notebooks in teaching order, with the frame, without outputs."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NOTEBOOK_NAME = re.compile(r"\b(\d\d_[a-z0-9_]+\.ipynb)\b")


def course_map() -> list[str]:
    """Notebook names in the order the README's course map lists them."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Course map", 1)[1].split("\n## ", 1)[0]
    return notebook_rows(section)


def notebook_rows(markdown: str) -> list[str]:
    """The notebook each table row names, in order."""
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    return [m.group(1) for line in rows if (m := NOTEBOOK_NAME.search(line))]


def whats_next(path: Path) -> str:
    """The markdown after the notebook's "What's next" heading."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return text.split("What's next", 1)[1] if "What's next" in text else ""


def test_the_course_has_its_notebooks_in_teaching_order():
    # The order is listed once, in the README's course map; the file names'
    # numbers must follow it, 00, 01, 02... with none missing or extra.
    listed = course_map()
    assert listed, "README.md has no course map rows naming notebooks"
    assert [name[:2] for name in listed] == [f"{i:02d}" for i in range(len(listed))]
    assert set(listed) == {nb.name for nb in NOTEBOOKS}
    assert len(listed) == len(set(listed)), listed


def test_the_course_map_page_lists_the_readmes_order():
    # docs/course_map.md holds the full table; its first table must name the
    # same notebooks in the same order as the README's short one.
    page = (ROOT / "docs" / "course_map.md").read_text(encoding="utf-8")
    first_table = page.split("\n| ", 1)[1].split("\n\n", 1)[0]
    assert notebook_rows("| " + first_table) == course_map()


@pytest.mark.parametrize("index", range(len(NOTEBOOKS) - 1),
                         ids=lambda i: NOTEBOOKS[i].name)
def test_whats_next_names_the_next_notebook(index):
    order = course_map()
    here, after = order[index], order[index + 1]
    named = NOTEBOOK_NAME.findall(whats_next(ROOT / "notebooks" / here))
    assert named and named[0] == after, \
        f"{here}: What's next names {named[:1] or 'nothing'}, expected {after}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    dirty = [i for i, cell in enumerate(cells) if cell["cell_type"] == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{notebook.name}: cells {dirty} have outputs; run "
                       "`make clean-notebooks` before committing")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_the_course_frame(notebook):
    text = "\n".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]
                     if c["cell_type"] == "markdown")
    for heading in ("What you'll learn", "Prerequisites", "Time to learn",
                    "Key points", "Exercises", "What's next"):
        assert heading.lower() in text.lower(), f"{notebook.name} lacks {heading!r}"



@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_solutions_hide_their_code_and_their_output(notebook):
    # Run All executes the solutions too (nbval must): their printed answers
    # stay collapsed until a learner opens them on purpose.
    cells = json.loads(notebook.read_text())["cells"]
    solutions = [(i, cell) for i, cell in enumerate(cells)
                 if "solution" in cell["metadata"].get("tags", [])]
    starts = [i for i, cell in enumerate(cells) if cell["cell_type"] == "code"
              and "".join(cell["source"]).lstrip().startswith("# Solution")]
    assert [i for i, _ in solutions] == starts, "a solution cell lacks its tag"
    for i, cell in solutions:
        hidden = cell["metadata"].get("jupyter", {})
        assert hidden.get("source_hidden") and hidden.get("outputs_hidden"), (
            f"{notebook.name} cell {i} shows its solution")


def discarded_figures(source: str) -> list[str]:
    """Calls of a `plot_*` helper whose figure nothing shows: a statement of its
    own that is not the cell's last (the helpers return closed figures, which
    Jupyter displays only as the cell's value or through display())."""
    lines = [line for line in source.splitlines()
             if not line.lstrip().startswith(("%", "!"))]
    body = ast.parse("\n".join(lines)).body

    def walk(statements, top):
        for j, statement in enumerate(statements):
            if isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
                continue
            call = getattr(statement, "value", None)
            if (isinstance(statement, ast.Expr) and isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr.startswith("plot_")
                    and not (top and j == len(statements) - 1)):
                yield ast.unparse(statement).split("(")[0]
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    yield from walk(inner, False)

    return list(walk(body, True))


def test_a_figure_not_last_in_its_cell_is_still_displayed():
    shown = "fig = tlh.viz.plot_a(x)\ndisplay(tlh.viz.plot_b(y))\ntlh.viz.plot_c(z)"
    assert discarded_figures(shown) == []
    lost = "tlh.viz.plot_first_filters(model)\nprint('moved')"
    assert discarded_figures(lost) == ["tlh.viz.plot_first_filters"]
    assert discarded_figures("if ok:\n    tlh.viz.plot_a(x)") == ["tlh.viz.plot_a"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_a_lesson_draws_is_displayed(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    lost = {i: found for i, cell in enumerate(cells) if cell["cell_type"] == "code"
            and (found := discarded_figures("".join(cell["source"])))}
    assert not lost, (f"{notebook.name}: cells {lost} draw a figure nothing displays; "
                      "make it the cell's last line or wrap it in display()")


# The `assert` lines a lesson keeps because they teach (the recompile trap);
# every other result check is one labelled `tlh.checks.confirm` per section.
MAX_TEACHING_ASSERTS = 3


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_lessons_carry_no_test_scaffolding(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    code = [(i, "".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "code"]
    markers = [i for i, source in code if "NBVAL" in source]
    assert not markers, f"{notebook.name} cells {markers}: nbval markers read as code"
    asserts = [(i, line.strip()) for i, source in code for line in source.splitlines()
               if line.lstrip().startswith("assert ")]
    in_solutions = [i for i, _ in asserts if "solution" in cells[i]["metadata"].get("tags", [])]
    assert not in_solutions, (f"{notebook.name} cells {in_solutions}: a solution ends "
                              "with its check's verdict (conftest.py fails it when wrong)")
    assert len(asserts) <= MAX_TEACHING_ASSERTS, (
        f"{notebook.name} has {len(asserts)} assert lines; use tlh.checks.confirm: {asserts}")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_says_what_it_practises(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    said = sum("".join(c["source"]).count("Practises:") for c in cells
               if c["cell_type"] == "markdown")
    solutions = sum("solution" in c["metadata"].get("tags", []) for c in cells)
    assert solutions and said >= solutions, (
        f"{notebook.name}: {solutions} exercises with solutions, {said} 'Practises:' lines")


def required_distributions() -> set[str]:
    """pyproject's dependencies and dev extra, normalised (`scikit-learn`, `pillow`)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return {re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower().replace("_", "-")
            for spec in specs}


def test_required_packages_are_imported_not_skipped():
    # importorskip on a package the course requires turns a broken install
    # into skipped tests and a green run; a plain import fails instead.
    from importlib.metadata import packages_distributions

    required = required_distributions()
    owners = packages_distributions()
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"importorskip\(\s*['\"]([\w.]+)['\"]", text):
            top = match.group(1).split(".")[0]
            dists = {d.lower().replace("_", "-") for d in owners.get(top, [top])}
            if dists & required:
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line} "
                                 f"importorskip({match.group(1)!r})")
    assert not offenders, ("required packages must be imported, not skipped: "
                           + "; ".join(offenders))
