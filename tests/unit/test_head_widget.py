"""The head widget and `retrain_head`, driven headless on tiny random features."""

from __future__ import annotations

import numpy as np
import pytest

from tlhelpers.training import HeadResult, retrain_head
from tlhelpers.widgets import head_panel

N_CLASSES = 3


def _features(n: int, seed: int, shape=(2, 2, 8)):
    """Feature maps whose first channel carries the class: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % N_CLASSES
    x = rng.normal(size=(n,) + shape).astype(np.float32)
    x[..., 0] += 3.0 * labels[:, None, None]
    return x, labels.astype(np.int32)


@pytest.fixture
def feats():
    return _features(30, 0), _features(15, 1)


def test_retrain_head_returns_history_and_settings(feats):
    train, val = feats
    result = retrain_head(train, val, N_CLASSES, head="gap", dropout=0.2, epochs=2)
    assert isinstance(result, HeadResult)
    assert result.epochs_done == 2
    assert len(result.history["val_accuracy"]) == 2
    assert 0.0 <= result.best_val_accuracy <= 1.0
    assert result.best_val_accuracy == max(result.history["val_accuracy"])
    assert result.seconds > 0
    assert (result.head, result.dropout) == ("gap", 0.2)
    # GAP over 8 channels -> Dense 256 -> Dense 3.
    assert result.trainable_params == 8 * 256 + 256 + 256 * 3 + 3
    assert result.model.output_shape == (None, N_CLASSES)


def test_retrain_head_grades_the_picked_head_on_test_features(feats):
    train, val = feats
    test = _features(12, 3)
    result = retrain_head(train, val, N_CLASSES, epochs=3, test=test)
    expected = float(np.mean(
        np.argmax(result.model.predict(test[0], verbose=0), axis=-1) == test[1]))
    assert result.test_accuracy == expected
    row = result.row()
    assert row["test_accuracy"] == expected
    assert list(row)[-2:] == ["test_accuracy", "seconds"]
    # Without test features nothing is graded, and the row has no test column.
    plain = retrain_head(train, val, N_CLASSES, epochs=1)
    assert plain.test_accuracy is None and "test_accuracy" not in plain.row()


def test_retrain_head_refuses_test_features_of_another_shape(feats):
    train, val = feats
    with pytest.raises(ValueError, match="test"):
        retrain_head(train, val, N_CLASSES, test=_features(5, 2, shape=(3, 3, 8)))
    with pytest.raises(ValueError, match="test"):
        retrain_head(train, val, N_CLASSES, test="nope")


def test_retrain_head_flatten_has_more_weights(feats):
    train, val = feats
    flat = retrain_head(train, val, N_CLASSES, head="flatten", epochs=1)
    gap = retrain_head(train, val, N_CLASSES, head="gap", epochs=1)
    assert flat.trainable_params == 2 * 2 * 8 * 256 + 256 + 256 * 3 + 3
    assert flat.trainable_params > gap.trainable_params


def test_same_seed_same_result(feats):
    train, val = feats
    a = retrain_head(train, val, N_CLASSES, epochs=2, seed=7)
    b = retrain_head(train, val, N_CLASSES, epochs=2, seed=7)
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-5)


def test_head_learns_an_easy_signal(feats):
    train, val = feats
    result = retrain_head(train, val, N_CLASSES, head="gap", epochs=15, lr=1e-2)
    assert result.best_val_accuracy > 1 / N_CLASSES + 0.2


@pytest.mark.parametrize("kwargs, word", [
    ({"head": "max"}, "head"),
    ({"epochs": 0}, "epochs"),
    ({"dropout": 1.0}, "dropout"),
    ({"lr": -1}, "lr"),
    ({"seed": "x"}, "seed"),
])
def test_retrain_head_bad_parameters(feats, kwargs, word):
    train, val = feats
    with pytest.raises(ValueError, match=word):
        retrain_head(train, val, N_CLASSES, **kwargs)


def test_retrain_head_bad_features(feats):
    train, val = feats
    with pytest.raises(ValueError, match="train_features"):
        retrain_head("nope", val, N_CLASSES)
    with pytest.raises(ValueError, match="val_features"):
        retrain_head(train, _features(5, 2, shape=(3, 3, 8)), N_CLASSES)
    with pytest.raises(ValueError, match="n_classes"):
        retrain_head(train, val, 2)


def test_panel_widgets_and_ranges(feats):
    panel = head_panel(*feats, N_CLASSES, epochs=4)
    assert [value for _, value in panel.head.options] == ["flatten", "gap"]
    assert (panel.dropout.min, panel.dropout.max) == (0.0, 0.8)
    assert (panel.epochs.min, panel.epochs.max, panel.epochs.value) == (1, 50, 4)
    assert panel.button.description == "Retrain head"
    assert "(2, 2, 8)" in panel.status.value
    assert panel.output.outputs == ()
    assert panel.results == []


def test_panel_click_retrains_and_fills_table_and_plot(feats):
    panel = head_panel(*feats, N_CLASSES, epochs=2)
    table_before = panel.table.value
    panel.head.value = "gap"
    panel.dropout.value = 0.3
    panel.epochs.value = 3
    panel.button.click()
    assert len(panel.results) == 1
    first = panel.results[0]
    assert (first.head, first.dropout, first.epochs_done) == ("gap", 0.3, 3)
    assert panel.table.value != table_before
    assert panel.table.value.count("<tr") == 2  # header + one run
    assert len(panel.output.outputs) == 1
    png = panel.output.outputs[0]["data"]["image/png"]
    assert len(png) > 1000
    assert "best validation accuracy" in panel.status.value
    assert not panel.button.disabled

    panel.head.value = "flatten"
    panel.epochs.value = 1
    panel.button.click()
    assert len(panel.results) == 2
    assert panel.table.value.count("<tr") == 3
    assert panel.output.outputs[0]["data"]["image/png"] != png
    frame = panel.frame()
    assert list(frame["head"]) == ["gap", "flatten"]
    assert list(frame["epochs"]) == [3, 1]


def test_panel_shows_errors_and_reenables_button(feats, monkeypatch):
    panel = head_panel(*feats, N_CLASSES, epochs=1)
    import tlhelpers.widgets.head as head_mod

    def boom(*args, **kwargs):
        raise ValueError("epochs=0 is not valid")

    monkeypatch.setattr(head_mod, "retrain_head", boom)
    panel.button.click()  # ipywidgets logs a callback's exception, never raises it
    assert "Error" in panel.status.value
    assert not panel.button.disabled
    assert panel.results == []
