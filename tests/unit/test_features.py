"""Stored features: reused when nothing changed, recomputed when anything did."""

from __future__ import annotations

import os
import shutil
import time
import warnings

import imagefactory
import numpy as np
import pytest

from tlhelpers import features, models

SIZE = 32


@pytest.fixture
def items(tmp_path):
    root = imagefactory.make_folder(tmp_path / "imgs", ("cats", "dogs"), per_class=3)
    out = []
    for label, name in enumerate(("cats", "dogs")):
        out += [(p, label) for p in sorted((root / name).iterdir())]
    return out


def vgg(size: int = SIZE, seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    return models.load_base("vgg16", weights=None, input_shape=(size, size, 3))


@pytest.fixture(scope="module")
def base():
    return vgg()


@pytest.fixture
def calls(monkeypatch):
    """Counts the runs of the base over the images (the expensive part)."""
    counter = {"n": 0}
    real = features.compute_layers

    def counting(*args, **kwargs):
        counter["n"] += 1
        counter.setdefault("layers", []).append(list(args[4]))
        return real(*args, **kwargs)

    monkeypatch.setattr(features, "compute_layers", counting)
    return counter


def test_second_call_loads_the_stored_features(base, items, calls):
    first = features.extract(base, items, progress=False)
    second = features.extract(base, items, progress=False)
    assert (first.from_cache, second.from_cache) == (False, True)
    assert calls["n"] == 1
    assert first.path == second.path and first.key == second.key
    np.testing.assert_array_equal(first.features, second.features)
    np.testing.assert_array_equal(second.labels, [0, 0, 0, 1, 1, 1])
    assert first.features.shape == (6, 1, 1, 512)
    assert "loaded from the cache" in second.describe()


def test_stored_file_is_npz_without_pickle(base, items):
    result = features.extract(base, items, progress=False)
    with np.load(result.path, allow_pickle=False) as stored:
        assert sorted(stored.files) == ["features", "group", "item_ids", "labels"]
        assert stored["features"].dtype == np.float32
        np.testing.assert_array_equal(stored["features"], result.features)
    assert not list(result.path.parent.glob("*.tmp"))


def test_a_rewritten_image_is_recomputed(base, items, calls):
    first = features.extract(base, items, progress=False)
    imagefactory.write_jpeg(items[0][0], size=(30, 30), seed=99)
    second = features.extract(base, items, progress=False)
    assert not second.from_cache and calls["n"] == 2
    assert second.key != first.key
    assert not np.allclose(second.features[0], first.features[0])
    np.testing.assert_allclose(second.features[1:], first.features[1:], rtol=1e-5)


def test_a_touched_image_is_recomputed(base, items, calls):
    first = features.extract(base, items, progress=False)
    stat = os.stat(items[2][0])
    os.utime(items[2][0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    second = features.extract(base, items, progress=False)
    assert not second.from_cache and second.key != first.key and calls["n"] == 2


def test_a_copy_keeping_size_and_mtime_is_recomputed(base, items, calls, tmp_path):
    # What `cp -p`, `rsync -a` and `tar` do: other content, same size and mtime.
    target = items[0][0]
    other = imagefactory.write_jpeg(tmp_path / "other.jpg", size=(30, 30), seed=7)
    old_bytes, new_bytes = target.read_bytes(), other.read_bytes()
    n = max(len(old_bytes), len(new_bytes))  # JPEG readers stop at the end marker
    target.write_bytes(old_bytes + b"\0" * (n - len(old_bytes)))
    other.write_bytes(new_bytes + b"\0" * (n - len(new_bytes)))
    first = features.extract(base, items, progress=False)
    before = os.stat(target)
    time.sleep(0.05)  # the change time has a coarse clock on some systems
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
    shutil.copy2(other, target)  # cp -p
    after = os.stat(target)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    second = features.extract(base, items, progress=False)
    assert not second.from_cache and second.key != first.key and calls["n"] == 2
    assert not np.allclose(second.features[0], first.features[0])


def test_a_new_file_removes_the_files_it_replaces(base, items, calls, capsys):
    train, val = items[:4], items[4:]
    old_train = features.extract(base, train, progress=False)
    old_val = features.extract(base, val, progress=False)
    inner = features.extract(base, train, layer="block1_pool", progress=False)
    capsys.readouterr()
    imagefactory.write_jpeg(train[0][0], size=(30, 30), seed=99)
    new_train = features.extract(base, train, progress=False)
    assert new_train.key != old_train.key and new_train.path.exists()
    assert not old_train.path.exists()  # same images, same base and layer
    assert old_val.path.exists()        # another split: no image in common
    assert inner.path.exists()          # another layer: its own group
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "removed 1 feature file(s) stored before the images changed" in out
    again = features.extract(base, train, progress=False)  # nothing to remove
    assert again.from_cache and capsys.readouterr().out == ""
    grown = features.extract(base, train + [items[4]], progress=False)
    assert not new_train.path.exists() and grown.path.exists()
    # val shares items[4] with the grown set, but holds images it lacks
    assert old_val.path.exists()
    assert sorted(p.name for p in grown.path.parent.glob("*.npz")) == \
        sorted([grown.path.name, old_val.path.name, inner.path.name])


def test_a_subset_leaves_the_whole_splits_file_in_place(base, items, calls):
    whole = features.extract(base, items, progress=False)
    part = features.extract(base, items[:2], progress=False)  # files.train[:50]
    assert whole.path.exists() and part.path.exists()
    again = features.extract(base, items, progress=False)
    assert again.from_cache and again.key == whole.key and calls["n"] == 2


def test_the_key_names_the_preprocessing_function(base, items, monkeypatch):
    import dataclasses

    import keras

    assert features.preprocess_name("vgg16").endswith("vgg16.preprocess_input")
    assert features.preprocess_name("vgg16") != features.preprocess_name("resnet50")
    before = features.cache_key(base, items, SIZE)
    other = dataclasses.replace(models.BACKBONES["vgg16"],
                                preprocess=keras.applications.mobilenet_v2
                                .preprocess_input)
    monkeypatch.setitem(models.BACKBONES, "vgg16", other)
    assert features.cache_key(base, items, SIZE) != before


def test_a_base_of_unknown_backbone_is_refused(items):
    import keras

    inputs = keras.Input((SIZE, SIZE, 3))
    home_made = keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs), name="mine")
    with pytest.raises(ValueError, match=r"cannot tell which backbone.*'mine'.*"
                       r"tlh_backbone"):
        features.extract(home_made, items, progress=False)
    home_made.tlh_backbone = "vgg16"
    assert features.extract(home_made, items, progress=False).features.shape[0] == 6


def test_other_images_or_labels_are_recomputed(base, items, calls):
    first = features.extract(base, items, progress=False)
    fewer = features.extract(base, items[:-1], progress=False)
    relabelled = features.extract(base, [(p, 1 - y) for p, y in items],
                                  progress=False)
    assert not fewer.from_cache and not relabelled.from_cache
    assert len({first.key, fewer.key, relabelled.key}) == 3
    assert calls["n"] == 3


def test_changed_weights_are_recomputed(items, calls):
    base = vgg(seed=0)
    first = features.extract(base, items, progress=False)
    kernel = base.get_layer("block1_conv1").kernel
    kernel.assign(kernel.numpy() * 1.5)
    second = features.extract(base, items, progress=False)
    other_draw = features.extract(vgg(seed=1), items, progress=False)
    assert not second.from_cache and not other_draw.from_cache
    assert len({first.key, second.key, other_draw.key}) == 3
    assert calls["n"] == 3


def test_same_weights_in_a_new_model_reuse_the_file(items, calls):
    first = features.extract(vgg(seed=3), items, progress=False)
    again = features.extract(vgg(seed=3), items, progress=False)
    assert again.from_cache and again.key == first.key and calls["n"] == 1


def test_another_image_size_is_recomputed(base, items, calls):
    small = features.extract(base, items, progress=False)
    large = features.extract(vgg(48), items, progress=False)
    assert not large.from_cache and large.key != small.key
    assert small.features.shape[1:] == (1, 1, 512)
    assert large.features.shape[1:] == (1, 1, 512)
    assert features.cache_key(base, items, 32) != features.cache_key(base, items, 48)
    assert calls["n"] == 2


def test_inner_layer_key_ignores_weights_above_it(items, calls):
    base = vgg(seed=4)
    inner = features.extract(base, items, layer="block4_pool", progress=False)
    outer = features.extract(base, items, progress=False)
    assert inner.features.shape[1:] == (2, 2, 512)
    kernel = base.get_layer("block5_conv3").kernel
    kernel.assign(kernel.numpy() + 0.01)
    inner_again = features.extract(base, items, layer="block4_pool", progress=False)
    outer_again = features.extract(base, items, progress=False)
    assert inner_again.from_cache and inner_again.key == inner.key
    assert not outer_again.from_cache and outer_again.key != outer.key
    assert calls["n"] == 3


def test_a_corrupt_file_is_ignored_and_replaced(base, items, calls):
    first = features.extract(base, items, progress=False)
    first.path.write_bytes(b"PK\x03\x04 this is not a complete npz file")
    with pytest.warns(UserWarning, match="unreadable feature file"):
        second = features.extract(base, items, progress=False)
    assert not second.from_cache and calls["n"] == 2
    np.testing.assert_allclose(second.features, first.features, rtol=1e-5)
    third = features.extract(base, items, progress=False)
    assert third.from_cache and calls["n"] == 2


def test_a_truncated_file_is_ignored(base, items, calls):
    first = features.extract(base, items, progress=False)
    data = first.path.read_bytes()
    first.path.write_bytes(data[: len(data) // 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        second = features.extract(base, items, progress=False)
    assert not second.from_cache and calls["n"] == 2
    assert np.load(second.path, allow_pickle=False)["features"].shape == \
        first.features.shape


def test_a_pickled_file_is_refused(base, items, calls):
    first = features.extract(base, items, progress=False)
    objects = np.array([{"evil": 1}], dtype=object)
    with open(first.path, "wb") as out:
        np.savez(out, features=objects, labels=first.labels)
    with pytest.warns(UserWarning, match="unreadable"):
        second = features.extract(base, items, progress=False)
    assert not second.from_cache and second.features.dtype == np.float32


def test_cache_off_neither_reads_nor_writes(base, items, calls):
    result = features.extract(base, items, cache=False, progress=False)
    assert not result.from_cache and not result.path.exists()
    again = features.extract(base, items, cache=False, progress=False)
    assert not again.from_cache and calls["n"] == 2


def test_save_npz_atomic_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "sub" / "a.npz"
    features.save_npz_atomic(path, x=np.arange(3, dtype=np.float32))
    assert [p.name for p in path.parent.iterdir()] == ["a.npz"]
    np.testing.assert_array_equal(features.load_npz(path)["x"], [0, 1, 2])


def test_empty_items_are_refused(base):
    with pytest.raises(ValueError, match="items"):
        features.extract(base, [], progress=False)


def test_a_base_built_under_mixed_precision_has_its_own_file(items, calls):
    import keras

    plain = features.extract(vgg(seed=5), items, progress=False)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        mixed_base = vgg(seed=5)  # the same weights, float16 arithmetic
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert features.weights_digest(mixed_base) == features.weights_digest(vgg(seed=5))
    mixed = features.extract(mixed_base, items, progress=False)
    assert not mixed.from_cache and mixed.key != plain.key
    assert mixed.features.dtype == np.float32
    # float16 rounding: close to the float32 features, not equal to them
    np.testing.assert_allclose(mixed.features, plain.features, rtol=0.05,
                               atol=0.05 * float(np.abs(plain.features).max()))
    assert calls["n"] == 2


def test_inner_layers_stored_from_the_same_pass_are_loaded_later(base, items, calls):
    first = features.extract(base, items, progress=False,
                             also=("block3_pool", "block4_pool"))
    assert calls["n"] == 1 and not first.from_cache
    assert "block3_pool, block4_pool stored from the same pass" in first.describe()
    later = {name: features.extract(base, items, layer=name, progress=False)
             for name in ("block3_pool", "block4_pool")}
    assert calls["n"] == 1
    for name, shape in (("block3_pool", (4, 4, 256)), ("block4_pool", (2, 2, 512))):
        assert later[name].from_cache and later[name].features.shape == (6,) + shape
        alone = features.compute_features(base, items, SIZE, 4, name, progress=False)
        np.testing.assert_allclose(later[name].features, alone, rtol=1e-5, atol=1e-6)


def test_only_the_missing_layers_are_computed(base, items, calls):
    features.extract(base, items, progress=False)
    again = features.extract(base, items, progress=False, also=("block4_pool",))
    assert again.from_cache
    assert calls["layers"] == [[None], ["block4_pool"]]
    features.extract(base, items, progress=False, also=("block4_pool",))
    assert calls["n"] == 2


def test_an_unknown_inner_layer_is_named_before_the_pass(base, items, calls):
    with pytest.raises(ValueError, match="block9_pool"):
        features.extract(base, items, progress=False, also=("block9_pool",))
    assert calls["n"] == 0


def test_the_flip_view_is_the_features_of_the_mirrored_photos(base, items, tmp_path):
    from PIL import Image

    plain, mirrored = [], []
    for i, (path, label) in enumerate(items):
        image = Image.open(path).convert("RGB")
        plain.append((imagefactory.save(image, tmp_path / f"p{i}.png"), label))
        flipped = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        mirrored.append((imagefactory.save(flipped, tmp_path / f"m{i}.png"), label))
    view = features.extract(base, plain, progress=False, view="flip")
    truth = features.extract(base, mirrored, progress=False)
    original = features.extract(base, plain, progress=False)
    assert len({view.key, truth.key, original.key}) == 3
    assert "photos mirrored" in view.describe()
    np.testing.assert_allclose(view.features, truth.features, rtol=1e-4, atol=1e-4)
    assert not np.allclose(view.features, original.features)
    with pytest.raises(ValueError, match="view='crop'"):
        features.extract(base, plain, progress=False, view="crop")


def test_a_bfloat16_pass_is_close_to_float32_and_stored_apart(base, items, calls):
    exact = features.extract(base, items, progress=False, layer="block3_pool")
    fast = features.extract(base, items, progress=False, layer="block3_pool",
                            precision="bfloat16")
    assert calls["n"] == 2 and fast.key != exact.key
    assert fast.precision == "bfloat16" and "bfloat16 pass" in fast.describe()
    assert fast.features.dtype == np.float32
    scale = np.abs(exact.features).max()
    assert 0 < np.abs(fast.features - exact.features).max() <= 0.05 * scale
    assert features.extract(base, items, progress=False, layer="block3_pool",
                            precision="bfloat16").from_cache
    assert features.pass_precision("auto") in ("float32", "bfloat16")
    with pytest.raises(ValueError, match="precision='half'"):
        features.pass_precision("half")


def test_stack_puts_the_views_of_the_photos_one_after_another(base, items, calls):
    photos = features.extract(base, items, progress=False, layer="block3_pool")
    mirrored = features.extract(base, items, progress=False, layer="block3_pool",
                                view="flip")
    both = features.stack(photos, mirrored)
    assert len(both) == 2 * len(items) and both.views == 2
    np.testing.assert_array_equal(both.features[:len(items)], photos.features)
    np.testing.assert_array_equal(both.features[len(items):], mirrored.features)
    np.testing.assert_array_equal(both.labels, np.tile(photos.labels, 2))
    assert both.view == "photos+flip" and not both.from_cache
    assert f"2 views of {len(items)} photos" in both.describe()
    assert features.stack(photos) is photos
    other = features.extract(base, items[:-1], progress=False, layer="block3_pool")
    with pytest.raises(ValueError, match="views of the same photos"):
        features.stack(photos, other)
    deeper = features.extract(base, items, progress=False)
    with pytest.raises(ValueError, match="different shapes"):
        features.stack(photos, deeper)
    with pytest.raises(ValueError, match="at least one"):
        features.stack()


# --- bfloat16 where the CPU cannot run it ------------------------------------------

@pytest.mark.parametrize("cap, native", [("", True), ("AVX512_CORE_BF16", True),
                                         ("avx2", False), ("AVX512_CORE", False)])
def test_native_bfloat16_follows_onednns_instruction_cap(monkeypatch, cap, native):
    from pathlib import Path

    monkeypatch.setattr(Path, "read_text",
                        lambda self, *a, **k: "flags : avx2 avx512f avx512_bf16")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    assert features.native_bfloat16() is native
    assert features.pass_precision("auto") == ("bfloat16" if native else "float32")


def test_a_bfloat16_failure_becomes_one_clear_error():
    import tensorflow as tf

    failure = tf.errors.AbortedError(
        None, None, "could not create a primitive descriptor for the convolution "
                    "forward propagation primitive")
    with pytest.raises(features.PrecisionUnsupportedError, match="float32"):
        with features.bfloat16_errors_explained():
            raise failure
    other = tf.errors.AbortedError(None, None, "something else")
    with pytest.raises(tf.errors.AbortedError):
        with features.bfloat16_errors_explained():
            raise other


def test_a_bfloat16_pass_under_capped_onednn_ends_in_the_clear_error(tmp_path):
    import subprocess
    import sys

    # oneDNN's rewrites on and its instruction set capped at AVX2: a bfloat16
    # convolution has no primitive there. The pass must say what to do, not
    # end in TensorFlow's traceback.
    script = (
        "import keras, numpy as np\n"
        "from tlhelpers import features\n"
        "import imagefactory\n"
        f"root = imagefactory.make_folder(r'{tmp_path / 'd'}', ('a', 'b'), "
        "per_class=2, layout='flat')\n"
        "items = [(str(p), i) for i, c in enumerate(('a', 'b'))"
        " for p in sorted((root / c).iterdir())]\n"
        "base = keras.applications.VGG16(include_top=False, weights=None,"
        " input_shape=(32, 32, 3))\n"
        "try:\n"
        "    features.extract(base, items, 32, 2, cache=False, progress=False,"
        " precision='bfloat16')\n"
        "    print('ran')\n"
        "except features.PrecisionUnsupportedError as err:\n"
        "    print('clear:', err)\n")
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1", "ONEDNN_MAX_CPU_ISA": "AVX2",
           "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    # Where the CPU has no bfloat16 convolution under the cap, the message
    # names the fix; where oneDNN still finds one, the pass simply runs.
    assert done.stdout.startswith(("clear: this CPU cannot run", "ran")), done.stdout
    assert "Traceback" not in done.stderr


def test_another_decoding_gives_other_keys(base, items, monkeypatch):
    from tlhelpers.data import images

    before = features.cache_key(base, items, SIZE)
    assert features.cache_key(base, items, SIZE) == before  # stable within a run
    monkeypatch.setattr(images, "decoding_signature", lambda: "Pillow 0.0, 0123")
    assert features.cache_key(base, items, SIZE) != before


def test_the_decoding_signature_follows_the_code_and_pillow():
    import PIL

    from tlhelpers.data import images

    signature = images.decoding_signature()
    assert signature.startswith(f"Pillow {PIL.__version__}, ")


def test_an_edit_to_the_decoding_code_changes_the_signature(monkeypatch):
    from tlhelpers.data import images

    before = images.decoding_signature()

    def load_rgb(path, size=None, shrink_large_jpeg=False):  # resized another way
        return images.to_rgb(path).resize((size, size))

    monkeypatch.setattr(images, "load_rgb", load_rgb)
    assert images.decoding_signature() != before
