"""bench/default_profile_study.py: the views it trains on, and its chart by views."""

from __future__ import annotations

import json

import pytest
from benchscript import BENCH, bench_script

RESULTS = BENCH / "results"
WITH_MIRRORS_160 = RESULTS / "2026-12-06-default-profile-study-bfloat16.json"
WITH_MIRRORS_320 = RESULTS / "2026-12-08-default-profile-study-320.json"
PHOTOS_ALONE = RESULTS / "2026-12-08-default-profile-study-no-flip.json"


@pytest.fixture(scope="module")
def study():
    with bench_script("default_profile_study") as module:
        yield module


def test_the_mirror_images_are_on_unless_no_flip_is_given(study):
    assert study.parse_args([]).flip is True
    assert study.parse_args(["--no-flip"]).flip is False


def test_a_record_is_not_resumed_with_other_views(study, tmp_path, monkeypatch, capsys):
    record = json.loads(WITH_MIRRORS_320.read_text())
    out = tmp_path / "study.json"
    out.write_text(json.dumps(record))
    monkeypatch.setenv("TLH_HOME", str(tmp_path / "home"))
    assert study.main(["--resume", "--no-flip", "--out", str(out),
                       "--chart", str(tmp_path / "chart.png")]) == 2
    assert "flip_train=True" in capsys.readouterr().err
    assert json.loads(out.read_text()) == record  # the record is left as it was
    assert not (tmp_path / "chart.png").exists()


def test_the_records_make_one_series_per_views(study):
    records = [json.loads(p.read_text())
               for p in (WITH_MIRRORS_160, WITH_MIRRORS_320, PHOTOS_ALONE)]
    series = study.views_series(records)
    assert sorted(series) == [False, True]
    for flip in (False, True):
        assert [s["per_class"] for s, _ in series[flip]] == [160, 320]
        assert all(len(s["seeds"]) == 3 for s, _ in series[flip])
    # the 160-photo row with mirror images comes from its own record and date
    assert [r["date"] for _, r in series[True]] == ["2026-12-06", "2026-12-08"]


def test_two_records_of_one_size_and_views_are_refused(study):
    record = json.loads(WITH_MIRRORS_320.read_text())
    with pytest.raises(ValueError, match="one record per size and views"):
        study.views_series([record, record])


def test_the_views_chart_is_drawn(study, tmp_path):
    path = tmp_path / "views.png"
    study.main(["--chart-views", str(WITH_MIRRORS_160), str(PHOTOS_ALONE),
                "--chart", str(path)])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
