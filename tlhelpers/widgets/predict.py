"""The photo panel: upload photos, pick a model, see the top classes and Grad-CAM.

Taught in `06_use_your_model.ipynb`. It wraps `tlhelpers.predict.predict_images`,
which the notebook also calls directly, and draws each photo with
`viz.mistakes.plot_predictions`. A bad file gets a message in the panel,
never a traceback; the other photos are still shown.

CSS classes (the browser test relies on them): `tlh-predict-panel`,
`tlh-upload`, `tlh-model-choice`, `tlh-predict-status`, `tlh-predict-results`,
`tlh-predict-photo`.
"""

from __future__ import annotations

import ipywidgets as widgets

from ..predict import LOW_CONFIDENCE, Prediction, class_names_of, predict_images
from ..viz.mistakes import plot_predictions
from .common import WIDE, has_image, message, show_figure

ACCEPT = ".jpg,.jpeg,.png,.webp"  # what the file dialog offers (JPEG, PNG, WebP)


class PredictPanel(widgets.VBox):
    """A FileUpload, a model choice, and one box per uploaded photo."""

    def __init__(self, models: dict, class_names=None, top: int | None = None,
                 layer: str | None = None):
        if not isinstance(models, dict) or not models:
            raise ValueError("models must be a non-empty dict: label -> "
                             "classifier, e.g. {'fine-tuned': tuned_model}")
        self.models = dict(models)
        first = next(iter(self.models.values()))
        self.class_names = class_names_of(first, class_names)
        for model in self.models.values():  # each must fit the names
            class_names_of(model, self.class_names)
        self.top = top
        self.layer = layer
        self.results: list[Prediction] = []
        self.figures: list = []
        self._messages: list[str] = []
        self.upload = widgets.FileUpload(accept=ACCEPT, multiple=True,
                                         description="Upload photos")
        self.upload.add_class("tlh-upload")
        self.model = widgets.ToggleButtons(options=list(self.models),
                                           value=list(self.models)[-1],
                                           description="Model", style=WIDE)
        self.model.add_class("tlh-model-choice")
        self.status = widgets.HTML(message(
            "Upload one or more photos (JPEG, PNG or WebP).", "info"))
        self.status.add_class("tlh-predict-status")
        self.output = widgets.VBox()
        self.output.add_class("tlh-predict-results")
        self.upload.observe(self._on_change, names="value")
        self.model.observe(self._on_change, names="value")
        super().__init__([
            widgets.HTML("<b>Your own photos: what does the model say, and where "
                         "does it look?</b>"),
            self.model, self.upload, self.status, self.output])
        self.add_class("tlh-predict-panel")

    def predict(self, files=None) -> list[Prediction]:
        """Predict `files` (default: the uploads) with the chosen model; show them."""
        files = self.upload.value if files is None else files
        model = self.models[self.model.value]
        self.results = predict_images(model, files, self.class_names, self.top)
        self.figures = []
        self._messages = []
        boxes = [self._box(result, model) for result in self.results]
        self.output.children = boxes
        bad = sum(not r.ok for r in self.results)
        text = (f"{len(self.results) - bad} photo(s) predicted by the "
                f"{self.model.value} model")
        if bad:
            text += f"; {bad} file(s) could not be used (see below)"
        self.status.value = message(text + ".", "warning" if bad else "ok")
        return self.results

    def _box(self, result: Prediction, model) -> widgets.VBox:
        parts = []
        if result.ok:
            figure = plot_predictions([result], model, self.layer)
            self.figures.append(figure)
            picture = widgets.Output()
            show_figure(picture, figure)
            parts.append(picture)
            if result.note:
                parts.append(self._say(
                    f"{result.source}: {result.note} (top probability "
                    f"{result.probability:.0%}, below {LOW_CONFIDENCE:.0%})",
                    "warning"))
        else:
            parts.append(self._say(
                f"{result.source}: cannot use this file: {result.error}", "error"))
        box = widgets.VBox(parts)
        box.add_class("tlh-predict-photo")
        return box

    def _say(self, text: str, kind: str) -> widgets.HTML:
        self._messages.append(text)
        return widgets.HTML(message(text, kind))

    @property
    def shows_image(self) -> bool:
        """True when at least one photo is drawn (what the tests check)."""
        return any(has_image(part) for box in self.output.children
                   for part in box.children if isinstance(part, widgets.Output))

    def messages(self) -> list[str]:
        """The notes and errors shown under the photos, as plain text."""
        return list(self._messages)

    def _on_change(self, _change) -> None:
        if not self.upload.value:
            return
        try:
            self.predict()
        except Exception as err:  # shown in the panel: never a traceback
            self.output.children = ()
            self._messages = []
            self.status.value = message(f"Could not predict: {err}", "error")

    def __repr__(self) -> str:
        return (f"PredictPanel(models={list(self.models)}, "
                f"photos={len(self.results)})")


def predict_panel(models, class_names=None, top: int | None = None,
                  layer: str | None = None) -> PredictPanel:
    """The upload widget over `predict_images`; taught in `06_use_your_model.ipynb`.

    `models`: label -> classifier (e.g. {"head trained": ..., "fine-tuned":
    ...}), or one classifier. Each photo shows its top classes, its Grad-CAM
    (`layer`, default the last conv layer) and a note when the top is low.
    """
    if not isinstance(models, dict):
        models = {"model": models}
    return PredictPanel(models, class_names, top, layer)
