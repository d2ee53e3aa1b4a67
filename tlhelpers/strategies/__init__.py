"""Scratch, feature extraction and fine-tuning, measured side by side.

Taught in `04_choosing_a_strategy.ipynb`: accuracy and training time against
training-set size, a sweep of unfreeze depth and learning rate, and a short
decision guide written from the numbers just measured. One module a job:
`stored` keeps the frozen layers' activations for every depth (and cuts
the models that train on them), `recipe`
trains the course's two phases on them (for `run` too), `run` trains the
strategies and the sweep, `charts` draws the tables, and `guide` writes the
decision guide. `paired` compares two models on the same test
photos (taught in `03_fine_tuning.ipynb`).

Validation picks, test grades: each run keeps its best epoch by validation
accuracy, the strategy for a size is picked on validation (`PICKED_ON`), and
every accuracy reported or drawn is on the test photos (`GRADED_ON`), which
picked nothing. Differences are read against the noise margin of the photos
they were measured on.
"""

from __future__ import annotations

from ..training import per_photo_correct  # taught in 03 as tlh.strategies.per_photo_correct
from .charts import plot_bars, plot_by_size, plot_sweep
from .guide import GRADED_ON, PICKED_ON, crossing, decision_guide, leads, noise_margin, winners
from .paired import (
                  PairedComparison,
                  mcnemar_exact,
                  paired_comparison,
                  paired_table,
                  plot_paired,
                  study_comparisons,
)
from .recipe import fine_tune_stored, train_course_models, train_head_stored
from .run import STRATEGIES, check_sizes, compare_strategies, subset_indices, unfreeze_sweep
from .stored import (
                  NotStackableError,
                  StoredActivations,
                  copy_head,
                  frozen_layer,
                  head_layers,
                  store_activations,
                  stored_layer,
                  stored_model,
                  top_model,
)

# The names the notebooks (`tlh.strategies.X`) and tests use.
__all__ = ["GRADED_ON", "PICKED_ON", "STRATEGIES", "NotStackableError", "PairedComparison",
           "StoredActivations", "check_sizes",
           "compare_strategies", "copy_head", "crossing", "decision_guide",
           "fine_tune_stored", "frozen_layer", "head_layers", "top_model",
           "leads", "mcnemar_exact", "noise_margin", "paired_comparison",
           "paired_table", "per_photo_correct", "plot_bars", "plot_by_size",
           "plot_paired", "plot_sweep", "store_activations", "stored_layer",
           "stored_model", "study_comparisons", "subset_indices", "train_course_models",
           "train_head_stored",
           "unfreeze_sweep", "winners"]
