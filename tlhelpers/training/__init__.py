"""Training: guarded fit, head then fine-tune, the range test, callbacks, the run log.

Taught in `01`-`03`; reused by the widgets and `python -m tlhelpers run`.
"""

from .callbacks import BestWeights, LivePlot, RunLogger
from .curves import history_dict, plot_history
from .head import HeadResult, retrain_head
from .lr_finder import LRRangeResult, lr_range_test, suggest
from .precision import computing_in
from .recipes import (
                      FitResult,
                      check_epochs,
                      check_lr,
                      compile_for_training,
                      fine_tune,
                      fit,
                      fresh_dataset,
                      load_saved_model,
                      per_photo_correct,
                      random_states,
                      save_model,
                      saved_model_path,
                      set_random_states,
                      test_accuracy,
                      train_head,
)
from .runlog import RunLog

__all__ = [
    "BestWeights", "LivePlot", "RunLogger", "history_dict", "plot_history",
    "LRRangeResult", "lr_range_test", "suggest", "FitResult", "check_epochs",
    "check_lr", "compile_for_training", "fine_tune", "fit", "load_saved_model",
    "save_model", "saved_model_path", "train_head", "RunLog", "fresh_dataset",
    "random_states", "set_random_states", "HeadResult", "retrain_head",
    "test_accuracy", "per_photo_correct", "computing_in",
]
