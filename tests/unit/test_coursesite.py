"""The course site's parts: which executed copies it takes, how a lesson is made a page,
the widget renderer's tarball, the CLI pages and the checks of a built site."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import nbformat
import pytest

from tlhelpers.coursesite import build, check, pages, widget_renderer
from tlhelpers.data.archive import DownloadError


def notebook(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def lesson_and_copy(tmp_path, name="03_lesson.ipynb", *, outputs=()):
    notebooks, course = tmp_path / "notebooks", tmp_path / "course"
    notebooks.mkdir(exist_ok=True)
    course.mkdir(exist_ok=True)
    source = notebook(nbformat.v4.new_markdown_cell("# Lesson"),
                      nbformat.v4.new_code_cell("print(42)"))
    nbformat.write(source, notebooks / name)
    ran = nbformat.read(notebooks / name, as_version=4)
    ran.cells[1].outputs = list(outputs)
    nbformat.write(ran, course / name)
    return notebooks, course


def test_a_current_executed_copy_is_taken(tmp_path):
    notebooks, course = lesson_and_copy(tmp_path, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="42\n")])
    assert pages.lesson_pairs(notebooks, course) == [
        (notebooks / "03_lesson.ipynb", course / "03_lesson.ipynb")]


def test_a_missing_copy_names_the_course_run_that_makes_it(tmp_path):
    notebooks, course = lesson_and_copy(tmp_path)
    (course / "03_lesson.ipynb").unlink()
    with pytest.raises(pages.SiteError, match="course --changed` \\(or `--only 03`\\)"):
        pages.lesson_pairs(notebooks, course)


def test_a_copy_older_than_its_notebook_is_refused(tmp_path):
    notebooks, course = lesson_and_copy(tmp_path)
    nb = nbformat.read(notebooks / "03_lesson.ipynb", as_version=4)
    nb.cells[1].source = "print(43)"
    nbformat.write(nb, notebooks / "03_lesson.ipynb")
    with pytest.raises(pages.SiteError, match="executed before 03_lesson.ipynb last changed"):
        pages.lesson_pairs(notebooks, course)


def test_a_copy_whose_run_failed_is_refused(tmp_path):
    notebooks, course = lesson_and_copy(tmp_path, outputs=[nbformat.v4.new_output(
        "error", ename="AssertionError", evalue="the lesson did not show", traceback=[])])
    with pytest.raises(pages.SiteError, match="failed in the course run.*did not show"):
        pages.lesson_pairs(notebooks, course)


def widget_output(model_id: str):
    return nbformat.v4.new_output("display_data", data={
        "text/plain": "HeadPanel(children=(...))",
        pages.WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": model_id}})


def test_a_saved_panel_is_kept_with_a_note_and_a_lost_one_becomes_a_note():
    cell = nbformat.v4.new_code_cell("panel", outputs=[widget_output("kept"),
                                                       widget_output("gone")])
    solution = nbformat.v4.new_code_cell("answer = 1", metadata={"tags": ["solution"]})
    nb = notebook(cell, solution)
    nb.metadata["widgets"] = {pages.WIDGET_STATE: {"state": {"kept": {}}}}
    page = pages.for_the_page(nb)
    kept, kept_note, gone_note = page.cells[0].outputs
    # The text fallback would show instead of nothing: only the view stays.
    assert kept["data"] == {pages.WIDGET_VIEW: {"version_major": 2, "version_minor": 0,
                                                "model_id": "kept"}}
    assert "live in JupyterLab" in kept_note["data"]["text/html"]
    assert "appears when you run" in gone_note["data"]["text/html"]
    assert page.cells[1].metadata["tags"] == ["solution", pages.FOLDED]


def fake_tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_a_renderer_tarball_that_is_not_the_pinned_one_is_refused_and_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("TLH_HOME", str(tmp_path / "home"))
    brought = fake_tarball(tmp_path / "html-manager.tgz", {"package/dist/embed.js": b"x"})
    with pytest.raises(DownloadError, match="is not html-manager 1.0.15"):
        widget_renderer.install(tmp_path / "static", brought)
    assert brought.is_file()  # the learner's file is not deleted
    assert not (tmp_path / "static" / "embed.js").exists()


def test_with_no_network_the_message_says_how_to_bring_the_renderer(tmp_path, monkeypatch):
    monkeypatch.setenv("TLH_HOME", str(tmp_path / "home"))

    def offline(url, dest, **kwargs):
        raise DownloadError(f"could not download {url}: no network")

    monkeypatch.setattr(widget_renderer, "download", offline)
    with pytest.raises(DownloadError, match="site --renderer FILE.tgz"):
        widget_renderer.tarball()


def test_install_takes_only_the_script_fonts_and_licence(tmp_path, monkeypatch):
    tgz = fake_tarball(tmp_path / "t.tgz", {
        "package/dist/embed.js": b"script", "package/dist/a.woff2": b"font",
        "package/dist/embed.js.LICENSE.txt": b"licences", "package/dist/embed.js.map": b"m",
        "package/dist/libembed-amd.js": b"other", "package/lib/index.js": b"lib"})
    monkeypatch.setattr(widget_renderer, "tarball", lambda brought=None: tgz)
    script = widget_renderer.install(tmp_path / "static")
    assert script.read_bytes() == b"script"
    assert sorted(p.name for p in (tmp_path / "static").iterdir()) == [
        "a.woff2", "embed.js", "embed.js.LICENSE.txt"]


def test_a_command_page_holds_its_help():
    page = pages.command_page("doctor")
    assert page.startswith("# `doctor`")
    assert "usage: python -m tlhelpers doctor" in page
    assert "--timeout" in page


def test_the_front_page_lists_every_section_in_a_table_of_contents():
    text = pages.front_page("# Course\n", {"Lessons": ["notebooks/00_a"], "More": []})
    assert ":caption: Lessons" in text and "notebooks/00_a" in text
    assert ":caption: More" not in text  # an empty section has no heading


def test_guides_come_in_the_order_the_readme_links_them(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for stem in ("a_last", "setup", "course_map", "zz_unlinked"):
        (docs / f"{stem}.md").write_text(f"# {stem}\n")
    readme = ("[s](docs/setup.md) [m](docs/course_map.md) [s again](docs/setup.md#x) "
              "[z](docs/a_last.md)")
    assert pages.stage_guides(docs, tmp_path / "staged", readme) == [
        "staged/setup", "staged/course_map", "staged/a_last", "staged/zz_unlinked"]


def test_linked_files_are_copied_and_markdown_ones_become_pages(tmp_path):
    root, src = tmp_path / "root", tmp_path / "src"
    (root / "bench" / "results").mkdir(parents=True)
    (root / "bench" / "README.md").write_text("[r](results/r.json)\n")
    (root / "bench" / "results" / "r.json").write_text("{}")
    (root / "notebooks").mkdir()
    (root / "notebooks" / "00_x.ipynb").write_text("{}")
    src.mkdir()
    (src / "index.md").write_text("[b](bench/README.md) [n](notebooks/00_x.ipynb) "
                                  "[web](https://example.org) [a](#top)\n")
    assert build.copy_linked_files(root, src) == ["bench/README"]
    assert (src / "bench" / "results" / "r.json").is_file()  # linked from the copied page
    assert not (src / "notebooks" / "00_x.ipynb").exists()  # never an unexecuted lesson


def test_the_site_checks_find_broken_links_and_network_loads(tmp_path):
    (tmp_path / "img.png").write_bytes(b"")
    (tmp_path / "index.html").write_text(
        '<a href="page.html#x">missing</a><img src="img.png"><a href="#top">here</a>'
        '<script src="https://cdn.example.org/x.js"></script>'
        '<a href="https://example.org">a link only</a>'
        '<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    assert check.broken_links(tmp_path) == ["index.html: page.html#x"]
    assert check.remote_loads(tmp_path) == ["index.html: https://cdn.example.org/x.js"]
