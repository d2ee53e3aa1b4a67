"""The accuracy-against-time chart reads both kinds of record and refuses others."""

from __future__ import annotations

import json

import pytest

from tlhelpers.bench import chart

COURSE = {"what": "python -m tlhelpers course", "notebooks": [
    {"notebook": "00_setup.ipynb", "seconds": 30.0, "status": "ok", "runs": []},
    {"notebook": "01_scratch.ipynb", "seconds": 90.0, "status": "ok", "runs": [
        {"log": "course", "strategy": "scratch", "note": "plain", "best_val_accuracy": 0.5},
        {"log": "course", "strategy": "scratch", "note": "augmented",
         "best_val_accuracy": 0.6}]},
    {"notebook": "02_fe.ipynb", "seconds": 300.0, "status": "FAILED: x", "runs": [
        {"log": "course", "strategy": "fe", "best_val_accuracy": 0.8}]},
    {"notebook": "03_ft.ipynb", "seconds": 180.0, "status": "ok", "runs": [
        {"log": "03_fine_tuning", "strategy": "fine-tuning", "best_val_accuracy": 0.9}]},
]}
COMMAND = {"runs": [
    {"tlh_home": "empty", "summary": {"strategy": "fine-tuning", "seconds": 600.0,
                                      "val_accuracy": 0.87}},
    {"tlh_home": "empty (converting the weights)", "summary": {
        "strategy": "fine-tuning", "seconds": 300.0, "val_accuracy": 0.9,
        "precision": "bfloat16", "flip": True, "lr": 6e-5, "unfreeze": 2,
        "epochs": 11}},
    {"tlh_home": "empty", "status": "failed", "exit_code": 1},  # no summary
    {"tlh_home": "the previous run's", "summary": {
        "strategy": "fine-tuning", "seconds": 100.0, "val_accuracy": 0.91}},
    {"tlh_home": "empty", "summary": {"strategy": "scratch", "seconds": 120.0,
                                      "val_accuracy": 0.5, "epochs": 3}},
]}


def test_course_points_are_cumulative_and_skip_failed_notebooks():
    points = chart.points_of(COURSE)
    assert [(p.label, p.minutes, p.accuracy) for p in points] == [
        ("course 00-01: scratch (augmented)", 2.0, 0.6),
        ("course 00-03: fine-tuning", 10.0, 0.9)]  # 02 failed: no point


def test_command_points_say_how_they_ran_and_skip_runs_on_a_filled_cache():
    # The third failed, the fourth loaded its passes: neither is a point.
    first, second, scratch = chart.points_of(COMMAND)
    assert first.label == "run fine-tuning: float32 pass, photos only"
    assert (first.minutes, first.accuracy) == (10.0, 0.87)
    assert second.label == ("run fine-tuning: bfloat16 pass, mirrored photos, "
                            "lr 6e-05, top 2 layers, 11 epochs in all")
    assert scratch.label == "run scratch: 3 epochs in all"  # no frozen pass


def test_command_points_name_the_image_size_where_the_run_says_it():
    # From the summary; before summaries had it, from the command's option.
    record = {"runs": [
        {"tlh_home": "empty", "summary": {"strategy": "scratch", "seconds": 60.0,
                                          "val_accuracy": 0.5, "image_size": 224}},
        {"tlh_home": "empty", "command": "python -m tlhelpers run scratch "
         "--image-size 96 --seed 1", "summary": {"strategy": "scratch",
                                                 "seconds": 60.0, "val_accuracy": 0.5}}]}
    assert [p.label for p in chart.points_of(record)] == [
        "run scratch: 224 px", "run scratch: 96 px"]


def test_a_run_that_reports_test_accuracy_is_graded_by_it():
    record = {"runs": [{"tlh_home": "empty", "summary": {
        "strategy": "fine-tuning", "seconds": 660.0, "val_accuracy": 0.93,
        "test_accuracy": 0.91, "seed": 2}}]}
    (point,) = chart.points_of(record)
    assert (point.accuracy, point.kind) == (0.91, "test")
    assert point.label.endswith("seed 2")
    fig = chart.figure([point, *chart.points_of(COMMAND)], "t")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["python -m tlhelpers run (best validation)",
                      "python -m tlhelpers run (held-out test photos)"]


def test_main_writes_the_chart(tmp_path, capsys):
    paths = []
    for name, record in (("course", COURSE), ("command", COMMAND)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(record))
    out = tmp_path / "chart.png"
    assert chart.main([*map(str, paths), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "course 00-03: fine-tuning" in capsys.readouterr().out


def test_main_refuses_a_file_that_is_no_record(tmp_path, capsys):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"goals": {}}))
    assert chart.main([str(other), "--out", str(tmp_path / "c.png")]) == 2
    assert "no 'notebooks' or 'runs' key" in capsys.readouterr().err
    with pytest.raises(ValueError):
        chart.points_of({"goals": {}})


def test_labels_of_crowded_points_do_not_cover_each_other():
    points = [chart.Point(f"run fine-tuning: a long label number {i}", 10 + i * 0.3,
                          0.89 - i * 0.001, "command") for i in range(4)]
    points.append(chart.Point("run fine-tuning: a long label number 0", 11.5, 0.89,
                              "command"))  # the same run again: one label
    points.append(chart.Point("run scratch", 2, 0.5, "command"))  # spreads the axis
    fig = chart.figure(points, "t")
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.texts if t.get_text()]
    assert sorted(t.get_text() for t in labels) == sorted(
        p.label for p in points if p.minutes != 11.5)
    from matplotlib.text import Text

    boxes = [Text.get_window_extent(t, renderer) for t in labels]  # without leader lines
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.overlaps(b)]
    moved = [t for t in labels if t.arrow_patch is not None]
    assert moved  # four labels beside one spot: some moved, joined to their points
