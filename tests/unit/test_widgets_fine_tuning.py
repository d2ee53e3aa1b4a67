"""The fine-tuning panel, driven headless: set values, click, check what changed.

Uses the tiny VGG-shaped base of tests/tinymodel.py: input, block1 (1 conv +
pool), block2 (2 conv + pool), so N=3 is block2 and N=5 reaches block1.
"""

from __future__ import annotations

import math
import re

import ipywidgets as widgets  # noqa: E402
import keras  # noqa: E402
import numpy as np
import pytest
import tinymodel

from tlhelpers import training  # noqa: E402
from tlhelpers.widgets import fine_tuning_panel, lr_finder_panel  # noqa: E402
from tlhelpers.widgets.common import lr_slider  # noqa: E402

TRAINABLE = re.compile(r"(?<![\w-])trainable parameters: ([\d,]+)")


@pytest.fixture(scope="module")
def trained():
    return tinymodel.head_trained()


@pytest.fixture
def panel(trained):
    model, base_model, train_ds, val_ds, start = trained
    model.set_weights(start)
    return fine_tuning_panel(model, base_model, train_ds, val_ds, start,
                             run_log=training.RunLog("panel"), default_n=3,
                             default_lr=1e-3, default_epochs=1, lr_steps=8)


def shown_trainable(panel) -> int:
    return int(TRAINABLE.search(panel.layer_table.value).group(1).replace(",", ""))


def params_of(base_model, names) -> int:
    return sum(math.prod(w.shape) for name in names
               for w in base_model.get_layer(name).weights)


def body_rows(html: str) -> int:
    body = html.split("<tbody>", 1)[1] if "<tbody>" in html else ""
    return body.count("<tr")


def test_panel_carries_the_css_classes_of_the_dom_contract(panel):
    expected = {
        panel: "tlh-fine-tuning-panel", panel.unfreeze: "tlh-unfreeze",
        panel.layer_table: "tlh-layer-table", panel.lr: "tlh-lr",
        panel.epochs: "tlh-epochs", panel.train_button: "tlh-train",
        panel.plot: "tlh-plot", panel.runlog: "tlh-runlog",
        panel.lr_find_button: "tlh-lr-find", panel.lr_use_button: "tlh-lr-use",
    }
    for widget, css in expected.items():
        assert css in widget._dom_classes, css
    assert isinstance(panel.unfreeze, widgets.IntSlider)
    assert isinstance(panel.lr, widgets.FloatLogSlider)
    assert isinstance(panel.epochs, widgets.IntSlider)
    assert isinstance(panel.layer_table, widgets.HTML)
    assert isinstance(panel.runlog, widgets.HTML)
    assert isinstance(panel.plot, widgets.Output)
    assert panel.train_button.description == "Train"


def test_preview_follows_the_slider_without_changing_the_model(panel, trained):
    _, base_model, *_ = trained
    flags = [layer.trainable for layer in base_model.layers]
    assert shown_trainable(panel) == params_of(base_model, tinymodel.TOP_BLOCK)
    assert panel.unfreeze_label.value.startswith("3: down to block2")

    panel.unfreeze.value = 0
    assert shown_trainable(panel) == 0
    panel.unfreeze.value = 5
    assert shown_trainable(panel) == params_of(
        base_model, ["block1_conv1", *tinymodel.TOP_BLOCK])
    assert "block1" in panel.unfreeze_label.value
    panel.unfreeze.value = 2  # inside block2: only block2_conv2 (and the pool)
    assert shown_trainable(panel) == params_of(base_model, ["block2_conv2"])
    assert "part of block2" in panel.unfreeze_label.value
    assert [layer.trainable for layer in base_model.layers] == flags


def test_ranges_make_bad_values_unreachable(panel, trained):
    _, base_model, *_ = trained
    assert (panel.unfreeze.min, panel.unfreeze.max) == (0, len(base_model.layers))
    panel.unfreeze.value = 99
    assert panel.unfreeze.value == len(base_model.layers)
    panel.lr.value = 5.0
    assert panel.lr.value == pytest.approx(1e-1)
    panel.lr.value = 1e-9
    assert panel.lr.value == pytest.approx(1e-6)
    panel.epochs.value = 0
    assert panel.epochs.value == 1
    panel.epochs.value = 500
    assert panel.epochs.value == panel.epochs.max == 20


def test_bad_defaults_raise_value_errors_naming_them(trained):
    model, base_model, train_ds, val_ds, start = trained
    with pytest.raises(ValueError, match="n_unfrozen=7"):
        fine_tuning_panel(model, base_model, train_ds, val_ds, start,
                          run_log="bad", default_n=7)
    with pytest.raises(ValueError, match="lr=0.5"):
        fine_tuning_panel(model, base_model, train_ds, val_ds, start,
                          run_log="bad", default_lr=0.5)
    with pytest.raises(ValueError, match="default_epochs=50"):
        fine_tuning_panel(model, base_model, train_ds, val_ds, start,
                          run_log="bad", default_epochs=50)
    with pytest.raises(ValueError, match="min_lr"):
        lr_slider(1e-3, min_lr=1e-2, max_lr=1e-3)


def test_train_click_plots_logs_and_saves_a_row(panel, trained):
    _, base_model, *_ = trained
    assert body_rows(panel.runlog.value) == 0
    panel.unfreeze.value = 3
    panel.lr.value = 1e-3
    panel.epochs.value = 2
    panel.train_button.click()

    assert "done" in panel.status.value, panel.status.value
    assert panel.has_plot
    assert not panel.train_button.disabled and not panel.unfreeze.disabled
    assert body_rows(panel.runlog.value) == 1
    on_disk = training.RunLog(path=panel.run_log.path)
    row = on_disk.rows[0]
    assert row["n_unfrozen"] == 3 and row["lr"] == pytest.approx(1e-3)
    assert row["epochs"] == 2 and row["epochs_done"] == 2
    assert row["status"] == "done" and row["best_val_accuracy"] is not None
    assert [layer.name for layer in base_model.layers
            if layer.trainable and layer.weights] == tinymodel.TOP_BLOCK


def test_every_run_starts_from_the_start_weights(panel):
    panel.unfreeze.value, panel.lr.value, panel.epochs.value = 3, 1e-3, 1
    first = panel.train().history["loss"][0]
    second = panel.train().history["loss"][0]
    assert first == pytest.approx(second, rel=1e-5)
    assert body_rows(panel.runlog.value) == 2


def test_existing_runs_show_when_the_panel_is_created(trained):
    model, base_model, train_ds, val_ds, start = trained
    log = training.RunLog("reopened")
    log.add(strategy="fine-tuning", n_unfrozen=3, lr=1e-5, epochs=2,
            status="done", best_val_accuracy=0.5, seconds=3.0)
    log.add(strategy="fine-tuning", n_unfrozen=5, lr=1e-2, epochs=2,
            status="interrupted", epochs_done=1)
    panel = fine_tuning_panel(model, base_model, train_ds, val_ds, start,
                              run_log="reopened")
    assert body_rows(panel.runlog.value) == 2
    assert "interrupted" in panel.runlog.value and "1.0e-02" in panel.runlog.value


def test_panel_opens_as_notebook_03_shows_it(trained):
    """Before any click: the preview for N=4, the course's rate, every logged run.

    Notebook 03 opens the panel with its defaults, default_lr=5e-5 and a run
    log that already holds its 1e-2 run.
    """
    model, base_model, train_ds, val_ds, start = trained
    log = training.RunLog("as_in_03")
    log.add(strategy="fine-tuning", n_unfrozen=4, lr=1e-2, epochs=1,
            status="done", best_val_accuracy=0.2, seconds=1.0)
    panel = fine_tuning_panel(model, base_model, train_ds, val_ds,
                              model.get_weights(), run_log=log,
                              default_lr=5e-5)
    assert "trainable parameters:" in panel.layer_table.value
    assert panel.unfreeze.value == 4
    # The slider moves in steps of a tenth of a decade: 5e-5 is not a step.
    assert np.isclose(panel.lr.value, 5e-5, rtol=0.05)
    assert panel.runlog.value.count("<tr>") == len(log) == 1
    assert body_rows(panel.runlog.value) == len(log)


def test_a_failed_run_shows_a_message_not_a_traceback(trained):
    model, base_model, train_ds, val_ds, start = trained
    broken_start = start[:-1]  # one array missing: set_weights refuses it
    panel = fine_tuning_panel(model, base_model, train_ds, val_ds, broken_start,
                              run_log="failed", default_n=3, default_epochs=1)
    panel.train_button.click()
    assert "Training failed" in panel.status.value
    assert "tlh-message-error" in panel.status.value
    assert not panel.train_button.disabled
    assert body_rows(panel.runlog.value) == 0


def test_find_a_rate_then_use_the_suggestion(panel, trained):
    model, *_, start = trained
    assert panel.lr_use_button.disabled
    panel.unfreeze.value = 3
    panel.lr.value = 1e-6
    panel.lr_find_button.click()
    result = panel.lr_finder.result
    assert result is not None, panel.lr_finder.message.value
    assert "image/png" in panel.lr_finder.plot.outputs[0]["data"]
    assert 1e-6 <= result.suggestion <= 1e-1
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), start))
    assert not panel.lr_use_button.disabled and not panel.train_button.disabled
    panel.lr_use_button.click()
    assert panel.lr.value == pytest.approx(result.suggestion)


def test_lr_finder_panel_alone_with_an_int(trained):
    model, base_model, train_ds, _, start = trained
    slider = lr_slider(1e-4)
    finder = lr_finder_panel(model, base_model, train_ds, 3, slider,
                             start_weights=start, num_steps=6)
    finder.use_button.click()  # before any test: a hint, the slider unchanged
    assert "first" in finder.message.value and slider.value == 1e-4
    finder.find_button.click()
    finder.use_button.click()
    assert slider.value == pytest.approx(finder.result.suggestion)
    with pytest.raises(ValueError, match="num_steps"):
        lr_finder_panel(model, base_model, train_ds, 3, slider, num_steps=1)


def _shuffled(per_class: int = 10):
    """A training set shuffled anew each epoch, as `data.make_dataset` makes it."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(tinymodel.images(per_class))
    return ds.shuffle(2 * per_class, seed=1, reshuffle_each_iteration=True).batch(4)


@pytest.mark.parametrize("how", ["function", "tlh_rebuild"])
def test_two_runs_with_the_same_settings_give_the_same_history(how):
    from tlhelpers import models

    keras.utils.set_random_seed(0)
    base_model = tinymodel.tiny_base()
    # Dropout draws from a random state that get_weights does not hold.
    model = models.build_classifier(base_model, 2, dense=8, dropout=0.5)
    _, val_ds = tinymodel.datasets()
    if how == "function":
        train_ds = _shuffled
    else:
        train_ds = _shuffled()
        train_ds.tlh_rebuild = _shuffled  # as data.make_dataset's datasets carry
    training.train_head(model, base_model, _shuffled(), val_ds, epochs=1,
                        live_plot=False)
    panel = fine_tuning_panel(model, base_model, train_ds, val_ds,
                              run_log=training.RunLog(f"same_{how}"), default_n=3,
                              default_lr=1e-3, default_epochs=3, lr_steps=6)
    first = panel.train().history
    panel.lr_finder.find()  # iterates the training set and uses dropout
    keras.utils.set_random_seed(123)  # other cells may reseed in between
    second = panel.train().history
    assert "done" in panel.status.value, panel.status.value
    assert set(first) == set(second) and len(first["loss"]) == 3
    for key in first:
        np.testing.assert_allclose(second[key], first[key], rtol=1e-5, err_msg=key)


def test_an_interrupted_panel_run_says_train_starts_over(panel, monkeypatch):
    from tlhelpers.widgets import fine_tuning as module

    real = module.fine_tune

    def interrupted(*args, **kwargs):
        class Stop(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                raise KeyboardInterrupt
        return real(*args, callbacks=[Stop()], **kwargs)

    monkeypatch.setattr(module, "fine_tune", interrupted)
    panel.epochs.value = 2
    result = panel.train()
    assert result.interrupted and result.epochs_done == 0
    assert "new run from the head-trained weights" in panel.status.value
    assert "goes on from these weights" not in panel.status.value
