"""`tlhelpers.strategies` on a tiny VGG-shaped base and a folder of tiny images."""

from __future__ import annotations

import dataclasses
import math

import imagefactory
import keras
import numpy as np
import pandas as pd
import pytest
import tinymodel

from tlhelpers import config, models, strategies, viz
from tlhelpers.data import scan_folder, split_files

SIZE = 32
CLASSES = ("cats", "dogs", "fish")


def tiny_vgg():
    """input, block1 (conv + pool), block2 (2 conv + pool): a chain of 6 layers."""
    return tinymodel.tiny_base(SIZE)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = imagefactory.make_folder(tmp_path_factory.mktemp("data") / "d", CLASSES,
                                    per_class=5, layout="split", val_per_class=2)
    return split_files(scan_folder(root))


@pytest.fixture
def base():
    keras.utils.set_random_seed(0)
    return tiny_vgg()


def test_subset_indices_nested_and_balanced():
    labels = np.repeat([0, 1, 2], 10)
    small = strategies.subset_indices(labels, 3, seed=1)
    large = strategies.subset_indices(labels, 7, seed=1)
    assert np.bincount(labels[small]).tolist() == [3, 3, 3]
    assert np.bincount(labels[large]).tolist() == [7, 7, 7]
    assert set(small) <= set(large)
    other = strategies.subset_indices(labels, 3, seed=2)
    assert set(other) != set(small)
    with pytest.raises(ValueError, match="per_class"):
        strategies.subset_indices(labels, 0)


def test_check_sizes_caps_and_sorts():
    labels = np.repeat([0, 1], [4, 6])
    assert strategies.check_sizes((5, 2, 2), labels) == [2, 4]
    for bad in ((), (0, 2), ("x",), None):
        with pytest.raises(ValueError, match="sizes"):
            strategies.check_sizes(bad, labels)


def test_stored_layer_per_depth(base):
    assert strategies.stored_layer(base, 0) is None        # the base's output
    assert strategies.stored_layer(base, 3) == "block1_pool"
    with pytest.raises(ValueError, match="n_unfrozen"):
        strategies.stored_layer(base, 7)


def load_images(items):
    from tlhelpers.data import load_rgb

    return np.stack([load_rgb(path, SIZE) for path, _ in items]).astype(np.float32)


def test_stored_model_matches_the_whole_model(base, files):
    """Training on stored activations is only valid if the outputs are identical."""
    stored = strategies.store_activations(base, files, depths=(0, 3))
    assert stored.train[3].shape[1:] == (SIZE // 2, SIZE // 2, 4)
    assert len(stored.val[0]) == len(stored.val_labels) == len(files.val)
    model = models.build_classifier(base, len(CLASSES))
    expected = np.asarray(model(load_images(files.val)))
    for depth in (0, 3):
        top = strategies.stored_model(model, base, depth)
        np.testing.assert_allclose(np.asarray(top(stored.val[depth])), expected,
                                   rtol=1e-4, atol=1e-5)
    again = strategies.store_activations(base, files, depths=(0, 3))
    assert again.from_cache


def test_higher_cuts_are_derived_from_the_lowest_and_match_extraction(base, files):
    from tlhelpers import features

    stored = strategies.store_activations(base, files, depths=(0, 3))
    direct = features.extract(base, files.val, cache=False, progress=False)
    np.testing.assert_allclose(stored.val[0], direct.features, rtol=1e-5,
                               atol=1e-6)
    # The derived arrays are stored under extract's key: extract now loads them.
    loaded = features.extract(base, files.train, progress=False)
    assert loaded.from_cache
    np.testing.assert_array_equal(loaded.features, stored.train[0])


def test_flipped_training_rows_follow_the_photos(base, files):
    from tlhelpers import features

    plain = strategies.store_activations(base, files, depths=(0, 3))
    both = strategies.store_activations(base, files, depths=(0, 3), flip_train=True)
    n = len(files.train)
    for depth in (0, 3):
        assert len(both.train[depth]) == 2 * n
        np.testing.assert_array_equal(both.train[depth][:n], plain.train[depth])
        np.testing.assert_array_equal(both.val[depth], plain.val[depth])
    np.testing.assert_array_equal(both.train_labels,
                                  np.tile(plain.train_labels, 2))
    mirrored = features.extract(base, files.train, progress=False, view="flip")
    assert mirrored.from_cache  # the derived output is stored under its key
    np.testing.assert_array_equal(both.train[0][n:], mirrored.features)
    assert not np.allclose(both.train[0][n:], plain.train[0])


def test_the_two_phases_train_what_they_say_and_grade_per_photo(base, files):
    """`train_head_stored` then `fine_tune_stored`: the recipe `run`, 04 and the study share."""
    stored = strategies.store_activations(base, files, depths=(0, 3))
    head, head_result = strategies.train_head_stored(
        stored.split("train", 0), stored.split("val", 0), len(CLASSES), 2, seed=1,
        live_plot=False)
    assert head_result.epochs_done == 2
    again, _ = strategies.train_head_stored(
        stored.split("train", 0), stored.split("val", 0), len(CLASSES), 2, seed=1,
        live_plot=False)
    for a, b in zip(head.get_weights(), again.get_weights()):  # seeded: the same
        np.testing.assert_array_equal(a, b)

    model = models.build_classifier(base, len(CLASSES))
    strategies.copy_head(head, model, base)
    frozen = base.layers[1].get_weights()[0].copy()   # block1's conv: below the cut
    top_conv = [layer for layer in base.layers[-3:] if layer.weights][-1]
    before = top_conv.get_weights()[0].copy()
    top, result, right = strategies.fine_tune_stored(
        model, base, 3, stored.split("train", 3), stored.split("val", 3), 1, 1e-3,
        test=stored.split("val", 3), precision="bfloat16", live_plot=False)
    assert result.epochs_done == 1
    assert right.dtype == bool and right.shape == (len(files.val),)
    assert not np.array_equal(before, top_conv.get_weights()[0])  # the top trained
    np.testing.assert_array_equal(frozen, base.layers[1].get_weights()[0])
    # The arithmetic is back to float32 after the block, for the model too.
    assert {layer.dtype_policy.name for layer in models.leaf_layers(top)} == {"float32"}
    np.testing.assert_allclose(
        right.mean(), float(np.mean(np.argmax(np.asarray(model(load_images(files.val))),
                                              axis=-1) == stored.val_labels)),
        atol=1 / len(files.val) + 1e-9)


def test_train_course_models_saves_the_two_phases_where_notebooks_find_them(base, files):
    """Notebooks 05 and 07 train 03's two models with it when 03's cannot be used."""
    from tlhelpers import predict

    frozen = base.layers[1].get_weights()[0].copy()
    trained = strategies.train_course_models(base, files, list(CLASSES), progress=False)
    head, tuned = trained["head trained"], trained["fine-tuned"]
    changes = viz.weight_change(head, tuned).set_index("layer")["relative_change"]
    assert changes["block1_conv1"] == 0          # below the cut: frozen in both phases
    assert changes["block2_conv2"] > 0           # block2 (the top 4 layers) trained
    np.testing.assert_array_equal(frozen, base.layers[1].get_weights()[0])
    # Saved with what they were trained on, so the next notebook loads them.
    found = predict.course_models(SIZE, class_names=list(CLASSES), files=files,
                                  weights=base.tlh_weights)
    for label in ("head trained", "fine-tuned"):
        for a, b in zip(found[label].get_weights(), trained[label].get_weights()):
            np.testing.assert_array_equal(a, b)


def test_copy_head_moves_trained_weights(base):
    head = models.build_head(base.output_shape[1:], len(CLASSES))
    model = models.build_classifier(base, len(CLASSES))
    strategies.copy_head(head, model, base)
    for layer in model.layers[model.layers.index(base) + 1:]:
        for mine, theirs in zip(layer.get_weights(),
                                head.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(mine, theirs)


def _state(base):
    return [w.copy() for w in base.get_weights()], \
        [layer.trainable for layer in base.layers], base.trainable


def _assert_same_state(base, state):
    weights, flags, trainable = state
    for old, new in zip(weights, base.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert [layer.trainable for layer in base.layers] == flags
    assert base.trainable == trainable


def test_compare_strategies_table(base, files):
    base.trainable = False
    state = _state(base)
    stored = strategies.store_activations(base, files, depths=(0, 3))
    results = strategies.compare_strategies(
        base, files, sizes=(2, 9), image_size=SIZE, batch_size=4, scratch_epochs=1,
        head_epochs=1, fine_tune_epochs=2, n_unfrozen=3, stored=stored,
        progress=False)
    assert isinstance(results, pd.DataFrame)
    assert len(results) == 6
    assert sorted(set(results["strategy"])) == sorted(strategies.STRATEGIES)
    # 9 per class is more than the 5 there are: capped.
    assert sorted(set(results["images_per_class"])) == [2, 5]
    assert sorted(set(results["train_images"])) == [2 * 3, 5 * 3]
    assert (results["train_rows"] == results["train_images"]).all()  # one view
    for column in ("test_accuracy", "best_val_accuracy", "final_val_accuracy"):
        assert results[column].between(0, 1).all()
    for _, row in results.iterrows():
        val = results.attrs["histories"][(row["strategy"],
                                          row["images_per_class"])]["val_accuracy"]
        assert row["final_val_accuracy"] == pytest.approx(val[-1])
        # Validation picks the best epoch: its weights are the ones graded.
        assert row["best_val_accuracy"] == pytest.approx(max(val))
    assert (results["seconds"] > 0).all()
    fine = results[results["strategy"] == "fine-tuning"]
    assert (fine["epochs"] == 3).all()        # head phase + fine-tuning phase
    assert results.attrs["n_val"] == len(files.val)
    assert results.attrs["n_test"] == len(files.test)
    assert results.attrs["scratch_image_size"] == SIZE
    assert set(results.attrs["histories"]) == {
        (s, n) for s in strategies.STRATEGIES for n in (2, 5)}
    _assert_same_state(base, state)   # fine-tuning runs leave the base as found


def test_feature_extraction_can_train_as_long_as_fine_tuning(base, files):
    """extraction_epochs trains the extraction head longer from the same seeded
    start; fine-tuning still starts from the head after head_epochs, whose
    test accuracy its row keeps."""
    stored = strategies.store_activations(base, files, depths=(0, 3))
    kwargs = dict(sizes=(5,), image_size=SIZE, batch_size=4, scratch_epochs=1,
                  head_epochs=1, fine_tune_epochs=2, n_unfrozen=3, stored=stored,
                  progress=False)
    short = strategies.compare_strategies(base, files, **kwargs).set_index("strategy")
    same = strategies.compare_strategies(base, files, extraction_epochs=3, **kwargs)
    assert same.attrs["extraction_epochs"] == 3 and same.attrs["head_epochs"] == 1
    rows = same.set_index("strategy")
    assert rows.loc["feature-extraction", "epochs"] == rows.loc["fine-tuning", "epochs"] == 3
    history = same.attrs["histories"][("feature-extraction", 5)]["loss"]
    assert len(history) == 3
    # Its first epoch is the one-epoch head's: the same seeded start.
    first = short.attrs["histories"][("feature-extraction", 5)]["loss"]
    assert history[0] == pytest.approx(first[0], rel=1e-5)
    # Fine-tuning starts from the one-epoch head either way.
    assert rows.loc["fine-tuning", "start_test_accuracy"] == pytest.approx(
        short.loc["feature-extraction", "test_accuracy"])
    assert short.loc["fine-tuning", "start_test_accuracy"] == pytest.approx(
        short.loc["feature-extraction", "test_accuracy"])
    assert np.isnan(rows.loc["scratch", "start_test_accuracy"])


def test_compare_strategies_trains_on_every_stored_view_of_the_subset(base, files):
    """With mirrored views stored, a size's photos train in both views."""
    stored = strategies.store_activations(base, files, depths=(0, 3),
                                          flip_train=True)
    results = strategies.compare_strategies(
        base, files, sizes=(2,), batch_size=4, scratch_epochs=1,
        head_epochs=1, fine_tune_epochs=1, n_unfrozen=3, stored=stored,
        progress=False)
    # Without image_size, scratch reads the photos at notebook 01's size.
    assert results.attrs["scratch_image_size"] == \
        config.get_profile().scratch_image_size
    rows = results.set_index("strategy")["train_rows"]
    assert rows["feature-extraction"] == rows["fine-tuning"] == 2 * 2 * 3
    assert rows["scratch"] == 2 * 3       # random augmentation, not stored views
    with pytest.raises(ValueError, match="views"):
        strategies.run._rows(np.arange(2), 5, 11)
    n = len(files.train)
    np.testing.assert_array_equal(strategies.run._rows(np.array([1, 3]), n, 2 * n),
                                  [1, 3, n + 1, n + 3])


def test_a_size_trains_the_same_whatever_ran_before_it(base, files):
    """Every run starts from the seed: its dropout does not carry the steps of
    the sizes before it, so a size's numbers do not depend on the others."""
    stored = strategies.store_activations(base, files, depths=(0, 3))
    kwargs = dict(image_size=SIZE, batch_size=4, scratch_epochs=1,
                  head_epochs=1, fine_tune_epochs=2, n_unfrozen=3,
                  stored=stored, progress=False)
    both = strategies.compare_strategies(base, files, sizes=(2, 5), **kwargs)
    alone = strategies.compare_strategies(base, files, sizes=(5,), **kwargs)
    for strategy in ("feature-extraction", "fine-tuning"):
        np.testing.assert_allclose(
            both.attrs["histories"][(strategy, 5)]["loss"],
            alone.attrs["histories"][(strategy, 5)]["loss"], rtol=1e-5)


def test_the_pass_is_timed_from_this_run_or_on_a_sample(base, files):
    base.trainable = False
    stored = strategies.store_activations(base, files, depths=(0, 3))
    again = strategies.store_activations(base, files, depths=(0, 3))
    assert again.from_cache
    timed = strategies.run.time_the_pass(base, files, again)
    # Loaded from disk: the same pass timed here, after an untimed batch.
    assert timed.timed_sample and 0 < timed.images <= len(files.train)
    assert timed.seconds_per_image == pytest.approx(timed.seconds / timed.images)
    assert "loaded from disk" in timed.describe()
    assert timed.for_images(10) == pytest.approx(10 * timed.seconds_per_image)
    # Computed in this run: its own seconds over every stored row.
    fresh = dataclasses.replace(stored, from_cache=False, seconds=12.0)
    own = strategies.run.time_the_pass(base, files, fresh)
    rows = len(files.train) + len(files.val) + len(files.test)
    assert not own.timed_sample and own.images == rows
    assert own.seconds_per_image == pytest.approx(12.0 / rows)
    assert "this run's pass" in own.describe()


def test_compare_strategies_counts_the_pass_for_the_transfer_strategies(base, files):
    base.trainable = False
    stored = strategies.store_activations(base, files, depths=(0, 3))
    rate = strategies.run.PassTime(0.5, 10, 5.0, False)
    results = strategies.compare_strategies(
        base, files, sizes=(2,), image_size=SIZE, batch_size=4, scratch_epochs=1,
        head_epochs=1, fine_tune_epochs=1, n_unfrozen=3, stored=stored,
        pass_time=rate, progress=False)
    once = results.set_index("strategy")["pass_seconds"]
    assert once["scratch"] == 0            # it runs its own layers every epoch
    # The subset's training rows and the validation photos, at the rate.
    expected = 0.5 * (2 * 3 + len(files.val))
    assert once["feature-extraction"] == once["fine-tuning"] == \
        pytest.approx(expected)
    assert results.attrs["pass_time"] is rate
    fig = strategies.plot_by_size(results)
    time_ax = fig.axes[-1]
    hatched = [p for p in time_ax.patches if p.get_hatch()]
    assert len(hatched) == 2               # extraction and fine-tuning
    assert all(p.get_height() == pytest.approx(expected) for p in hatched)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert strategies.charts.PASS_LABEL in legend
    text = strategies.decision_guide(results)
    assert f"{expected:.1f} s for these 6 training rows" in text
    assert "1,000.0 ms per image" not in text and "500.0 ms per image" in text
    assert "measured in this run's pass, 5.0 s for 10 stored rows" in text


def test_unfreeze_sweep_table(base, files):
    state = _state(base)
    sweep = strategies.unfreeze_sweep(base, files, depths=(0, 3), lrs=(1e-5, 1e-2),
                                      epochs=2, head_epochs=1, progress=False)
    assert len(sweep) == 4
    assert sweep["start_test_accuracy"].nunique() == 1
    assert sweep["test_accuracy"].between(0, 1).all()
    top_params = sweep.set_index(["n_unfrozen", "lr"])["trainable_base_params"]
    assert top_params[(0, 1e-5)] == 0
    # block2: two 3x3 convs, 4 -> 6 and 6 -> 6 channels, with biases
    assert top_params[(3, 1e-5)] == (9 * 4 + 1) * 6 + (9 * 6 + 1) * 6
    assert list(sweep[sweep["n_unfrozen"] == 3]["unfrozen"])[0] == \
        "block2_conv1..block2_pool"
    for history in sweep.attrs["histories"].values():
        assert len(history["val_accuracy"]) == 2
    # Graded on the test photos: the change is from the head's test accuracy.
    np.testing.assert_allclose(
        sweep["change"], sweep["test_accuracy"] - sweep["start_test_accuracy"])
    assert sweep.attrs["n_test"] == len(files.test)
    _assert_same_state(base, state)
    # The two rates train differently (the comparison would be empty otherwise).
    histories = sweep.attrs["histories"]
    assert histories[(3, 1e-2)]["loss"] != histories[(3, 1e-5)]["loss"]


def test_the_head_alone_on_stored_features_refuses_augmentation(base):
    model = models.build_classifier(base, len(CLASSES),
                                    augmentation=models.default_augmentation())
    # Augmented images give other features every epoch: nothing to store.
    with pytest.raises(ValueError, match="layers before the base"):
        strategies.stored_model(model, base, 0)
    with pytest.raises(ValueError, match="layers before the base"):
        strategies.copy_head(models.build_head(base.output_shape[1:], 3), model,
                             base)


def test_unfreeze_sweep_on_a_subset_trains_on_that_many_per_class(base, files):
    labels = np.array([label for _, label in files.train])
    per_class = int(np.bincount(labels).min()) - 1
    stored = strategies.store_activations(base, files, depths=(0,),
                                          flip_train=True)
    sweep = strategies.unfreeze_sweep(base, files, depths=(0,), lrs=(1e-3,),
                                      epochs=1, head_epochs=1, progress=False,
                                      images_per_class=per_class, stored=stored)
    n_classes = len(files.class_names)
    assert sweep.attrs["train_images"] == per_class * n_classes < len(labels)
    # The photos, each in both stored views (not twice as many photos).
    assert sweep.attrs["train_rows"] == 2 * per_class * n_classes
    whole = strategies.unfreeze_sweep(base, files, depths=(0,), lrs=(1e-3,),
                                      epochs=1, head_epochs=1, progress=False)
    assert whole.attrs["train_images"] == len(labels)


def test_sweep_bad_parameters(base, files):
    with pytest.raises(ValueError, match="n_unfrozen"):
        strategies.unfreeze_sweep(base, files, depths=(99,), progress=False)
    with pytest.raises(ValueError, match="lr"):
        strategies.unfreeze_sweep(base, files, depths=(0,), lrs=(0,),
                                  progress=False)
    with pytest.raises(ValueError, match="epochs"):
        strategies.unfreeze_sweep(base, files, depths=(0,), epochs=-1,
                                  progress=False)


def _results(test: dict, n_val=100, n_test=100, weights="random", val=None):
    """Test accuracies `test`; validation's (best epoch) from `val` (default: same)."""
    val = val or {}
    rows = [{"strategy": s, "images_per_class": n, "train_images": 3 * n,
             "test_accuracy": a, "best_val_accuracy": val.get((s, n), a),
             "final_val_accuracy": val.get((s, n), a),
             "final_train_accuracy": a, "epochs": 1,
             "seconds": 1.0 + i}
            for i, ((s, n), a) in enumerate(test.items())]
    frame = pd.DataFrame(rows)
    frame.attrs.update(n_val=n_val, n_test=n_test, weights=weights,
                       prepare_seconds=3.0)
    return frame


def test_winners_tell_ties_from_clear_leads():
    results = _results({("scratch", 5): 0.30, ("feature-extraction", 5): 0.60,
                        ("fine-tuning", 5): 0.58, ("scratch", 40): 0.40,
                        ("feature-extraction", 40): 0.50,
                        ("fine-tuning", 40): 0.75})
    table = strategies.winners(results).set_index("images_per_class")
    assert table.loc[5, "best"] == "feature-extraction"
    assert not table.loc[5, "clear"]          # 2 points on 100 images: a tie
    assert table.loc[40, "best"] == "fine-tuning"
    assert table.loc[40, "clear"]
    assert math.isclose(table.loc[40, "lead"], 0.25)


def test_decision_guide_is_written_from_the_numbers():
    results = _results({("scratch", 5): 0.30, ("feature-extraction", 5): 0.60,
                        ("fine-tuning", 5): 0.58, ("scratch", 40): 0.40,
                        ("feature-extraction", 40): 0.50,
                        ("fine-tuning", 40): 0.75})
    text = strategies.decision_guide(results)
    assert ("**5 images per class:** feature extraction 60.0%, fine-tuning "
            "58.0%, scratch 30.0%") in text
    assert "only 2.0 points ahead of fine-tuning" in text and "a tie" in text
    assert "25.0 points ahead of feature extraction" in text
    assert "Accuracy on the 100 test photos" in text
    assert "fine-tuning clearly ahead" in text
    assert "feature extraction clearly ahead" in text     # against scratch at 5
    assert "-2.0 at 5, +25.0 at 40" in text
    assert "The lines cross between 5 and 40 images per class" in text
    assert "random weights" in text
    flipped = _results({("scratch", 5): 0.70, ("feature-extraction", 5): 0.30,
                        ("fine-tuning", 5): 0.31, ("scratch", 40): 0.40,
                        ("feature-extraction", 40): 0.80,
                        ("fine-tuning", 40): 0.50}, weights="imagenet")
    other = strategies.decision_guide(flipped)
    assert "scratch clearly ahead" in other
    assert "do not cross for good" in other
    assert "feature extraction is ahead by more than the noise" in other
    assert "random weights" not in other


def test_choice_is_the_fastest_within_noise():
    # seconds grow in insertion order: scratch 1, extraction 2, fine-tuning 3, ...
    results = _results({("scratch", 5): 0.30, ("feature-extraction", 5): 0.60,
                        ("fine-tuning", 5): 0.62, ("scratch", 40): 0.40,
                        ("feature-extraction", 40): 0.50,
                        ("fine-tuning", 40): 0.75})
    table = strategies.winners(results).set_index("images_per_class")
    assert table.loc[5, "best"] == "fine-tuning"
    assert table.loc[5, "choice"] == "feature-extraction"  # a tie, and faster
    assert table.loc[40, "choice"] == "fine-tuning"        # a clear lead
    text = strategies.decision_guide(results)
    assert "- 5 images per class: **feature extraction**, validation 60.0%" in text
    assert "fine-tuning scored 62.0%, within the noise margin" in text


def test_validation_picks_and_test_grades():
    # Validation favours fine-tuning clearly at 5; on the test photos it is
    # extraction that scored higher. The pick follows validation, the
    # reported numbers are the test photos'.
    results = _results({("scratch", 5): 0.30, ("feature-extraction", 5): 0.70,
                        ("fine-tuning", 5): 0.65},
                       val={("scratch", 5): 0.31,
                            ("feature-extraction", 5): 0.55,
                            ("fine-tuning", 5): 0.90})
    table = strategies.winners(results).set_index("images_per_class")
    assert table.loc[5, "best"] == table.loc[5, "choice"] == "fine-tuning"
    assert table.loc[5, "best_val_accuracy"] == pytest.approx(0.90)
    assert table.loc[5, "test_accuracy"] == pytest.approx(0.65)
    text = strategies.decision_guide(results)
    assert ("**fine-tuning**, validation 90.0% (ahead of feature extraction by "
            "more than the noise") in text
    assert "graded on the test photos: 65.0%" in text
    assert "feature extraction 70.0%, fine-tuning 65.0%, scratch 30.0%" in text
    assert "optimistic" in text
    fig = strategies.plot_by_size(results)
    assert "test" in fig.axes[0].get_ylabel()
    assert [round(y, 2) for y in fig.axes[0].lines[1].get_ydata()] == [0.70]


def test_leads_and_where_they_cross():
    results = _results({("feature-extraction", 5): 0.60, ("fine-tuning", 5): 0.62,
                        ("feature-extraction", 20): 0.70, ("fine-tuning", 20): 0.68,
                        ("feature-extraction", 80): 0.75, ("fine-tuning", 80): 0.80,
                        ("feature-extraction", 160): 0.76,
                        ("fine-tuning", 160): 0.86}, n_test=400)
    table = strategies.leads(results)
    assert list(table.index) == [5, 20, 80, 160]
    np.testing.assert_allclose(table["lead"], [0.02, -0.02, 0.05, 0.10])
    assert table.loc[160, "noise"] == pytest.approx(
        strategies.noise_margin(0.86, 400))
    assert list(table["beyond_noise"]) == [False, False, True, True]
    assert strategies.crossing(table) == (20, 80)          # behind at 20
    assert strategies.crossing(table, beyond_noise=True) == (20, 80)
    ahead = table.assign(lead=[0.01, 0.02, 0.03, 0.10])
    assert strategies.crossing(ahead) is None              # ahead everywhere
    assert strategies.crossing(ahead, beyond_noise=True) == (80, 160)
    assert strategies.crossing(table.assign(lead=[0.1, 0.1, 0.1, -0.01])) is None
    text = strategies.decision_guide(results)
    assert "+2.0 at 5, -2.0 at 20, +5.0 at 80, +10.0 at 160" in text
    assert "rises above the noise margin between 20 and 80" in text
    with pytest.raises(ValueError, match="fine-tuning"):
        strategies.leads(results[results["strategy"] != "fine-tuning"])


def test_one_point_is_singular():
    words = strategies.guide._lead_words(0.01, 0.05, "feature extraction")
    assert "only 1.0 point ahead" in words and "5.0 points" in words
    assert strategies.guide._count(1, "photo") == "1 photo"
    assert strategies.guide._count(1200, "photo") == "1,200 photos"


def test_the_guide_says_what_the_pass_cost():
    results = _results({("scratch", 40): 0.4, ("feature-extraction", 40): 0.7,
                        ("fine-tuning", 40): 0.8})
    text = strategies.decision_guide(results)
    # No pass measured with the table: the loaded arrays' time is not the pass.
    assert "took 3 s once" not in text and "one pass of the base" in text
    results["pass_seconds"] = [0.0, 20.0, 20.0]
    results["train_rows"] = 240
    results.attrs.update(prepare_cached=True, pass_time=strategies.run.PassTime(
        0.05, 64, 3.2, True))
    text = strategies.decision_guide(results)
    assert ("20.0 s for these 240 training rows and 100 validation photos, at "
            "50.0 ms per image (timed in this run on 64 photos") in text
    # seconds: scratch 1, extraction 2, fine-tuning 3, each plus its pass
    assert ("Counted with it: feature extraction 22.0 s, fine-tuning 23.0 s, "
            "against 1.0 s for scratch") in text


def test_a_lead_equal_to_the_noise_at_one_decimal_shows_more():
    words = strategies.guide._lead_words(0.03902, 0.03864, "feature extraction")
    assert "3.90 points ahead" in words and "3.86 points" in words


def test_decision_guide_with_sweep():
    results = _results({("scratch", 5): 0.3, ("feature-extraction", 5): 0.5,
                        ("fine-tuning", 5): 0.5})
    sweep = pd.DataFrame({"n_unfrozen": [0, 4, 4], "lr": [1e-5, 1e-5, 1e-3],
                          "test_accuracy": [0.5, 0.58, 0.3],
                          "best_val_accuracy": [0.52, 0.6, 0.31],
                          "start_test_accuracy": [0.5] * 3,
                          "change": [0.0, 0.08, -0.2]})
    text = strategies.decision_guide(results, sweep)
    assert ("validation picks the one that unfroze 4 layers at lr 1e-05 "
            "(60.0% on validation)") in text
    assert "on the test photos it scored 58.0%, against 50.0%" in text
    assert "lr 1e-03 moved test accuracy by -20.0 points" in text
    assert "tied with" in text


def test_noise_margin_shrinks_with_more_images():
    assert strategies.noise_margin(0.5, 100) == pytest.approx(0.1)
    assert strategies.noise_margin(0.5, 400) < strategies.noise_margin(0.5, 100)


def test_charts_have_titles_and_labels():
    results = _results({("scratch", 5): 0.3, ("feature-extraction", 5): 0.6,
                        ("fine-tuning", 5): 0.5, ("scratch", 40): 0.4,
                        ("feature-extraction", 40): 0.7,
                        ("fine-tuning", 40): 0.8})
    fig = strategies.plot_by_size(results)
    assert fig._suptitle.get_text()
    assert len(fig.axes) == 3     # accuracy, fine-tuning's lead, seconds
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert len(fig.axes[0].lines) == 3    # one per strategy
    assert "lead" in fig.axes[1].get_title()
    two = strategies.plot_by_size(results[results["strategy"] != "fine-tuning"])
    assert len(two.axes) == 2     # no lead to draw
    frame = pd.DataFrame({"acc": [0.5, 0.6], "s": [1.0, 9.0]}, index=["a", "b"])
    bars = strategies.plot_bars(frame, ["acc", "s"], title="t")
    assert len(bars.axes) == 2 and all(ax.get_ylabel() for ax in bars.axes)
    with pytest.raises(ValueError, match="columns"):
        strategies.plot_bars(frame, ["nope"])
    sweep = pd.DataFrame({"n_unfrozen": [0, 0, 4, 4], "lr": [1e-5, 1e-3] * 2,
                          "test_accuracy": [0.5, 0.6, 0.55, 0.3],
                          "start_test_accuracy": [0.5] * 4,
                          "seconds": [1.0, 1.0, 3.0, 3.0]})
    fig = strategies.plot_sweep(sweep)
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    assert "test" in fig.axes[0].get_ylabel()
