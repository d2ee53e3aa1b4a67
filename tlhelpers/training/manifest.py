"""What a saved course model was trained on, kept beside it, so it is never reused on other data.

Used by `save_model` (notebook 03 saves its two models) and by the loaders of
notebooks 05 and 06. A `.keras` file says nothing about the photos, classes,
profile or weights it was trained with, and the later notebooks find 03's
models by name: without this, a model trained on other photos, other classes
or random weights would be reused without a word.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import atomic, config

# Compared on load, in this order; a field either side lacks is not compared.
FIELDS = ("profile", "dataset", "classes", "image_size", "weights", "photos")


class ModelMismatchError(ValueError):
    """A saved model was trained on something else than this run uses."""


def manifest_path(model_path: str | Path) -> Path:
    """`03_fine_tuned.keras` -> `03_fine_tuned.manifest.json`, beside it."""
    path = Path(model_path)
    return path.with_name(f"{path.stem}.manifest.json")


def _base_weights(model) -> str | None:
    """'imagenet', 'random' or a file, from the pretrained base inside `model`."""
    for layer in [model, *getattr(model, "layers", [])]:
        weights = getattr(layer, "tlh_weights", None)
        if weights is not None:
            return str(weights)
    return None


def describe(model=None, class_names=None, files=None, weights=None) -> dict:
    """This run's side of a manifest: profile, dataset, and what is known of the rest.

    `files`: the `SplitFiles` the model trained on (`splits.files`): their
    fingerprint (`photos_fingerprint`) changes when a photo is added,
    removed, renamed or resized. `weights`:
    the base's (`base_model.tlh_weights`), when `model` does not carry them.
    """
    from ..data import registry

    profile = config.get_profile()
    found = {"profile": profile.name, "dataset": registry.requested_dataset(),
             "image_size": profile.image_size}
    if class_names is not None:
        found["classes"] = [str(name) for name in class_names]
    if model is not None:
        found["image_size"] = int(model.input_shape[1])
        weights = _base_weights(model)
        if weights is not None:
            found["weights"] = weights
    if weights is not None:
        found["weights"] = str(weights)
    if files is not None:
        found["photos"] = photos_fingerprint(files)
    return found


def photos_fingerprint(files) -> str:
    """A digest of the training and validation photos: name within the dataset, size, label.

    Unlike the feature caches' fingerprint it leaves out where the folder
    lies and when it was copied: moving the course keeps its models usable,
    while a photo added, removed, renamed or resized changes it.
    """
    import hashlib
    import os

    root = Path(getattr(files, "root", None) or ".").resolve()
    digest = hashlib.sha256()
    for path, label in list(files.train) + list(files.val):
        resolved = Path(path).resolve()
        try:
            name = resolved.relative_to(root).as_posix()
        except ValueError:
            name = resolved.name
        digest.update(f"{name}|{os.stat(resolved).st_size}|{int(label)}\n".encode())
    return digest.hexdigest()[:16]


def write(model_path: str | Path, manifest: dict) -> Path:
    """Save `manifest` beside the model, atomically."""
    path = manifest_path(model_path)
    with atomic.replacing(path, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n",
                             encoding="utf-8")
    return path


def read(model_path: str | Path) -> dict | None:
    """The manifest saved beside a model, or None when there is none or it is unreadable."""
    try:
        found = json.loads(manifest_path(model_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def differences(saved: dict, now: dict) -> list[str]:
    """'dataset: saved for X, this run uses Y' for each field that differs."""
    return [f"{field}: saved for {saved[field]!r}, this run uses {now[field]!r}"
            for field in FIELDS
            if field in saved and field in now and saved[field] != now[field]]


def check(model_path: str | Path, now: dict, retrain: str) -> None:
    """Raise `ModelMismatchError` naming what differs; `retrain`: the notebook to run again.

    A model saved without a manifest (before manifests, or by hand) is
    refused too: nothing says what it was trained on.
    """
    path = Path(model_path)
    saved = read(path)
    if saved is None:
        raise ModelMismatchError(
            f"{path.name} has no record of what it was trained on "
            f"({manifest_path(path).name} is missing): run {retrain} again so it "
            "saves the model with one")
    found = differences(saved, now)
    if found:
        raise ModelMismatchError(
            f"{path.name} was trained on something else than this run uses "
            f"({'; '.join(found)}): run {retrain} again under this "
            f"{config.PROFILE_ENV} and {config.DATASET_ENV}")
