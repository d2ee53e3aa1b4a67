"""`tlhelpers.strategies.paired`: two models on the same test photos."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest
from scipy.stats import binomtest

from tlhelpers import config, strategies
from tlhelpers.strategies import paired

STUDY = config.PROJECT_ROOT / paired.STUDY


@pytest.mark.parametrize("only_a, only_b", [(0, 0), (0, 1), (3, 3), (12, 31),
                                            (31, 12), (9, 26), (0, 40), (150, 170)])
def test_mcnemar_matches_scipys_exact_binomial_test(only_a, only_b):
    n = only_a + only_b
    want = 1.0 if n == 0 else binomtest(only_b, n, 0.5).pvalue
    assert paired.mcnemar_exact(only_a, only_b) == pytest.approx(want, rel=1e-9)
    assert paired.mcnemar_exact(only_b, only_a) == paired.mcnemar_exact(only_a, only_b)


def test_mcnemar_refuses_negative_counts():
    with pytest.raises(ValueError, match=">= 0"):
        paired.mcnemar_exact(-1, 3)


def test_comparison_counts_and_gain():
    a = np.array([1, 1, 1, 0, 0, 1, 0, 1, 1, 0], dtype=bool)
    b = np.array([1, 1, 0, 1, 1, 1, 1, 1, 1, 0], dtype=bool)
    cmp = strategies.paired_comparison(a, b, names=("head", "tuned"))
    assert cmp.names == ("head", "tuned") and cmp.n == 10
    assert cmp.accuracy_a == pytest.approx(0.6) and cmp.accuracy_b == pytest.approx(0.8)
    assert cmp.gain == pytest.approx(0.2)
    assert (cmp.only_a, cmp.only_b) == (1, 3)
    assert cmp.p_value == pytest.approx(binomtest(3, 4, 0.5).pvalue)
    assert cmp.ci95[0] <= cmp.gain <= cmp.ci95[1]
    # Seeded: the same interval every time.
    assert strategies.paired_comparison(a, b).ci95 == cmp.ci95


def test_identical_models_have_no_gain_and_p_one():
    a = np.array([True, False, True, True])
    cmp = strategies.paired_comparison(a, a)
    assert cmp.gain == 0 and cmp.ci95 == (0.0, 0.0) and cmp.p_value == 1.0
    assert not cmp.excludes_zero


def test_a_clear_gain_excludes_zero_and_a_loss_too():
    rng = np.random.default_rng(3)
    a = rng.random(400) < 0.75
    b = a.copy()
    b[np.flatnonzero(~a)[:40]] = True   # 40 photos only b gets right
    gain = strategies.paired_comparison(a, b)
    assert gain.excludes_zero and gain.ci95[0] > 0 and gain.p_value < 1e-6
    loss = strategies.paired_comparison(b, a)
    assert loss.excludes_zero and loss.ci95[1] < 0
    assert loss.gain == pytest.approx(-gain.gain)


@pytest.mark.parametrize("a, b", [([1, 0, 1], [1, 0]), ([], []),
                                  ([[1, 0]], [[1, 0]]), ([1, 2, 0], [1, 0, 0])])
def test_bad_inputs_are_refused(a, b):
    with pytest.raises(ValueError):
        strategies.paired_comparison(a, b)


def test_the_same_numbers_as_the_study_record():
    """Same method as bench/default_profile_study.py: its record is reproduced."""
    record = json.loads(STUDY.read_text())
    run = next(r for r in record["runs"] if r["per_class"] == 160 and r["seed"] == 2)
    tuned = next(f for f in run["fine_tuned"] if f["lr"] == 5e-5)["by_epochs"]["5"]
    summary = next(s for s in record["summary"] if s["per_class"] == 160
                   and s["lr"] == 5e-5 and s["epochs"] == 5)
    want = next(s for s in summary["seeds"] if s["seed"] == 2)
    cmp = strategies.paired_comparison(run["head"]["test_correct"],
                                       tuned["test_correct"], seed=run["seed"])
    assert cmp.gain == pytest.approx(want["gain"])
    assert cmp.ci95 == pytest.approx(tuple(want["ci95"]))
    assert (cmp.only_a, cmp.only_b) == (want["only_head_right"],
                                        want["only_fine_tuned_right"])
    assert cmp.p_value == pytest.approx(want["mcnemar_p"], rel=1e-9)


def test_study_comparisons_read_the_record():
    seeds = strategies.study_comparisons(per_class=160, lr=5e-5, epochs=5)
    assert [s.label.split(" (")[0] for s in seeds] == [
        "study seed 1", "study seed 2", "study seed 3"]
    assert all(s.gain >= 0.03 and s.excludes_zero for s in seeds)
    assert all(s.n == 384 and "2026-12-04" in s.label for s in seeds)
    assert strategies.study_comparisons(per_class=7) == []


def test_study_comparisons_without_the_record(tmp_path):
    assert strategies.study_comparisons(path=tmp_path / "missing.json") == []


def test_table_and_figure():
    a = np.array([1, 0, 1, 1, 0, 1, 1, 0], dtype=bool)
    b = np.array([1, 1, 1, 1, 1, 1, 0, 0], dtype=bool)
    run = strategies.paired_comparison(a, b, names=("head phase", "fine-tuned"))
    seeds = strategies.study_comparisons()
    table = strategies.paired_table([run, *seeds])
    assert list(table.index)[0] == "this run" and len(table) == 1 + len(seeds)
    assert table.loc["this run", "only fine-tuned right"] == 2
    assert table.loc["this run", "gain, points"] == pytest.approx(12.5)
    assert {"95% interval, points", "McNemar p", "test photos"} <= set(table.columns)
    fig = strategies.plot_paired(run, references=seeds, chance=0.2, target=0.03)
    assert len(fig.axes) == 3
    labels = [t.get_text() for t in fig.axes[2].get_xticklabels()]
    assert labels[0] == "this run" and len(labels) == 1 + len(seeds)
    other = strategies.paired_comparison(a, b, names=("head phase", "lr=1e-2"))
    with pytest.raises(ValueError, match="same two names"):
        strategies.paired_table([run, other])
    with pytest.raises(ValueError, match="empty"):
        strategies.paired_table([])


def test_per_photo_correct_on_arrays_and_a_dataset():
    import tensorflow as tf

    x = np.eye(4, dtype="float32")[[0, 1, 2, 3, 0, 1]]
    y = np.array([0, 1, 3, 3, 2, 1])
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, keras.layers.Activation("softmax")(inputs))
    want = np.array([True, True, False, True, False, True])
    np.testing.assert_array_equal(strategies.per_photo_correct(model, (x, y)), want)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    np.testing.assert_array_equal(strategies.per_photo_correct(model, ds), want)
    assert math.isclose(want.mean(), 4 / 6)
    with pytest.raises(ValueError, match="empty"):
        strategies.per_photo_correct(model, ds.take(0))
