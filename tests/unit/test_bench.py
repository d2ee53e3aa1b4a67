"""The benchmark runs end to end on a tiny folder and reports every figure.

No timing is asserted: the numbers depend on the machine; docs/performance.md
holds them, with their record.
"""

from __future__ import annotations

import json
import mmap
import re

import imagefactory
import numpy as np
import pytest

from tlhelpers import bench

REQUIRED = ("feature_cache_speedup", "prefix_cache_speedup", "head_retrain_seconds",
            "extraction_fraction_of_peak", "extraction_seconds_per_image",
            "extraction_peak_memory_mb", "machine", "weights")


@pytest.mark.slow
def test_bench_on_a_tiny_folder(tmp_path, capsys):
    folder = imagefactory.make_folder(tmp_path / "imgs", ("cats", "dogs"),
                                      per_class=6, layout="split", val_per_class=2)
    out = tmp_path / "results"
    status = bench.main(["--json", "--quiet", "--data", str(folder), "--out",
                         str(out), "--image-size", "32", "--counts", "4,8"])
    assert status == 0
    printed = capsys.readouterr().out.strip().splitlines()
    result = json.loads(printed[-1])
    for key in REQUIRED:
        assert key in result, key
    assert set(result["extraction_seconds_per_image"]) == {"4", "8"}
    assert set(result["extraction_peak_memory_mb"]) == {"4", "8"}
    assert result["machine"]["cpu_count"] >= 1 and result["machine"]["tensorflow"]
    assert result["weights"].startswith("random")
    assert result["prefix_detail"]["reused_on_next_call"] is True
    assert result["prefix_detail"]["stored_layer"] == "block4_pool"
    assert set(result["goals"]) == set(bench.GOALS)
    assert any(line.startswith("feature_cache_speedup") for line in printed)
    check_ratios(result)

    saved = list(out.glob("*.json"))
    assert len(saved) == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\d-[a-z]+-[\w]+-\d+cpu(-\d+gpu)?\.json",
                        saved[0].name), saved[0].name
    assert json.loads(saved[0].read_text())["feature_cache_speedup"] == \
        result["feature_cache_speedup"]


def close(value, expected, rel=0.05, abs_=0.1) -> bool:
    """Equal within the rounding of the saved figures."""
    return value == pytest.approx(expected, rel=rel, abs=abs_)


def check_ratios(result: dict) -> None:
    """Every ratio the benchmark reports is the quotient of the figures it names."""
    cache = result["feature_compute_seconds"] / result["feature_load_seconds"]
    assert close(result["feature_cache_speedup"], cache)
    assert result["feature_compute_seconds"] == pytest.approx(
        result["extraction"][-1]["seconds"], abs=1e-3)
    # Loading stored features beats running VGG16 over the images again.
    assert result["feature_cache_speedup"] > 1

    p = result["prefix_detail"]
    assert p["stored_epoch_seconds"] == pytest.approx(
        sum(p["stored_epoch_seconds_before_after"]) / 2, abs=2e-3)
    assert close(result["prefix_cache_speedup"],
                 p["full_model_epoch_seconds"] / p["stored_epoch_seconds"],
                 rel=0.1)
    assert result["prefix_cache_speedup"] > 0

    gflop = result["conv_gflops_per_image"]
    for e in result["extraction"]:
        # seconds are saved to 1 ms, seconds_per_image to 10 us
        assert e["seconds_per_image"] == pytest.approx(
            e["seconds"] / e["images"], abs=5e-4 / e["images"] + 1e-5)
        assert close(e["gflops_per_second"], gflop * e["images"] / e["seconds"],
                     rel=0.02, abs_=0.1)
        assert e["fraction_of_peak"] == pytest.approx(
            e["gflops_per_second"] / e["peak_gflops_around"], rel=0.05, abs=2e-3)
        assert 0 < e["fraction_of_peak"]
    last = result["extraction"][-1]
    assert result["extraction_fraction_of_peak"] == last["fraction_of_peak"]
    best = result["matmul_gflops"]["best"]
    assert best >= last["peak_gflops_around"] - 0.1
    assert result["extraction_fraction_of_best_peak"] == pytest.approx(
        last["gflops_per_second"] / best, rel=0.05, abs=2e-3)
    for name, goal in result["goals"].items():
        assert goal["value"] == result[name]
        op, target = goal["goal"].split()
        assert goal["met"] == (goal["value"] >= float(target) if op == ">="
                               else goal["value"] <= float(target))


def test_ratio_checks_catch_a_wrong_ratio():
    """The checks above can fail: a speed-up off by its inverse is caught."""
    result = {"feature_compute_seconds": 2.0, "feature_load_seconds": 0.5,
              "feature_cache_speedup": 0.2,
              "extraction": [{"seconds": 2.0}]}
    with pytest.raises(AssertionError):
        check_ratios(result)


def test_vgg16_flops_match_the_published_count():
    from tlhelpers import models

    base = models.load_base("vgg16", weights=None, input_shape=(224, 224, 3))
    # VGG16's 13 convolutions at 224x224: 15.35 G multiply-adds.
    assert bench.conv_flops_per_image(base) == pytest.approx(2 * 15.35e9, rel=0.01)
    smaller = models.load_base("vgg16", weights=None, input_shape=(112, 112, 3))
    assert bench.conv_flops_per_image(smaller) == \
        bench.conv_flops_per_image(base) // 4


def touched_pages(megabytes: int) -> mmap.mmap:
    """Anonymous memory of this size, every page written: resident until closed.

    Not a NumPy array: the allocator may keep a freed array's pages and hand
    them to the next one, so neither the drop nor the rise would reach the
    resident size (CI saw a 0.0 MB rise once, after many tests had run).
    An anonymous mapping is the kernel's own pages, returned when it is closed.
    """
    pages = mmap.mmap(-1, megabytes * 2**20)
    view = np.frombuffer(pages, dtype=np.uint8)
    view[:] = 1
    del view  # the mapping cannot close while a view exports its buffer
    return pages


def test_peak_memory_sees_a_large_array():
    with bench.PeakMemory() as memory:
        block = touched_pages(50)
    assert memory.peak_mb >= 45, memory.peak_mb
    assert memory.method
    block.close()


def test_peak_memory_sees_a_rise_that_freed_memory_hides():
    import time

    # Memory freed inside the block leaves the high-water mark where it was:
    # the rise after it shows only against the lowest size seen before it.
    held = touched_pages(100)
    with bench.PeakMemory() as memory:
        held.close()
        time.sleep(0.2)  # the sampler sees the lower resident size
        block = touched_pages(50)
    assert memory.peak_mb >= 45, memory.peak_mb
    block.close()


def test_synthetic_folder_has_the_requested_layout(tmp_path):
    root = bench.synthetic_folder(tmp_path / "gen", classes=2, train=3, val=1)
    assert sorted(p.name for p in (root / "train").iterdir()) == ["class_0",
                                                                  "class_1"]
    assert len(list((root / "train" / "class_0").glob("*.jpg"))) == 3
    assert len(list((root / "val" / "class_1").glob("*.jpg"))) == 1


@pytest.mark.parametrize("argv, match", [
    (["--counts", "0,10"], "counts"),
    (["--counts", "ten"], "counts"),
    (["--image-size", "16"], "image-size"),
])
def test_bad_options_are_named(argv, match, capsys):
    with pytest.raises(SystemExit):
        bench.parser().parse_args(argv)
    assert match in capsys.readouterr().err


def test_a_missing_data_folder_is_reported(tmp_path, capsys):
    status = bench.main(["--data", str(tmp_path / "nowhere"), "--no-save",
                         "--quiet"])
    assert status == 2
    assert "nowhere" in capsys.readouterr().err
