"""`tlhelpers.strategies` on a tiny VGG-shaped base and a folder of tiny images."""

from __future__ import annotations

import math

import imagefactory
import keras
import numpy as np
import pandas as pd
import pytest
import tinymodel

from tlhelpers import models, strategies
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
    results = strategies.compare_strategies(
        base, files, sizes=(2, 9), image_size=SIZE, batch_size=4, scratch_epochs=1,
        head_epochs=1, fine_tune_epochs=1, n_unfrozen=3, progress=False)
    assert isinstance(results, pd.DataFrame)
    assert len(results) == 6
    assert sorted(set(results["strategy"])) == sorted(strategies.STRATEGIES)
    # 9 per class is more than the 5 there are: capped.
    assert sorted(set(results["images_per_class"])) == [2, 5]
    assert sorted(set(results["train_images"])) == [2 * 3, 5 * 3]
    assert results["best_val_accuracy"].between(0, 1).all()
    for _, row in results.iterrows():
        val = results.attrs["histories"][(row["strategy"],
                                          row["images_per_class"])]["val_accuracy"]
        assert row["final_val_accuracy"] == pytest.approx(val[-1])
        assert row["best_val_accuracy"] == pytest.approx(max(val))
    assert (results["seconds"] > 0).all()
    fine = results[results["strategy"] == "fine-tuning"]
    assert (fine["epochs"] == 2).all()        # head phase + fine-tuning phase
    assert results.attrs["n_val"] == len(files.val)
    assert set(results.attrs["histories"]) == {
        (s, n) for s in strategies.STRATEGIES for n in (2, 5)}
    _assert_same_state(base, state)   # fine-tuning runs leave the base as found


def test_unfreeze_sweep_table(base, files):
    state = _state(base)
    sweep = strategies.unfreeze_sweep(base, files, depths=(0, 3), lrs=(1e-5, 1e-2),
                                      epochs=2, head_epochs=1, progress=False)
    assert len(sweep) == 4
    assert sweep["start_val_accuracy"].nunique() == 1
    top_params = sweep.set_index(["n_unfrozen", "lr"])["trainable_base_params"]
    assert top_params[(0, 1e-5)] == 0
    # block2: two 3x3 convs, 4 -> 6 and 6 -> 6 channels, with biases
    assert top_params[(3, 1e-5)] == (9 * 4 + 1) * 6 + (9 * 6 + 1) * 6
    assert list(sweep[sweep["n_unfrozen"] == 3]["unfrozen"])[0] == \
        "block2_conv1..block2_pool"
    for history in sweep.attrs["histories"].values():
        assert len(history["val_accuracy"]) == 2
    np.testing.assert_allclose(
        sweep["change"], sweep["final_val_accuracy"] - sweep["start_val_accuracy"])
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
    sweep = strategies.unfreeze_sweep(base, files, depths=(0,), lrs=(1e-3,),
                                      epochs=1, head_epochs=1, progress=False,
                                      images_per_class=per_class)
    n_classes = len(files.class_names)
    assert sweep.attrs["train_images"] == per_class * n_classes < len(labels)
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


def _results(acc: dict, n_val=100, weights="random", best=None):
    """Final-epoch accuracies `acc`; the best epoch's from `best` (default: same)."""
    best = best or {}
    rows = [{"strategy": s, "images_per_class": n, "train_images": 3 * n,
             "final_val_accuracy": a, "best_val_accuracy": best.get((s, n), a),
             "final_train_accuracy": a, "epochs": 1,
             "seconds": 1.0 + i}
            for i, ((s, n), a) in enumerate(acc.items())]
    frame = pd.DataFrame(rows)
    frame.attrs.update(n_val=n_val, weights=weights, prepare_seconds=3.0)
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
    assert ("**5 images per class:** feature extraction scored best (60% after "
            "the last epoch)") in text
    assert "only 2 points ahead of fine-tuning" in text and "a tie" in text
    assert "25 points ahead of feature extraction" in text
    assert "fine-tuning clearly ahead" in text
    assert "feature extraction clearly ahead" in text     # against scratch at 5
    assert "random weights" in text
    flipped = _results({("scratch", 5): 0.70, ("feature-extraction", 5): 0.30,
                        ("fine-tuning", 5): 0.31, ("scratch", 40): 0.40,
                        ("feature-extraction", 40): 0.80,
                        ("fine-tuning", 40): 0.50}, weights="imagenet")
    other = strategies.decision_guide(flipped)
    assert "scratch clearly ahead" in other
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
    assert "- 5 images per class: **feature extraction**." in \
        strategies.decision_guide(results)


def test_decision_guide_with_sweep():
    results = _results({("scratch", 5): 0.3, ("feature-extraction", 5): 0.5,
                        ("fine-tuning", 5): 0.5})
    sweep = pd.DataFrame({"n_unfrozen": [0, 4, 4], "lr": [1e-5, 1e-5, 1e-3],
                          "final_val_accuracy": [0.5, 0.6, 0.3],
                          "start_val_accuracy": [0.5] * 3,
                          "change": [0.0, 0.1, -0.2]})
    text = strategies.decision_guide(results, sweep)
    assert "unfroze 4 layers at lr 1e-05 (60%" in text
    assert "lr 1e-03 moved validation accuracy by -20 points" in text
    assert "tied with" in text


def test_strategies_are_ranked_on_the_last_epoch_not_the_best():
    # Scratch peaked at 0.9 in one epoch on the validation set, and ended at 0.5.
    results = _results({("scratch", 5): 0.5, ("feature-extraction", 5): 0.7,
                        ("fine-tuning", 5): 0.65},
                       best={("scratch", 5): 0.9})
    table = strategies.winners(results).set_index("images_per_class")
    assert table.loc[5, "best"] == "feature-extraction"
    assert table.loc[5, "final_val_accuracy"] == pytest.approx(0.7)
    text = strategies.decision_guide(results)
    assert "feature extraction scored best (70% after the last epoch)" in text
    assert "90%" not in text
    fig = strategies.plot_by_size(results)
    assert "last epoch" in fig.axes[0].get_ylabel()


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
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert len(fig.axes[0].lines) == 3
    frame = pd.DataFrame({"acc": [0.5, 0.6], "s": [1.0, 9.0]}, index=["a", "b"])
    bars = strategies.plot_bars(frame, ["acc", "s"], title="t")
    assert len(bars.axes) == 2 and all(ax.get_ylabel() for ax in bars.axes)
    with pytest.raises(ValueError, match="columns"):
        strategies.plot_bars(frame, ["nope"])
    sweep = pd.DataFrame({"n_unfrozen": [0, 0, 4, 4], "lr": [1e-5, 1e-3] * 2,
                          "final_val_accuracy": [0.5, 0.6, 0.55, 0.3],
                          "start_val_accuracy": [0.5] * 4,
                          "seconds": [1.0, 1.0, 3.0, 3.0]})
    fig = strategies.plot_sweep(sweep)
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
