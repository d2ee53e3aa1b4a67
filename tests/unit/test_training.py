"""tlhelpers.training: the guarded fit, fine_tune, the run log, the range test.

A tiny VGG-shaped base (tests/tinymodel.py) on 32x32 images keeps every
training run well under a second once traced.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tinymodel

from tlhelpers import models, training  # noqa: E402
from tlhelpers.models import RecompileNeededError  # noqa: E402


@pytest.fixture(scope="module")
def trained():
    """(model, base_model, train_ds, val_ds, start_weights) after the head phase."""
    return tinymodel.head_trained()


def same_weights(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_fit_refuses_a_model_that_was_never_compiled():
    base = tinymodel.tiny_base()
    model = models.build_classifier(base, 2, dense=4)
    train_ds, val_ds = tinymodel.datasets()
    with pytest.raises(RecompileNeededError, match="not compiled"):
        training.fit(model, train_ds, val_ds, epochs=1, live_plot=False)


def test_fit_refuses_a_stale_compile(trained):
    model, base_model, train_ds, val_ds, start = trained
    model.set_weights(start)
    base_model.trainable = False
    training.compile_for_training(model, 1e-3)
    models.set_trainable(base_model, 3)  # changed after compile
    with pytest.raises(RecompileNeededError, match="block2_conv"):
        training.fit(model, train_ds, val_ds, epochs=1, live_plot=False)
    assert same_weights(model.get_weights(), start)  # nothing trained


def test_fine_tune_trains_exactly_the_top_block(trained):
    model, base_model, train_ds, val_ds, start = trained
    before = {layer.name: [w.copy() for w in layer.get_weights()]
              for layer in base_model.layers}
    result = training.fine_tune(model, base_model, train_ds, val_ds, n_unfrozen=3,
                                lr=1e-3, epochs=1, start_weights=start,
                                live_plot=False)
    assert result.epochs_done == 1 and not result.interrupted
    moved = [name for name, weights in before.items()
             if any(not np.array_equal(a, b) for a, b in
                    zip(weights, base_model.get_layer(name).get_weights()))]
    assert moved == tinymodel.TOP_BLOCK


def test_fine_tune_from_the_same_start_weights_repeats_the_first_epoch():
    # With the course head's dropout: the masks must repeat too.
    model, base_model, train_ds, val_ds, start = tinymodel.head_trained(
        dropout=0.5)
    losses = []
    for _ in range(2):
        # The seed restarts the batch order and the head's dropout masks.
        result = training.fine_tune(model, base_model, train_ds, val_ds,
                                    n_unfrozen=3, lr=1e-3, epochs=1,
                                    start_weights=start, seed=7,
                                    live_plot=False)
        losses.append(result.history["loss"][0])
    # Without restoring, the second run would start from the first one's end.
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    assert not same_weights(model.get_weights(), start)


def test_fine_tune_logs_a_row_that_a_new_run_log_reads_back(trained, tlh_home):
    model, base_model, train_ds, val_ds, start = trained
    log = training.RunLog("unit")
    result = training.fine_tune(model, base_model, train_ds, val_ds, n_unfrozen=3,
                                lr=3e-4, epochs=2, start_weights=start,
                                run_log=log, live_plot=False)
    assert log.path.parent == tlh_home / "runs"
    again = training.RunLog("unit")
    assert len(again) == 1
    row = again.rows[0]
    assert row["run"] == result.run == 1
    assert row["n_unfrozen"] == 3 and row["lr"] == pytest.approx(3e-4)
    assert row["epochs"] == 2 and row["epochs_done"] == 2
    assert row["status"] == "done"
    assert row["best_val_accuracy"] == pytest.approx(result.best_val_accuracy)
    assert row["best_val_accuracy"] == pytest.approx(
        max(result.history["val_accuracy"]))
    assert row["seconds"] >= 0
    # The file on disk is plain JSON with the same row.
    assert json.loads(log.path.read_text())[0]["run"] == 1


def test_run_log_numbers_runs_and_keeps_updates(tlh_home):
    log = training.RunLog("numbers")
    first = log.add(strategy="fine-tuning", lr=1e-5, epochs=2)
    second = log.add(strategy="fine-tuning", lr=1e-2, epochs=2)
    log.update(first, status="done", best_val_accuracy=0.5)
    assert (first, second) == (1, 2)
    reloaded = training.RunLog("numbers")
    assert [r["status"] for r in reloaded.rows] == ["done", "running"]
    assert reloaded.frame().shape[0] == 2
    assert 'class="dataframe tlh-runlog-table"' in reloaded._repr_html_()
    with pytest.raises(KeyError, match="run 9"):
        reloaded.update(9, status="done")


def test_run_log_prints_rates_as_rates_and_unset_fields_blank(tlh_home):
    log = training.RunLog("shown")
    log.add(strategy="fine-tuning", n_unfrozen=4, lr=6e-5, epochs=2)
    log.add(strategy="scratch", epochs=3)  # no depth, no rate
    for shown in (repr(log), log._repr_html_()):
        assert "6e-05" in shown and "0.00006" not in shown, shown
        assert not {"NaN", "nan", "None"} & set(shown.split()), shown


def test_run_log_shows_each_runs_note(tlh_home):
    log = training.RunLog("noted")
    log.add(strategy="fine-tuning", epochs=8, note="3 head + 5 block5 epochs")
    log.add(strategy="scratch", epochs=3)  # no note: a blank cell
    for shown in (repr(log), log._repr_html_()):
        assert "3 head + 5 block5 epochs" in shown, shown
    assert log.frame()["note"].isna().tolist() == [False, True]


def test_lr_range_test_restores_weights_and_suggests_a_rate_in_range(trained):
    model, base_model, train_ds, _, start = trained
    model.set_weights(start)
    models.set_trainable(base_model, 3)
    result = training.lr_range_test(model, train_ds, min_lr=1e-5, max_lr=1e-1,
                                    num_steps=12)
    assert same_weights(model.get_weights(), start)
    assert 1e-5 <= result.suggestion <= 1e-1
    assert 3 <= len(result.lrs) == len(result.losses) <= 12
    assert np.all(np.diff(result.lrs) > 0)  # the rate rises batch by batch
    fig = result.figure()
    assert fig.axes[0].get_xscale() == "log"
    assert fig.axes[0].get_xlabel() and fig.axes[0].get_title()


def test_suggest_is_a_tenth_of_where_the_loss_climbs():
    lrs = np.geomspace(1e-6, 1e-1, 6)
    losses = np.array([2.0, 1.99, 1.5, 1.0, 0.9, 3.0])
    assert training.suggest(lrs, losses) == pytest.approx(lrs[4] / 10)


def test_suggest_on_a_flat_noisy_floor_reads_the_edge_not_the_noise():
    # A trained head with block5 unfrozen: the loss wanders on its floor
    # (its lowest point at the left, by chance) until it shoots up.
    lrs = np.geomspace(1e-6, 1e-1, 26)
    floor = [0.67, 0.54, 0.66, 0.58, 0.62, 0.61, 0.56, 0.57, 0.58, 0.59, 0.59,
             0.65, 0.66, 0.65, 0.60, 0.59]
    losses = np.array(floor + [0.87, 2.66])
    suggestion = training.suggest(lrs[:len(losses)], losses)
    assert suggestion == pytest.approx(lrs[15] / 10)
    assert lrs[0] < suggestion < lrs[15]
    # One lucky batch far below the floor does not move the edge, nor do low
    # first points (two replicas' smaller batches gave 0.31, 0.40, 0.45).
    losses[3] = 0.30
    assert training.suggest(lrs[:len(losses)], losses) == pytest.approx(lrs[15] / 10)
    losses[:3] = [0.31, 0.40, 0.45]
    assert training.suggest(lrs[:len(losses)], losses) == pytest.approx(lrs[15] / 10)


def test_lr_range_test_records_each_batch_own_loss(trained):
    import tensorflow as tf

    model, base_model, _, _, start = trained
    model.set_weights(start)
    models.set_trainable(base_model, 0)
    x, y = tinymodel.images(per_class=8)
    order = np.r_[0:4, 8:12, 4:8, 12:16]
    x, y = x[order], y[order].copy()
    y[4:8] = 1 - y[4:8]  # the second batch: wrong labels, another loss
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    training.compile_for_training(model, 1e-3)
    own = [model.evaluate(x[i:i + 4], y[i:i + 4], verbose=0, return_dict=True)["loss"]
           for i in (0, 4, 8, 12)]
    # The batches differ, so a running mean would not match them.
    assert abs(own[1] - own[0]) > 0.05 and abs(own[2] - own[1]) > 0.05
    # Rates too small to move the weights; beta=0: the curve is the raw losses.
    result = training.lr_range_test(model, ds, min_lr=1e-9, max_lr=1e-8,
                                    num_steps=5, beta=0.0)
    np.testing.assert_allclose(result.losses[:4], own, rtol=1e-3)
    assert result.losses[4] == pytest.approx(own[0], rel=1e-3)  # repeated


def test_a_loss_near_zero_doubling_is_not_divergence():
    # A head trained to a loss of 0.01: batch noise must not end the test.
    assert not training.lr_finder.has_diverged(0.05, 0.01)
    assert not training.lr_finder.has_diverged(0.35, 0.01)
    assert training.lr_finder.has_diverged(0.45, 0.01)
    assert training.lr_finder.has_diverged(2.1, 0.5)
    assert not training.lr_finder.has_diverged(1.9, 0.5)
    assert training.lr_finder.has_diverged(float("nan"), 0.5)


def test_suggest_ignores_the_rates_after_the_loss_diverged():
    lrs = np.geomspace(1e-6, 1e-1, 8)
    losses = np.array([2.0, 1.9, 1.5, 1.0, 0.9, np.nan, 0.1, 0.05])
    assert training.suggest(lrs, losses) == pytest.approx(lrs[4] / 10)
    losses[5] = np.inf
    assert training.suggest(lrs, losses) == pytest.approx(lrs[4] / 10)
    with pytest.raises(ValueError, match="min_lr"):
        training.suggest(lrs, np.full(8, np.nan))


def test_lr_range_test_puts_back_the_optimizer_its_rate_and_the_weights(trained):
    model, base_model, train_ds, val_ds, start = trained
    model.set_weights(start)
    models.set_trainable(base_model, 3)
    training.compile_for_training(model, 3e-4)
    model.fit(train_ds, epochs=1, verbose=0)  # the optimizer now has state
    optimizer = model.optimizer
    state = [v.numpy().copy() for v in optimizer.variables]
    weights = model.get_weights()
    training.lr_range_test(model, train_ds, min_lr=1e-4, max_lr=1.0, num_steps=8)
    assert model.optimizer is optimizer
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-4)
    assert same_weights([v.numpy() for v in model.optimizer.variables], state)
    assert same_weights(model.get_weights(), weights)
    models.require_fresh_compile(model)  # compiled as before: fit may go on
    training.fit(model, train_ds, val_ds, epochs=1, live_plot=False)
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-4)


def test_lr_range_test_leaves_every_random_state_as_it_was():
    # Notebook 03 fine-tunes after the test: a seeded run must go on as if the
    # test had not drawn dropout masks or shuffled anything.
    import random

    import keras

    def draws():
        return random.random(), np.random.rand(), float(keras.random.uniform((1,))[0])

    base = tinymodel.tiny_base()
    model = models.build_classifier(base, 2, dense=4)
    train_ds, _ = tinymodel.datasets()
    dropout = training.random_states(model)
    keras.utils.set_random_seed(5)
    keras.random.uniform((1,))  # the global Keras generator exists
    before = draws()
    keras.utils.set_random_seed(5)
    keras.random.uniform((1,))
    training.lr_range_test(model, train_ds, min_lr=1e-4, max_lr=1.0, num_steps=6)
    assert draws() == before
    for kept, now in zip(dropout, training.random_states(model)):
        np.testing.assert_array_equal(kept, now)


def test_lr_range_test_leaves_an_uncompiled_model_needing_compile():
    base = tinymodel.tiny_base()
    model = models.build_classifier(base, 2, dense=4)
    train_ds, val_ds = tinymodel.datasets()
    training.lr_range_test(model, train_ds, min_lr=1e-4, max_lr=1.0, num_steps=6)
    with pytest.raises(RecompileNeededError, match="not compiled"):
        training.fit(model, train_ds, val_ds, epochs=1, live_plot=False)


@pytest.mark.parametrize("lr", [0, -1e-3, 2.0, float("nan"), "fast", True])
def test_bad_learning_rates_raise_value_error_naming_lr(lr):
    with pytest.raises(ValueError, match=r"lr=.*\(0, 1\]"):
        training.check_lr(lr)


@pytest.mark.parametrize("epochs", [0, -2, 1.5, "3", True])
def test_bad_epochs_raise_value_error_naming_epochs(epochs):
    with pytest.raises(ValueError, match=r"epochs=.*integer >= 1"):
        training.check_epochs(epochs)


def test_fine_tune_checks_its_parameters_before_touching_the_model(trained):
    model, base_model, train_ds, val_ds, start = trained
    model.set_weights(start)
    with pytest.raises(ValueError, match="lr="):
        training.fine_tune(model, base_model, train_ds, val_ds, lr=5.0,
                           live_plot=False)
    with pytest.raises(ValueError, match="epochs="):
        training.fine_tune(model, base_model, train_ds, val_ds, epochs=0,
                           live_plot=False)
    with pytest.raises(ValueError, match="n_unfrozen=99"):
        training.fine_tune(model, base_model, train_ds, val_ds, n_unfrozen=99,
                           live_plot=False)
    assert same_weights(model.get_weights(), start)


def test_lr_range_test_rejects_bad_ranges(trained):
    model, _, train_ds, _, _ = trained
    with pytest.raises(ValueError, match="min_lr"):
        training.lr_range_test(model, train_ds, min_lr=1e-2, max_lr=1e-3)
    with pytest.raises(ValueError, match="num_steps"):
        training.lr_range_test(model, train_ds, num_steps=2)


def test_live_plot_puts_a_png_into_an_output(trained):
    import ipywidgets as widgets

    model, base_model, train_ds, val_ds, start = trained
    out = widgets.Output()
    plot = training.LivePlot(output=out, title="unit")
    training.fine_tune(model, base_model, train_ds, val_ds, n_unfrozen=0,
                       lr=1e-3, epochs=2, start_weights=start, live_plot=plot)
    assert len(out.outputs) == 1  # replaced each epoch, not appended
    assert "image/png" in out.outputs[0]["data"]
    assert plot.history["loss"] and len(plot.history["val_accuracy"]) == 2
    assert [ax.get_xlabel() for ax in plot.figure.axes] == ["epoch", "epoch"]
    # Chance comes from the model's two outputs; accuracy spans 0% to 100%.
    acc_ax = plot.figure.axes[1]
    assert "chance (50%)" in [line.get_label() for line in acc_ax.lines]
    assert acc_ax.get_ylim()[0] == 0 and acc_ax.get_ylim()[1] >= 1


def test_saved_model_round_trip_checks_the_class_count(trained, tlh_home):
    model, _, _, _, start = trained
    model.set_weights(start)
    path = training.saved_model_path("unit_model")
    assert path.parent == tlh_home / "models"
    model.save(path)
    loaded = training.load_saved_model(path, n_classes=2)
    assert same_weights(loaded.get_weights(), start)
    with pytest.raises(ValueError, match="predicts 2 classes but the data has 5"):
        training.load_saved_model(path, n_classes=5)
