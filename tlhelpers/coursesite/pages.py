"""The site's sources: executed lessons made ready for a static page, guides, CLI pages.

Used by `python -m tlhelpers site`. A lesson comes from the executed copy a
course run left; it is refused, with the command that fixes it, when it is
missing, older than its notebook, or failed in that run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
LIVE_NOTE = ("<p class=\"live-panel-note\">This panel is live in JupyterLab: run the "
             "notebook to use it. Here it shows how it looked after the course run.</p>")
GONE_NOTE = ("<p class=\"live-panel-note\">A panel was here: it appears when you run the "
             "notebook in JupyterLab.</p>")
# myst-nb folds a code cell tagged so under a <details> element, closed.
FOLDED = "hide-cell"


class SiteError(RuntimeError):
    """The site cannot be built from what is there; the message names the fix."""


def copy_problem(source: Path, copy: Path) -> str | None:
    """Why `copy` is not a current, successful run of `source`; None when it is."""
    if not copy.is_file():
        return f"{source.name} has no executed copy in {copy.parent}"
    ran = nbformat.read(copy, as_version=4)
    if code_of(ran) != code_of(nbformat.read(source, as_version=4)):
        return f"{copy} was executed before {source.name} last changed"
    failed = [o for c in ran.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if failed:
        return (f"{source.name} failed in the course run ({failed[0].get('ename')}: "
                f"{failed[0].get('evalue', '')[:120]})")
    return None


def lesson_pairs(notebooks: Path, executed: Path) -> list[tuple[Path, Path]]:
    """Each lesson beside its executed copy, checked to be current and complete."""
    pairs = []
    for source in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")):
        problem = copy_problem(source, executed / source.name)
        if problem:
            raise SiteError(f"{problem}: run `python -m tlhelpers course --changed` "
                            f"(or `--only {source.name[:2]}`), then build the site again")
        pairs.append((source, executed / source.name))
    if not pairs:
        raise SiteError(f"no notebooks named NN_*.ipynb in {notebooks}")
    return pairs


def code_of(nb) -> list[tuple[str, str]]:
    """What a run depends on: each cell's type and source."""
    return [(cell.cell_type, cell.source) for cell in nb.cells]


def for_the_page(nb):
    """The executed notebook as the page shows it: panels kept or noted, solutions folded."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "solution" in cell.metadata.get("tags", []):
            cell.metadata["tags"] = [*cell.metadata["tags"], FOLDED]
        outputs = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(output)
                continue
            # The view's model must be in the saved state, or the renderer draws
            # an empty box; the text fallback ("HeadPanel(children=...") is no panel.
            drawn = view.get("model_id") in state
            if drawn:
                output["data"] = {WIDGET_VIEW: view}
                outputs.append(output)
            outputs.append(nbformat.v4.new_output(
                "display_data", data={"text/html": LIVE_NOTE if drawn else GONE_NOTE}))
        cell.outputs = outputs
    return nb


def stage_lessons(pairs, target: Path) -> list[str]:
    """Write each lesson's page source under `target`; returns their document names."""
    target.mkdir(parents=True, exist_ok=True)
    names = []
    for source, copy in pairs:
        nb = for_the_page(nbformat.read(copy, as_version=4))
        nbformat.write(nb, target / source.name)
        names.append(f"{target.name}/{source.stem}")
    return names


def command_page(command: str) -> str:
    """A page with the command's own `--help`, as a terminal prints it."""
    done = subprocess.run([sys.executable, "-m", "tlhelpers", command, "--help"],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not done.stdout.strip():
        raise SiteError(f"`python -m tlhelpers {command} --help` failed: "
                        f"{(done.stderr or done.stdout).strip()[-300:]}")
    return (f"# `{command}`\n\n```text\n$ python -m tlhelpers {command} --help\n"
            f"{done.stdout.rstrip()}\n```\n")


def stage_commands(commands, target: Path) -> list[str]:
    """One page per CLI command, from its `--help`; returns their document names."""
    target.mkdir(parents=True, exist_ok=True)
    names = []
    for command in commands:
        (target / f"{command}.md").write_text(command_page(command), encoding="utf-8")
        names.append(f"{target.name}/{command}")
    return names


def stage_guides(docs: Path, target: Path, readme: str) -> list[str]:
    """The Markdown pages of docs/ and their images; returns their document names.

    They come in the order the README links them; a page it does not link comes last.
    """
    shutil.copytree(docs, target, dirs_exist_ok=True)
    linked = [Path(t).stem for t in linked_files(readme) if t.startswith(f"{docs.name}/")]
    rank = {stem: i for i, stem in reversed(list(enumerate(linked)))}
    pages = sorted(target.glob("*.md"), key=lambda p: (rank.get(p.stem, len(rank)), p.stem))
    return [f"{target.name}/{page.stem}" for page in pages]


def front_page(readme: str, sections: dict[str, list[str]]) -> str:
    """The README as the site's first page, with the table of contents after it."""
    # The README's own badge-free text stays as it is: its links are relative
    # to the repository's root, which the staged sources mirror.
    trees = [f"```{{toctree}}\n:hidden:\n:caption: {caption}\n\n" + "\n".join(names) + "\n```"
             for caption, names in sections.items() if names]
    return readme.rstrip() + "\n\n" + "\n\n".join(trees) + "\n"


def linked_files(text: str) -> list[str]:
    """The relative link targets of a Markdown text (no URLs, no anchors)."""
    found = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t.split("#")[0] for t in found
            if t and not re.match(r"^[a-z]+:", t) and not t.startswith("#")]
