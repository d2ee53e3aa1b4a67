"""The course site in headless Chromium, opened from the file system with no network.

The fast test builds a site from a small executed course (one lesson with a
panel and a solution) in a repository-like folder; the `exhaustive` one
builds the real site from a course run (`TLH_SITE_COURSE` names the executed
copies of one already made; otherwise it runs the course first).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tlhelpers.coursesite import build, check

ROOT = Path(__file__).resolve().parents[2]

PANEL = """import ipywidgets as widgets
from IPython.display import display
out = widgets.Output()
with out:
    print("trained 3 epochs")
display(widgets.VBox([widgets.IntSlider(value=4, description="unfreeze"),
                      widgets.Button(description="Train"), out]))"""


def tiny_course(root: Path) -> Path:
    """A repository-like folder: README, one docs page, one lesson and its executed copy."""
    from nbclient import NotebookClient

    (root / "notebooks").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "README.md").write_text(
        "# A course\n\nStart with [the lesson](notebooks/00_panel.ipynb); "
        "see [the guide](docs/guide.md).\n", encoding="utf-8")
    (root / "docs" / "guide.md").write_text(
        "# Guide\n\nBack to [the lesson](../notebooks/00_panel.ipynb).\n", encoding="utf-8")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A lesson with a panel"),
                nbformat.v4.new_code_cell(PANEL),
                nbformat.v4.new_markdown_cell("## Exercise\n\nWhat is 6 times 7?"),
                nbformat.v4.new_code_cell("answer = 6 * 7\nanswer",
                                          metadata={"tags": ["solution"]})]
    nbformat.write(nb, root / "notebooks" / "00_panel.ipynb")
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()  # keeps widget state
    (root / "course").mkdir()
    nbformat.write(nb, root / "course" / "00_panel.ipynb")
    return root


def open_offline(chromium, index: Path | str, allowed: str = "file:"):
    """A page on `index` that may load only from `allowed`; what else it asked for is kept."""
    context = chromium.new_context(viewport={"width": 1300, "height": 1000})
    requests: list[str] = []

    def only_files(route):
        if route.request.url.startswith(allowed):
            route.continue_()
        else:
            requests.append(route.request.url)
            route.abort()

    context.route("**/*", only_files)
    page = context.new_page()
    console: list[str] = []
    # Errors only: the renderer's schema validator warns about its own schema.
    page.on("console", lambda m: console.append(f"[{m.type}] {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
    page.goto(index.as_uri() if isinstance(index, Path) else index)
    page.wait_for_load_state("load")
    return context, page, requests, console


def rendered_panels(page) -> list[dict]:
    """Each widget area's size and whether the renderer drew controls in it."""
    page.wait_for_timeout(500)  # the renderer draws after load
    return page.eval_on_selector_all(
        "script[type='application/vnd.jupyter.widget-view+json']",
        """tags => tags.map(tag => {
             const area = tag.parentElement;
             const box = area.getBoundingClientRect();
             return {height: box.height,
                     controls: area.querySelectorAll('.widget-button, .widget-slider, '
                       + '.widget-dropdown, .widget-toggle-buttons, .widget-html').length};
           })""")


def assert_lesson_page(page, console, requests, *, panels: bool):
    assert requests == [], f"the page asked the network for {requests}"
    assert console == [], "\n".join(console)
    solutions = page.locator("details.hide")
    assert solutions.count() >= 1, "no folded solution"
    assert not solutions.first.evaluate("d => d.open"), "a solution is open"
    if panels:
        drawn = rendered_panels(page)
        assert drawn, "no panel on the page"
        for panel in drawn:
            assert panel["height"] > 20 and panel["controls"] > 0, f"a blank panel: {drawn}"
        assert page.get_by_text("live in JupyterLab").count() == len(drawn)


@pytest.fixture(scope="module")
def small_site(browser_available, tmp_path_factory) -> Path:
    """The site of the small course, built once for this module's tests."""
    tmp = tmp_path_factory.mktemp("small-site")
    root = tiny_course(tmp / "repo")
    build.stage(root, root / "notebooks", root / "course", tmp / "site-src", commands=["doctor"])
    build.build(tmp / "site-src", tmp / "site")
    return tmp / "site"


def test_a_small_site_opens_offline_with_its_panel_drawn_and_solution_folded(
        chromium, small_site):
    out, index = small_site, small_site / "index.html"
    assert check.broken_links(out) == [] and check.remote_loads(out) == []
    context, page, requests, console = open_offline(chromium, out / "notebooks" / "00_panel.html")
    try:
        assert_lesson_page(page, console, requests, panels=True)
        button = page.locator(".widget-button", has_text="Train")
        assert button.is_visible()
        assert page.locator(".widget-output", has_text="trained 3 epochs").is_visible()
        fold = page.locator("details.hide summary").first
        assert "Solution: open it after trying the exercise" in fold.inner_text()
        fold.click()
        assert page.get_by_text("answer = 6 * 7").is_visible()  # it opens on a click
        page.goto(index.as_uri())
        assert page.locator("a", has_text="the lesson").count() >= 1
        page.goto((out / "search.html").as_uri() + "?q=lesson")
        page.wait_for_selector("#search-results li", timeout=10_000)  # search works offline
        assert requests == [] and console == [], requests + console
    finally:
        context.close()


def test_the_small_site_works_from_a_static_server(chromium, small_site):
    import functools
    import http.server
    import threading

    out = small_site
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        context, page, requests, console = open_offline(
            chromium, base + "notebooks/00_panel.html", allowed=base)
        try:
            assert_lesson_page(page, console, requests, panels=True)
        finally:
            context.close()
    finally:
        server.shutdown()


@pytest.mark.exhaustive
def test_the_course_site_from_a_course_run(chromium, tmp_path):
    course = os.environ.get("TLH_SITE_COURSE")
    if not course:
        course = str(tmp_path / "course")
        subprocess.run([sys.executable, "-m", "tlhelpers", "course", "--out", course],
                       check=True, timeout=3 * 3600)
    out = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "tlhelpers", "site", "--course", course,
                    "--out", str(out)], check=True, timeout=1800)
    lessons = sorted((out / "notebooks").glob("[0-9][0-9]_*.html"))
    assert [p.stem for p in lessons] == [p.stem for p in sorted(
        (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
    for lesson in lessons:
        context, page, requests, console = open_offline(chromium, lesson)
        try:
            assert page.locator("img").count() >= 1, f"{lesson.name}: no figure"
            has_panel = page.locator(
                "script[type='application/vnd.jupyter.widget-view+json']").count() > 0
            has_solution = page.locator("details.hide").count() > 0
            if has_solution:
                assert_lesson_page(page, console, requests, panels=has_panel)
            else:
                assert requests == [] and console == [], requests + console
            if has_panel:
                page.screenshot(path=str(tmp_path / f"{lesson.stem}.png"), full_page=False)
        finally:
            context.close()
