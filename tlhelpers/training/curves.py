"""Loss and accuracy curves of a training run; taught in `01_train_from_scratch.ipynb`.

Lives with training (below `viz`) because the live-plot callback draws them;
`tlhelpers.viz` re-exports `plot_history`.
"""

from __future__ import annotations

from matplotlib.figure import Figure


def history_dict(history) -> dict[str, list[float]]:
    """A Keras History, a FitResult or a dict of lists, as a dict of lists."""
    if hasattr(history, "history"):
        history = history.history
    if not isinstance(history, dict):
        raise ValueError(f"history={type(history).__name__} is not valid; expected "
                         "a Keras History or a dict of metric -> list of values")
    return {k: [float(v) for v in values] for k, values in history.items()}


def plot_history(history, title: str = "", metrics=("loss", "accuracy")) -> Figure:
    """Two panels, loss and accuracy per epoch, training and validation.

    Taught in `01_train_from_scratch.ipynb`: the gap between the two lines is
    overfitting.
    """
    values = history_dict(history)
    fig = Figure(figsize=(10, 3.6), dpi=90)
    axes = fig.subplots(1, len(metrics))
    axes = axes if len(metrics) > 1 else [axes]
    for ax, metric in zip(axes, metrics):
        for key, style, label in ((metric, "o-", "training"),
                                  (f"val_{metric}", "s--", "validation")):
            series = values.get(key)
            if series:
                ax.plot(range(1, len(series) + 1), series, style, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(f"{title}: {metric}" if title else metric)
        ax.grid(alpha=0.3)
        if metric == "accuracy":
            ax.set_ylim(0, 1.02)
        if ax.lines:
            ax.legend()
        epochs = max((len(values.get(k, [])) for k in values), default=0)
        if epochs:
            ax.set_xlim(0.8, max(epochs, 2) + 0.2)
    fig.tight_layout()
    return fig
