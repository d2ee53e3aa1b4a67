"""Backbones, the course's classifier head, freezing the top N layers, the layer table.

Taught in `02_feature_extraction.ipynb` and `03_fine_tuning.ipynb`. Each
backbone's `preprocess_input` is a layer inside the model, so raw 0..255 RGB
images go in and no notebook can forget (or double) the preprocessing.
"""

from __future__ import annotations

import dataclasses
import html
import os
import re
from collections.abc import Callable
from pathlib import Path

import keras

from . import compat
from . import weights as weights_mod


@dataclasses.dataclass(frozen=True)
class Backbone:
    """A pretrained convolutional base from `keras.applications`."""

    name: str
    constructor: Callable
    preprocess: Callable
    min_size: int  # smallest square input Keras accepts without a top


def _backbones() -> dict[str, Backbone]:
    apps = keras.applications
    return {
        "vgg16": Backbone("vgg16", apps.VGG16, apps.vgg16.preprocess_input, 32),
        "resnet50": Backbone("resnet50", apps.ResNet50,
                             apps.resnet50.preprocess_input, 32),
        "mobilenet_v2": Backbone("mobilenet_v2", apps.MobileNetV2,
                                 apps.mobilenet_v2.preprocess_input, 32),
        "efficientnet_b0": Backbone("efficientnet_b0", apps.EfficientNetB0,
                                    apps.efficientnet.preprocess_input, 32),
    }


BACKBONES = _backbones()
DEFAULT_BACKBONE = "vgg16"
# The course's head pools with GAP and drops half the Dense units in training.
# Measured with ImageNet weights on the 550-photo subset at 150 px: a Flatten
# head fits the 400 training photos perfectly within three epochs, which
# leaves fine-tuning nothing to learn; GAP with dropout reaches the same
# validation accuracy without memorising (README, "What a learner should expect").
HEADS = ("flatten", "gap")


class RecompileNeededError(RuntimeError):
    """Trainable flags changed since `compile`: Keras would train the old set."""


def get_backbone(name: str) -> Backbone:
    """The registry entry; unknown names list the valid ones."""
    if name not in BACKBONES:
        raise ValueError(f"backbone={name!r} is unknown; valid backbones: "
                         f"{', '.join(BACKBONES)}")
    return BACKBONES[name]


# The names `keras.applications` gives its models (MobileNetV2 adds alpha and size).
_APPLICATION_NAMES = (
    (re.compile(r"^vgg16$"), "vgg16"),
    (re.compile(r"^resnet50$"), "resnet50"),
    (re.compile(r"^mobilenetv2_"), "mobilenet_v2"),
    (re.compile(r"^efficientnetb0$"), "efficientnet_b0"),
)


def backbone_of(base: keras.Model) -> str:
    """The backbone of a base: it picks the preprocessing.

    Taught in `02_feature_extraction.ipynb`. Read from `tlh_backbone` (set by
    `load_base`), else from the name `keras.applications` gave the model.
    Raises when neither tells, rather than guess a preprocessing the base was
    not trained with.
    """
    name = getattr(base, "tlh_backbone", None)
    if name is not None:
        get_backbone(name)  # an unknown name lists the valid ones
        return name
    for pattern, backbone in _APPLICATION_NAMES:
        if pattern.match(getattr(base, "name", "")):
            return backbone
    raise ValueError(
        f"cannot tell which backbone the model {getattr(base, 'name', base)!r} "
        "is, so not which preprocessing its inputs need; load it with "
        "tlh.models.load_base(...), or name it: base_model.tlh_backbone = "
        f"'vgg16' (valid backbones: {', '.join(BACKBONES)})")


def check_input_shape(backbone: str, input_shape) -> tuple[int, int, int]:
    """Validate (h, w, 3) against the backbone's minimum size."""
    spec = get_backbone(backbone)
    try:
        h, w, c = (int(v) for v in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"input_shape={input_shape!r} is not valid; expected "
                         "(height, width, 3)") from None
    if c != 3:
        raise ValueError(f"input_shape={input_shape!r}: expected 3 colour channels")
    if min(h, w) < spec.min_size:
        raise ValueError(
            f"image_size={min(h, w)} is too small for {backbone}; valid range: "
            f">= {spec.min_size} pixels")
    return (h, w, c)


@keras.saving.register_keras_serializable(package="tlhelpers")
class BackbonePreprocess(keras.layers.Layer):
    """Applies the backbone's own `preprocess_input` inside the model."""

    def __init__(self, backbone: str = DEFAULT_BACKBONE, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone

    def call(self, inputs):
        return get_backbone(self.backbone).preprocess(inputs)

    def get_config(self):
        return {**super().get_config(), "backbone": self.backbone}


def show_random_weights_banner(backbone: str, reason: str) -> None:
    """A visible box in a notebook (a warning elsewhere): numbers show mechanics only."""
    text = (f"{backbone} is running with RANDOM weights ({reason}). The numbers "
            "below show the mechanics of transfer learning, not transfer itself: "
            "a random base has learned nothing to transfer. Connect to the "
            "internet or run `python -m tlhelpers prefetch` to use ImageNet "
            "weights.")
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display

        if get_ipython() is not None and hasattr(get_ipython(), "kernel"):
            display(HTML(
                '<div class="tlh-banner" style="border:3px solid #c0392b;'
                'background:#fdecea;padding:10px;margin:6px 0;font-size:14px">'
                f"<b>Random weights.</b> {html.escape(text)}</div>"))
            return
    except ImportError:
        pass
    import warnings
    warnings.warn(text, stacklevel=3)


def load_base(name: str = DEFAULT_BACKBONE, weights: str | Path | None = "imagenet",
              input_shape=None, allow_random: bool = False) -> keras.Model:
    """A convolutional base without its top; taught in `02_feature_extraction.ipynb`.

    weights: "imagenet" (Keras downloads and caches it), a path to a weights
    file, or None / "random". allow_random: with no network and no cached file,
    continue with random weights (and show a banner) instead of raising.
    The result carries `tlh_backbone` and `tlh_weights` ("imagenet", "random",
    or the file path) for the caches and the run log.
    """
    from . import config

    spec = get_backbone(name)
    if input_shape is None:
        input_shape = config.get_profile().image_shape
    input_shape = check_input_shape(name, input_shape)
    kwargs = dict(include_top=False, input_shape=input_shape)
    if weights is None or weights == "random":
        base, source = spec.constructor(weights=None, **kwargs), "random"
    elif weights == "imagenet":
        required = os.environ.get(config.REQUIRE_IMAGENET_ENV, "").strip() == "1"
        base, source = _load_imagenet(spec, kwargs, allow_random and not required)
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ValueError(f"weights={str(weights)!r} is not valid; expected "
                             "'imagenet', 'random', None, or an existing file")
        try:
            base = spec.constructor(weights=str(path), **kwargs)
        # h5py's OSError for a file that is not HDF5 or cut short; Keras'
        # ValueError for one of another model.
        except (OSError, ValueError) as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise ValueError(
                f"weights={str(weights)!r} is not a {name} weights file Keras can "
                f"load ({first[:200]}); pass the no-top {name} .h5 file, "
                "'imagenet' or 'random'") from None
        source = str(path)
    base = as_pretrained_base(base)
    base.tlh_backbone = name
    base.tlh_weights = source
    return base


# A `.keras` file stores its members uncompressed: what one unpacks to is
# about its size. A zip bomb declares far more (1 GiB from 1.4 MB).
UNPACK_RATIO = 10
UNPACK_FLOOR = 64 * 2 ** 20


def check_model_archive(path: str | Path) -> None:
    """Refuse a `.keras` file whose members unpack to far more than it holds.

    Used by `training.load_saved_model` and `predict.load_model` (taught in
    `06_use_your_model.ipynb`) before Keras opens the file: Keras unpacks
    the members into memory, so a zip bomb would exhaust the machine.
    ValueError names both sizes.
    """
    import zipfile

    path = Path(path)
    size = path.stat().st_size
    with zipfile.ZipFile(path) as archive:
        declared = sum(info.file_size for info in archive.infolist())
    if declared > max(UNPACK_FLOOR, UNPACK_RATIO * size):
        raise ValueError(
            f"{path.name} would unpack to {declared / 2 ** 20:,.0f} MiB from a "
            f"{size / 2 ** 20:,.1f} MiB file: not a model Keras saved (a zip "
            "bomb?); refused without opening it")


# Layers that act differently in training mode and have no weights, so
# `trainable = False` does not switch them off (BatchNormalization it does).
_TRAINING_ONLY = (keras.layers.Dropout, keras.layers.SpatialDropout1D,
                  keras.layers.SpatialDropout2D, keras.layers.SpatialDropout3D,
                  keras.layers.GaussianDropout, keras.layers.GaussianNoise,
                  keras.layers.AlphaDropout)


@keras.saving.register_keras_serializable(package="tlhelpers")
class PretrainedBase(keras.Model):
    """A base that runs in inference mode while it has nothing to train.

    In Keras 3.15, `fit` passes `training=True` into a nested base over the
    `training=False` written at build time, so the Dropout layers of a frozen
    EfficientNet would drop features that `features.extract` never drops.
    """

    def call(self, inputs, training=None, mask=None):
        if not self.trainable_weights:
            training = False
        return super().call(inputs, training=training, mask=mask)


def as_pretrained_base(base: keras.Model) -> PretrainedBase:
    """The same layers as a `PretrainedBase` (`load_base` returns one already).

    For a base made with `keras.applications` directly: `build_classifier`
    names this when the base has Dropout layers.
    """
    if isinstance(base, PretrainedBase):
        return base
    wrapped = PretrainedBase(base.input, base.output, name=base.name)
    for key, value in vars(base).items():
        if key.startswith("tlh_"):  # backbone, weights and where they came from
            setattr(wrapped, key, value)
    return wrapped


def training_only_layers(base: keras.Model) -> list[str]:
    """Names of the layers (nested too) that `trainable = False` leaves active."""
    found = []
    for layer in base.layers:
        if isinstance(layer, _TRAINING_ONLY):
            found.append(layer.name)
        elif isinstance(layer, keras.Model):
            found += training_only_layers(layer)
    return found


def failed_fetch(err: BaseException) -> bool:
    """True for the errors Keras' `get_file` raises when a download fails.

    It turns HTTP and URL errors into a bare `Exception("URL fetch failure
    ...")` and a bad checksum into a `ValueError`; timeouts and a full disk
    are `OSError`s. Anything else (a corrupt HDF5 file, a bug) is not a
    failed download and must not turn into random weights.
    """
    if isinstance(err, OSError):
        return True
    text = str(err)
    return text.startswith("URL fetch failure") or "corrupted file" in text


def _load_imagenet(spec: Backbone, kwargs: dict, allow_random: bool):
    # Tried in order: a checked cached file, Keras' download, the offline copy
    # (VGG16 only), random. `tlh_weights_source` says which one was used.
    def labelled(weights, source: str, label: str = "imagenet"):
        base = spec.constructor(weights=weights, **kwargs)
        base.tlh_weights_source = source
        return base, label

    size = kwargs["input_shape"][0]
    cached = weights_mod.find_cached(spec.name, size)
    if cached is not None:
        return labelled(str(cached), "Keras' file, cached")
    # A converted copy already on disk holds the same values: no download needed.
    converted = weights_mod.find_offline(spec.name)
    if converted is not None:
        return labelled(str(converted), weights_mod.OFFLINE_SOURCE)
    from .data.registry import host_reachable

    url, _ = weights_mod.origin(spec.name, size)
    reason = "no network and no cached file"
    if host_reachable(url):
        try:
            return labelled("imagenet", "Keras' download")
        except Exception as err:
            if not failed_fetch(err):
                raise  # a corrupt file or a bug is not "no network": say so
            reason = f"download failed: {err}"
    if weights_mod.offline_possible(spec.name):
        try:
            path = weights_mod.convert_offline(spec.name)
            return labelled(str(path), weights_mod.OFFLINE_SOURCE)
        except weights_mod.WeightsUnavailableError as err:
            reason = f"{reason}; {err}"
    if not allow_random:
        raise weights_mod.WeightsUnavailableError(
            weights_mod.unavailable_message(spec.name, reason))
    show_random_weights_banner(spec.name, reason)
    return labelled(None, f"random ({reason})", "random")


@keras.saving.register_keras_serializable(package="tlhelpers")
class CourseModel(keras.Model):
    """A functional model that remembers which weights `compile` was asked to train.

    Taught in `03_fine_tuning.ipynb`. `model.compile(...)` is Keras' own; this
    records the trainable variables at that moment, so `require_fresh_compile`
    compares against the course's record instead of Keras' private state.
    """

    def compile(self, *args, **kwargs):
        optimizer = kwargs.get("optimizer", args[0] if args else None)
        super().compile(*args, **kwargs)
        # Ids, not the variables: a list of variables set as an attribute
        # would make Keras track them as weights of this model.
        ids = frozenset(id(v) for v in self.trainable_variables)
        self.tlh_compiled_for = CompileRecord(ids, _built_for_others(optimizer, ids))

    def compile_from_config(self, config):
        # Keras skips compiling a loaded model whose compile() is overridden;
        # this does what Keras' own version does.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)


def _built_for_others(optimizer, ids: frozenset) -> bool:
    """True when `optimizer` was already built, for other variables than `ids`."""
    if not getattr(optimizer, "built", False):
        return False
    # Keras has no public list of the variables an optimizer was built for;
    # without its private one, assume the worst (a new optimizer is the rule).
    tracked = compat.optimizer_variables(optimizer)
    return tracked is None or {id(v) for v in tracked} != ids


@dataclasses.dataclass(frozen=True)
class CompileRecord:
    """What `CourseModel.compile` saw: the trainable variables and the optimizer."""

    trainable_ids: frozenset
    optimizer_built_for_others: bool


def head_layers(n_classes: int, head: str = "gap", dense: int = 256,
                dropout: float = 0.5) -> list[keras.layers.Layer]:
    """The course's head (GAP, Dense 256 relu, Dropout 0.5, Dense n softmax), or Flatten."""
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"n_classes={n_classes!r} is not valid; expected an "
                         "integer >= 2")
    if head not in HEADS:
        raise ValueError(f"head={head!r} is unknown; valid heads: {', '.join(HEADS)}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout={dropout!r} is not valid; expected 0 <= dropout < 1")
    if isinstance(dense, bool) or not isinstance(dense, int) or dense < 1:
        raise ValueError(f"dense={dense!r} is not valid; expected an integer >= 1")
    pool = (keras.layers.Flatten(name="head_flatten") if head == "flatten"
            else keras.layers.GlobalAveragePooling2D(name="head_gap"))
    layers = [pool, keras.layers.Dense(dense, activation="relu", name="head_dense")]
    if dropout:
        layers.append(keras.layers.Dropout(dropout, name="head_dropout"))
    # float32 even under mixed precision: a float16 softmax can round small
    # probabilities to 0 and make the loss unstable (Keras' mixed precision guide).
    layers.append(keras.layers.Dense(n_classes, activation="softmax",
                                     name="predictions", dtype="float32"))
    return layers


def build_head(feature_shape, n_classes: int, head: str = "gap",
               dense: int = 256, dropout: float = 0.5) -> keras.Model:
    """The head alone, on stored feature maps; taught in `02_feature_extraction.ipynb`."""
    inputs = keras.Input(shape=tuple(feature_shape), name="features")
    x = inputs
    for layer in head_layers(n_classes, head, dense, dropout):
        x = layer(x)
    return CourseModel(inputs, x, name=f"head_{head}")


def build_classifier(base: keras.Model, n_classes: int, head: str = "gap",
                     dense: int = 256, dropout: float = 0.5,
                     augmentation: keras.layers.Layer | None = None) -> keras.Model:
    """Raw images -> [augmentation] -> preprocessing -> base -> head.

    Taught in `02_feature_extraction.ipynb`. The base is called with
    `training=False` as the Keras guide does; in Keras 3.15 `fit` overrides
    that, so a frozen base must be a `PretrainedBase` (as `load_base` returns)
    to keep its Dropout layers off, and `set_trainable` keeps every
    BatchNormalization layer frozen (then it stays in inference mode), as
    `03_fine_tuning.ipynb` measures on MobileNetV2.
    """
    backbone = backbone_of(base)
    active = training_only_layers(base)
    if active and not isinstance(base, PretrainedBase):
        raise ValueError(
            f"base {base.name!r} has layers that act differently in training "
            f"({', '.join(active[:3])}{' ...' if len(active) > 3 else ''}): even "
            "frozen, fit would run them in training mode. Load the base with "
            "tlh.models.load_base(...), or wrap it first: base_model = "
            "tlh.models.as_pretrained_base(base_model)")
    inputs = keras.Input(shape=base.input_shape[1:], name="image")
    x = augmentation(inputs) if augmentation is not None else inputs
    x = BackbonePreprocess(backbone, name="preprocess")(x)
    x = base(x, training=False)
    for layer in head_layers(n_classes, head, dense, dropout):
        x = layer(x)
    return CourseModel(inputs, x, name=f"{backbone}_{head}_classifier")


def check_n_unfrozen(base: keras.Model, n_unfrozen) -> int:
    """Validate the number of top layers to unfreeze: an integer in 0..len(layers)."""
    top = len(base.layers)
    if isinstance(n_unfrozen, bool) or not isinstance(n_unfrozen, int) \
            or not 0 <= n_unfrozen <= top:
        raise ValueError(f"n_unfrozen={n_unfrozen!r} is not valid; expected an "
                         f"integer in 0..{top} (the base has {top} layers)")
    return n_unfrozen


def unfrozen_flags(base: keras.Model, n_unfrozen: int) -> list[bool]:
    """Which layers train when the top `n_unfrozen` are unfrozen (BatchNorm never)."""
    n_unfrozen = check_n_unfrozen(base, n_unfrozen)
    cut = len(base.layers) - n_unfrozen
    return [i >= cut and not isinstance(layer, keras.layers.BatchNormalization)
            for i, layer in enumerate(base.layers)]


def set_trainable(base: keras.Model, n_unfrozen: int) -> LayerTable:
    """The recipe's two freezing lines: base trainable, all but the last N frozen.

    Taught in `03_fine_tuning.ipynb`. Every layer's flag is set explicitly, so
    moving N down and up again works (`base.trainable = True` alone does not
    reach layers frozen one by one). Recompile afterwards.
    """
    flags = unfrozen_flags(base, n_unfrozen)
    base.trainable = True
    for layer, flag in zip(base.layers, flags):
        layer.trainable = flag
    return layer_table(base)


def _count(variables) -> int:
    total = 0
    for v in variables:
        n = 1
        for d in v.shape:
            n *= int(d)
        total += n
    return total


@dataclasses.dataclass
class LayerTable:
    """Per-layer trainable table with totals; shows as HTML in a notebook."""

    frame: object  # pandas.DataFrame: index, name, type, output, params, trainable
    trainable_params: int
    frozen_params: int

    @property
    def trainable_layers(self) -> list[str]:
        f = self.frame
        return list(f.loc[f["trainable"] & (f["params"] > 0), "name"])

    def totals(self) -> str:
        return (f"trainable parameters: {self.trainable_params:,}   "
                f"frozen parameters: {self.frozen_params:,}")

    def __repr__(self) -> str:
        return f"{self.frame.to_string(index=False)}\n{self.totals()}"

    def _repr_html_(self) -> str:
        styled = self.frame.style.hide(axis="index").apply(
            lambda row: ["background:#e8f5e9" if row["trainable"] else ""] * len(row),
            axis=1)
        return styled.to_html() + f"<p><b>{html.escape(self.totals())}</b></p>"


def layer_table(base: keras.Model, flags: list[bool] | None = None) -> LayerTable:
    """Index, name, type, output shape, parameters and trainable flag per layer.

    Taught in `03_fine_tuning.ipynb`. `flags` previews a setting (as from
    `unfrozen_flags`) without changing the model.
    """
    import pandas as pd

    rows = []
    trainable_total = frozen_total = 0
    for i, layer in enumerate(base.layers):
        params = _count(layer.weights)
        if flags is None:
            trainable = bool(base.trainable and layer.trainable)
            n_train = _count(layer.trainable_weights) if base.trainable else 0
        else:
            trainable = bool(flags[i])
            n_train = _count(layer.weights) if trainable else 0
        trainable_total += n_train
        frozen_total += params - n_train
        output = getattr(layer, "output", None)
        shape = tuple(output.shape[1:]) if output is not None and \
            hasattr(output, "shape") else ()
        rows.append({"index": i, "name": layer.name, "type": type(layer).__name__,
                     "output": str(shape), "params": params, "trainable": trainable})
    return LayerTable(pd.DataFrame(rows), trainable_total, frozen_total)


_BLOCK = re.compile(r"^(block_?\d+[a-z]?|conv\d+|stem|top|input)")


def block_of(layer_name: str) -> str:
    """The block a layer belongs to: 'block5' for 'block5_conv3', else its own name."""
    match = _BLOCK.match(layer_name)
    return match.group(1) if match else layer_name


def layer_blocks(base: keras.Model) -> list[tuple[str, list]]:
    """Consecutive layers grouped by block, bottom to top."""
    groups: list[tuple[str, list]] = []
    for layer in base.layers:
        block = block_of(layer.name)
        if groups and groups[-1][0] == block:
            groups[-1][1].append(layer)
        else:
            groups.append((block, [layer]))
    return groups


def describe_block(layers: list) -> str:
    """'3 conv + pool' for a VGG block, 'N layers' otherwise."""
    convs = sum(isinstance(layer, keras.layers.Conv2D) for layer in layers)
    pools = sum(isinstance(layer, (keras.layers.MaxPooling2D,
                                   keras.layers.AveragePooling2D))
                for layer in layers)
    if convs and len(layers) == convs + pools:
        return f"{convs} conv" + (" + pool" if pools else "")
    return f"{len(layers)} layers"


def unfreeze_choices(base: keras.Model) -> list[tuple[str, int]]:
    """Slider stops at block boundaries, top first: ("4: block5 (3 conv + pool)", 4).

    Taught in `03_fine_tuning.ipynb`.
    """
    choices = [("0: all frozen", 0)]
    n = 0
    for block, layers in reversed(layer_blocks(base)):
        n += len(layers)
        if n == len(base.layers) and not any(layer.weights for layer in layers):
            choices.append((f"{n}: every layer ({block} has no weights)", n))
        else:
            choices.append((f"{n}: down to {block} ({describe_block(layers)})", n))
    return choices


# The Keras releases the guard was checked with: `test_models.py` pins that
# `fit` without a new compile still trains the old set, and fails on others.
KERAS_CHECKED = ((3, 0), (3, 16))  # from 3.0 up to, not including, 3.16


def _leaf_layers(model: keras.Model) -> list:
    layers = []
    for layer in model.layers:
        layers += _leaf_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return layers


def _no_record_message(model) -> str:
    if not getattr(model, "compiled", False):
        return ("the model is not compiled: call model.compile(optimizer=..., "
                "loss=..., metrics=...) before training")
    return (f"the model {model.name!r} is not one of the course's models "
            "(tlh.models.build_classifier, build_head, build_small_cnn), so "
            "nothing recorded which weights compile was asked to train; build "
            "it with those, or with tlh.models.CourseModel(inputs, outputs), "
            "then call model.compile(...)")


def stale_layers(model: keras.Model) -> list[str]:
    """Layers whose weights changed trainable state since `model.compile`.

    Empty when fresh; raises RecompileNeededError when there is no compile
    record to compare with (not compiled, or not a `CourseModel`).
    """
    record = getattr(model, "tlh_compiled_for", None)
    if record is None or not getattr(model, "compiled", False):
        raise RecompileNeededError(_no_record_message(model))
    now = {id(v) for v in model.trainable_variables}
    changed = now ^ record.trainable_ids
    return [layer.name for layer in _leaf_layers(model)
            if any(id(v) in changed for v in layer.weights)]


def require_fresh_compile(model: keras.Model) -> None:
    """Raise when the model must be recompiled; taught in `03_fine_tuning.ipynb`.

    Keras 3 keeps training the variables it compiled for: after changing
    `trainable`, `fit` without a new `compile` silently trains the old set.
    Also refuses when there is no compile record (see `CourseModel`).
    """
    changed = stale_layers(model)
    if changed:
        shown = ", ".join(changed[:6]) + (" ..." if len(changed) > 6 else "")
        raise RecompileNeededError(
            f"`trainable` changed since compile for {len(changed)} "
            f"{'layer' if len(changed) == 1 else 'layers'} "
            f"({shown}); Keras would keep training the old set. Call "
            "model.compile(...) again, with a new optimizer, before fit.")
    if model.tlh_compiled_for.optimizer_built_for_others:
        raise RecompileNeededError(
            "the model was compiled with an optimizer already used for another "
            "set of trainable weights; fit would fail with 'Unknown variable'. "
            "Pass a new optimizer, e.g. model.compile(optimizer="
            "keras.optimizers.Adam(lr), ...).")


def build_small_cnn(input_shape, n_classes: int,
                    augmentation: keras.layers.Layer | None = None) -> keras.Model:
    """A small CNN trained from scratch, the baseline of `01_train_from_scratch.ipynb`."""
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = augmentation(inputs) if augmentation is not None else inputs
    x = keras.layers.Rescaling(1.0 / 255)(x)
    for filters in (32, 64, 128):
        x = keras.layers.Conv2D(filters, 3, activation="relu", padding="same")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax",
                                 dtype="float32")(x)  # as in head_layers
    return CourseModel(inputs, outputs, name="small_cnn")


def default_augmentation(seed: int = 42) -> keras.Sequential:
    """Flips, small rotations and zooms, seeded; taught in `01_train_from_scratch.ipynb`."""
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomRotation(0.1, seed=seed),
        keras.layers.RandomZoom(0.2, seed=seed),
    ], name="augmentation")


def is_softmax_layer(layer) -> bool:
    """True for a `Softmax` layer or a layer with a softmax activation (`predict`, `viz`)."""
    if isinstance(layer, keras.layers.Softmax):
        return True
    return getattr(getattr(layer, "activation", None), "__name__", "") == "softmax"
