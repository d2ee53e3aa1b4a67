"""Use a trained classifier on new photos: top classes, a doubt note, a take-home file.

Taught in `06_use_your_model.ipynb`; also `python -m tlhelpers predict`.
Photos are read as the training pipeline reads them (`data.images.load_rgb`:
EXIF orientation, any colour mode to RGB, JPEG draft decoding, bilinear
resize), so a validation photo gets the same probabilities here as in the
notebooks. A photo that cannot be read gives a result with an `error`, never
an exception: one bad file among many costs only itself.
"""

from __future__ import annotations

import dataclasses
import io
import os
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import keras
import numpy as np
from PIL import Image, UnidentifiedImageError

from . import atomic
from . import models as _models  # noqa: F401  (registers the course's layers)
from .data.images import load_rgb
from .data.scan import looks_like_text
from .models import is_softmax_layer

# Below this top probability the result carries NOT_SURE: a softmax always
# sums to 1, so a photo of none of the classes still gets a "best" class.
LOW_CONFIDENCE = 0.5
NOT_SURE = "not sure: maybe none of these classes"
DEFAULT_TOP = 3  # classes listed per photo (fewer when the model has fewer)
# The notebooks that save the two course models, in the order they are looked for:
# 05 trains its own pair only when 03's are missing.
COURSE_MODELS = (("03_head_trained", "03_fine_tuned"),
                 ("05_head_trained", "05_fine_tuned"))


class ImageError(ValueError):
    """A photo that cannot be used; the message says why, for a learner."""


class ModelFileError(ValueError):
    """A file that is not a Keras model, or one `safe_mode` refuses to load."""


@dataclasses.dataclass
class Prediction:
    """What the model said about one photo, or (`error`) why it could not say."""

    source: str                               # file name, or "image 2" for bytes
    top: list[tuple[str, float]]              # (class, probability), best first
    image: np.ndarray | None = None           # uint8 RGB, as the model saw it
    probabilities: np.ndarray | None = None   # every class; sums to 1
    note: str | None = None                   # NOT_SURE when the top is low
    error: str | None = None                  # the photo could not be read

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def label(self) -> str | None:
        """The most likely class (None when the photo could not be read)."""
        return self.top[0][0] if self.top else None

    @property
    def probability(self) -> float | None:
        return self.top[0][1] if self.top else None

    def __str__(self) -> str:
        if not self.ok:
            return f"{self.source}: error: {self.error}"
        text = ", ".join(f"{name} {p:.0%}" for name, p in self.top)
        return f"{self.source}: {text}" + (f" ({self.note})" if self.note else "")

    def to_json(self) -> dict:
        """One object of `predict --json`: image, top classes, note, error."""
        return {"image": self.source, "error": self.error, "note": self.note,
                "top": [{"class": name, "probability": round(p, 6)}
                        for name, p in self.top]}


# --- reading one photo --------------------------------------------------------

def _decode(data: bytes | Path, size: int) -> np.ndarray:
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    with warnings.catch_warnings():
        # Pillow warns between its two limits; check_size reports those first.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return load_rgb(stream, size, shrink_large_jpeg=True)


def _head(data: bytes | Path) -> bytes:
    if isinstance(data, bytes):
        return data[:512]
    with open(data, "rb") as handle:
        return handle.read(512)


def read_image(data: bytes | str | os.PathLike, size: int) -> np.ndarray:
    """A photo (a path or the file's bytes) as (size, size, 3) uint8 RGB.

    Taught in `06_use_your_model.ipynb`. Raises ImageError with a reason a
    learner can act on: missing, empty, not an image, truncated, too large.
    """
    if not isinstance(data, bytes):
        data = Path(data)
        if not data.exists():
            raise ImageError("no such file")
        if data.is_dir():
            raise ImageError("a folder, not an image file")
        if data.stat().st_size == 0:
            raise ImageError("empty file")
    elif not data:
        raise ImageError("empty file")
    try:
        return _decode(data, size)
    except UnidentifiedImageError:
        if looks_like_text(_head(data)):
            raise ImageError("not an image (the file holds text or HTML)") from None
        raise ImageError("not an image (format not recognised: use JPEG, PNG "
                         "or WebP)") from None
    except Image.DecompressionBombError as err:  # over Pillow's own hard limit
        raise ImageError(f"too large: {err}; save a smaller copy") from None
    except ValueError as err:
        if str(err).startswith("too large"):
            raise ImageError(f"{err}; save a smaller copy") from None
        raise ImageError(f"cannot be decoded: {err}") from None
    except OSError as err:
        if "truncated" in str(err).lower():
            raise ImageError("truncated (the file ends before the image does: "
                             "copy or download it again)") from None
        raise ImageError(f"cannot be decoded: {err}") from None
    except Exception as err:  # any decoder failure is a bad photo, not a crash
        raise ImageError(f"cannot be decoded: {type(err).__name__}: {err}") from None


def _sources(images) -> list[tuple[str, object]]:
    """(name, bytes or path or a reason it is neither) for each input."""
    if isinstance(images, (str, os.PathLike, bytes, bytearray, memoryview, Mapping)):
        images = [images]
    out = []
    for i, item in enumerate(images, start=1):
        name = f"image {i}"
        if isinstance(item, Mapping):  # an ipywidgets FileUpload entry
            name, item = str(item.get("name") or name), item.get("content")
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            name, item = item
        if isinstance(item, (bytes, bytearray, memoryview)):
            out.append((name, bytes(item)))
        elif isinstance(item, (str, os.PathLike)):
            out.append((name if name != f"image {i}" else Path(item).name,
                        Path(item)))
        else:
            out.append((name, ImageError(
                f"{type(item).__name__} is not a photo: pass a file path or the "
                "file's bytes")))
    return out


# --- the model's answer ---------------------------------------------------------

def input_size(model, image_size: int | None = None) -> int:
    """The square side the model reads; `image_size` must agree when given."""
    shape = tuple(model.input_shape[1:3])
    fixed = shape[0] if None not in shape and shape[0] == shape[1] else None
    if image_size is None:
        if fixed is None:
            raise ValueError(f"the model takes inputs of shape {shape}: pass "
                             "image_size= (the side the model was trained on)")
        return int(fixed)
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) \
            or image_size < 8:
        raise ValueError(f"image_size={image_size!r} is not valid; expected an "
                         "integer >= 8")
    if fixed is not None and image_size != fixed:
        raise ValueError(f"image_size={image_size} does not match the model, which "
                         f"reads {fixed}x{fixed} images; leave image_size=None")
    return int(image_size)


def class_names_of(model, class_names=None) -> list[str]:
    """`class_names`, else the names saved in the model, else 'class 0', 'class 1'..."""
    n = int(model.output_shape[-1])
    if class_names is None:
        class_names = getattr(model, "class_names", None)
    if class_names is None:
        return [f"class {i}" for i in range(n)]
    names = [str(c) for c in class_names]
    if len(names) != n:
        raise ValueError(f"class_names has {len(names)} names but the model "
                         f"predicts {n} classes")
    return names


def check_top(top, n_classes: int) -> int:
    """How many classes to list: an integer in 1..n_classes (None: DEFAULT_TOP)."""
    if top is None:
        return min(DEFAULT_TOP, n_classes)
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) \
            or not 1 <= top <= n_classes:
        raise ValueError(f"top={top!r} is not valid; expected an integer in "
                         f"1..{n_classes} (the model has {n_classes} classes)")
    return int(top)


def ends_in_softmax(model) -> bool:
    """True when the model's last layer (inside a nested model too) is a softmax."""
    import keras

    last = model.layers[-1] if getattr(model, "layers", None) else model
    if isinstance(last, keras.Model) and last is not model:
        return ends_in_softmax(last)
    return is_softmax_layer(last)


def class_probabilities(model, images: np.ndarray) -> np.ndarray:
    """(N, n_classes) probabilities of raw 0..255 images; rows sum to 1.

    The course's models end in a softmax; a model whose last layer is not one
    outputs raw scores (logits), and gets one applied here. Decided from the
    model, not from its numbers: scores can happen to sum to 1.
    """
    batch = np.asarray(images, dtype=np.float32)
    return as_probabilities(model, model.predict(batch, verbose=0, batch_size=32))


def as_probabilities(model, out) -> np.ndarray:
    """`model`'s (N, n_classes) outputs as probabilities: a softmax where it has none."""
    out = np.asarray(out, np.float64)
    if out.ndim != 2:
        raise ValueError(f"the model outputs shape {out.shape}; expected "
                         "(N, n_classes) from a classifier")
    if not ends_in_softmax(model):
        out = np.exp(out - out.max(axis=1, keepdims=True))
    return out / out.sum(axis=1, keepdims=True)


def predict_images(model, images, class_names=None, top: int | None = None,
                   image_size: int | None = None) -> list[Prediction]:
    """The model's top classes for each photo; taught in `06_use_your_model.ipynb`.

    images: file paths, the files' bytes, (name, bytes) pairs or ipywidgets
        FileUpload entries, mixed freely (one alone is fine too).
    class_names: default the names saved in the model (`save_take_home`).
    top: how many classes to list (default 3, or all when fewer).
    image_size: default the model's input size.
    Returns one Prediction per input, in order; an unreadable photo gets an
    `error` and the others are still predicted.
    """
    names = class_names_of(model, class_names)
    top = check_top(top, len(names))
    size = input_size(model, image_size)
    results = []
    for name, data in _sources(images):
        try:
            if isinstance(data, ImageError):
                raise data
            results.append(Prediction(name, [], image=read_image(data, size)))
        except ImageError as err:
            results.append(Prediction(name, [], error=str(err)))
    good = [r for r in results if r.ok]
    if good:
        probs = class_probabilities(model, np.stack([r.image for r in good]))
        for result, row in zip(good, probs):
            order = np.argsort(-row, kind="stable")[:top]
            result.probabilities = row
            result.top = [(names[i], float(row[i])) for i in order]
            if row[order[0]] < LOW_CONFIDENCE:
                result.note = NOT_SURE
    return results


# --- a file to take home ----------------------------------------------------------

@keras.saving.register_keras_serializable(package="tlhelpers")
class TakeHomeModel(keras.Model):
    """A classifier whose `.keras` file carries its class names.

    Taught in `06_use_your_model.ipynb`. The same layers as the model it wraps
    (preprocessing included), plus `class_names` in its config, so a fresh
    process needs only `import tlhelpers.predict` and the file.
    """

    def get_config(self):
        return {**super().get_config(), "class_names": list(self.class_names)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        names = config.pop("class_names", None)
        model = super().from_config(config, custom_objects=custom_objects)
        model.class_names = tuple(names) if names is not None else None
        return model


def save_take_home(model, path, class_names) -> Path:
    """Save `model` with its class names as one `.keras` file; returns the path.

    Taught in `06_use_your_model.ipynb`. The file holds the preprocessing (a
    layer of the course's models), the weights and the class names; load it
    with `load_model` or `keras.saving.load_model(path, safe_mode=True)`
    after `import tlhelpers.predict`.
    """
    path = Path(path).expanduser()
    if path.suffix != ".keras":
        raise ValueError(f"path={str(path)!r} is not valid; expected a name "
                         "ending in .keras")
    names = class_names_of(model, class_names)
    input_size(model)  # a fixed input size: the file must say what it reads
    wrapped = TakeHomeModel(model.inputs, model.outputs, name=model.name)
    wrapped.class_names = tuple(names)
    # A kill mid-save must not cost the file a learner saved last time.
    with atomic.replacing(path, suffix=".keras") as tmp:
        wrapped.save(tmp)
    return path


def load_model(path) -> keras.Model:
    """A `.keras` classifier loaded with `safe_mode=True` (no code runs from the file).

    Taught in `06_use_your_model.ipynb`. Raises FileNotFoundError when the
    file is missing and ModelFileError when it is not a Keras model file, or
    holds something safe mode refuses (a Lambda layer's Python code).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist" if not path.exists()
                                else f"{path} is a folder, not a model file")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path) \
            and _head(path).startswith(b"PK"):
        # A zip's index is at its end: a file cut short starts as one.
        raise ModelFileError(f"{path.name} is damaged: it starts as a Keras model "
                             "file but is cut short (a save or copy was "
                             "interrupted); save or copy it again")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path.name} is not a Keras model file (expected a "
                             ".keras file, as model.save('name.keras') writes)")
    try:
        _models.check_model_archive(path)
    except (ValueError, zipfile.BadZipFile) as err:
        raise ModelFileError(str(err)) from None
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as err:  # Keras raises several types for a bad archive
        text = str(err).strip().splitlines()[0] if str(err).strip() else \
            type(err).__name__
        if "safe_mode" in str(err):
            raise ModelFileError(f"refused {path.name}: it holds Python code that "
                                 "safe mode will not run (a Lambda layer); "
                                 "rebuild the model without it") from None
        raise ModelFileError(f"{path.name} is not a model Keras can load: "
                             f"{text}") from None


def course_models(image_size: int | None = None, *, class_names=None,
                  files=None, weights=None) -> dict[str, keras.Model]:
    """{"head trained": ..., "fine-tuned": ...}: the two models notebook 03 saved.

    Taught in `06_use_your_model.ipynb`; notebook 05 uses it too. Raises
    FileNotFoundError telling the learner to run `03_fine_tuning.ipynb` when
    they are missing, and `ModelMismatchError` (a ValueError) naming what
    differs when they were trained under another profile, on other photos
    (`files`: this run's `splits.files`), other classes or other weights
    (`weights`: this run's `base_model.tlh_weights`).
    """
    from . import config
    from .training import load_saved_model, manifest, saved_model_path

    size = config.get_profile().image_size if image_size is None else image_size
    for head_name, tuned_name in COURSE_MODELS:
        paths = saved_model_path(head_name), saved_model_path(tuned_name)
        if all(p.exists() for p in paths):
            break
    else:
        raise FileNotFoundError(
            "the models of notebook 03 are missing (looked for "
            f"{saved_model_path(COURSE_MODELS[0][1])}): run "
            "03_fine_tuning.ipynb first, under the same TLH_PROFILE and "
            "TLH_HOME, then run this notebook again")
    loaded = {"head trained": load_saved_model(paths[0]),
              "fine-tuned": load_saved_model(paths[1])}
    # This run's side, once: the photos' fingerprint reads every file's size.
    now = manifest.describe(class_names=class_names, files=files, weights=weights)
    now["image_size"] = size
    for model, path in zip(loaded.values(), paths):
        if tuple(model.input_shape[1:]) != (size, size, 3):
            raise manifest.ModelMismatchError(
                f"{path.name} reads {model.input_shape[1]}px images, but this "
                f"profile uses {size}px: it was saved under another profile. "
                "Run 03_fine_tuning.ipynb again under this profile")
        manifest.check(path, now, retrain="03_fine_tuning.ipynb")
    return loaded
