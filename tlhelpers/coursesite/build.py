"""Sphinx with myst-nb turns the staged sources into the static course site.

Used by `python -m tlhelpers site`. The site is built beside the previous one
and takes its place only when the build succeeded, so a failed build leaves
the last good site where it was.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from . import check, pages, widget_renderer

CONF = '''# Written by `python -m tlhelpers site`; edits are lost at the next build.
project = "Transfer learning with VGG16"
html_title = "Transfer learning with VGG16: a hands-on course"
extensions = ["myst_nb"]
html_theme = "furo"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_copy_source = False
html_show_copyright = False  # the front page's License and credits say who owns what
# The course run executed every lesson; the site shows those outputs.
nb_execution_mode = "off"
# The saved panels are drawn by the renderer copied into _static, not a CDN.
nb_ipywidgets_js = {{"html-manager/{script}": {{}}}}
# Only solutions are folded (pages.FOLDED): the fold says what it hides.
nb_code_prompt_show = "Solution: open it after trying the exercise"
nb_code_prompt_hide = "Hide the solution"
myst_heading_anchors = 3
# Search results show no excerpt: fetching each page for one is refused when
# the site is opened from the file system.
html_show_search_summary = False
exclude_patterns = ["_build"]
'''

CSS = """.live-panel-note { font-size: 0.85em; font-style: italic; opacity: 0.8; }
details.hide > summary { cursor: pointer; }
"""


def stage(root: Path, notebooks: Path, course: Path, src: Path, commands,
          renderer: Path | None = None) -> None:
    """Write every page's source, the configuration and the static files into `src`."""
    pairs = pages.lesson_pairs(notebooks, course)  # first: refuse early, before writing
    shutil.rmtree(src, ignore_errors=True)
    readme = (root / "README.md").read_text(encoding="utf-8")
    lessons = pages.stage_lessons(pairs, src / "notebooks")
    guides = pages.stage_guides(root / "docs", src / "docs", readme)
    cli = pages.stage_commands(commands, src / "cli")
    (src / "index.md").write_text(readme, encoding="utf-8")
    more = copy_linked_files(root, src)
    (src / "index.md").write_text(pages.front_page(readme, {
        "Lessons": lessons, "Guides": guides, "Command line": cli, "More": more}),
        encoding="utf-8")
    script = widget_renderer.install(src / "_static" / "html-manager", renderer)
    (src / "_static" / "course.css").write_text(CSS, encoding="utf-8")
    (src / "conf.py").write_text(CONF.format(script=script.name), encoding="utf-8")


def copy_linked_files(root: Path, src: Path) -> list[str]:
    """What the pages link to from the repository (records, credits, other READMEs).

    Each goes to the same place under `src`. A linked Markdown file becomes a
    page and is searched for links in turn; its document name is returned. A
    notebook is never taken from the repository: unexecuted, it has no outputs.
    """
    extra, todo = [], list(src.rglob("*.md"))
    while todo:
        page = todo.pop()
        for target in pages.linked_files(page.read_text(encoding="utf-8")):
            staged = (page.parent / target).resolve()
            if staged.exists() or not staged.is_relative_to(src.resolve()):
                continue
            original = root / staged.relative_to(src.resolve())
            if not original.is_file() or original.suffix == ".ipynb":
                continue
            staged.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(original, staged)
            if staged.suffix == ".md":
                todo.append(staged)
                extra.append(staged.relative_to(src.resolve()).with_suffix("").as_posix())
    return sorted(extra)


def build(src: Path, out: Path) -> Path:
    """Run Sphinx on `src`; the new site replaces `out` only when every page built cleanly."""
    from sphinx.cmd.build import build_main

    fresh = out.with_name(out.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    # -W: a broken link, a missing image or an unknown cross-reference fails the
    # build instead of shipping a page with a hole in it.
    code = build_main(["-b", "html", "-q", "-W", "--keep-going", "-d",
                       str(src / "_doctrees"), str(src), str(fresh)])
    if code != 0:
        shutil.rmtree(fresh, ignore_errors=True)
        raise pages.SiteError(f"Sphinx could not build the site (exit {code}); the "
                              f"messages above name each page. {out} was left as it was.")
    problems = check.broken_links(fresh) + check.remote_loads(fresh)
    if problems:
        shutil.rmtree(fresh, ignore_errors=True)
        raise pages.SiteError("the built site has broken links or loads from the network:\n  "
                              + "\n  ".join(problems[:20]) + f"\n{out} was left as it was.")
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    fresh.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return out / "index.html"
