"""Two models graded on the same test photos: the gain, a paired interval, McNemar's p.

Taught in `03_fine_tuning.ipynb`. Two accuracies measured on the same photos
are not independent samples: most photos are right (or wrong) for both
models, and only the photos on which they disagree carry the difference. A
paired comparison looks at exactly those. The bootstrap draws photos with
replacement (each photo with both models' results) for a 95% interval of the
gain; McNemar's exact test asks how likely a split of the disagreements at
least this uneven would be if neither model were better (a fair coin).
The method is that of `bench/default_profile_study.py` (`paired_stats`), so a
run and the study's record read alike.
"""

from __future__ import annotations

import dataclasses
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from .. import config
from ..figures import accuracy_axis, colour, new_figure

BOOTSTRAP = 10_000
# The default profile's study: fine-tuning's gain over the head phase on the
# shipped test photos, three seeds.
STUDY = Path("bench") / "results" / "2026-12-04-default-profile-study.json"


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """McNemar's exact two-sided p: the disagreements against a fair coin.

    `only_a`, `only_b`: photos only A, only B classifies right. The photos both
    get right (or wrong) say nothing about which model is better.
    """
    only_a, only_b = int(only_a), int(only_b)
    if only_a < 0 or only_b < 0:
        raise ValueError(f"counts must be >= 0, got {only_a} and {only_b}")
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1))
    return float(min(Fraction(1), Fraction(2 * tail, 2 ** n)))


def bootstrap_interval(diff, resamples: int = BOOTSTRAP, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the mean of `diff` (one value per photo), photos resampled."""
    diff = np.asarray(diff, dtype=float)
    if diff.ndim != 1 or not len(diff):
        raise ValueError("diff must hold one value per photo, at least one")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diff), size=(int(resamples), len(diff)))
    boot = diff[idx].mean(axis=1)
    tail = 100 * (1 - level) / 2
    return float(np.percentile(boot, tail)), float(np.percentile(boot, 100 - tail))


@dataclasses.dataclass(frozen=True)
class PairedComparison:
    """Model B against model A on the same photos (`gain` = accuracy B - accuracy A)."""

    names: tuple[str, str]
    accuracy_a: float
    accuracy_b: float
    gain: float
    ci95: tuple[float, float]
    only_a: int            # photos only A gets right
    only_b: int            # photos only B gets right
    p_value: float         # McNemar's exact test
    n: int                 # photos
    label: str = "this run"

    @property
    def excludes_zero(self) -> bool:
        """The 95% interval lies wholly above or wholly below zero."""
        return self.ci95[0] > 0 or self.ci95[1] < 0

    def row(self) -> dict:
        """The comparison as a table row: accuracies in %, gain in points."""
        a, b = self.names
        lo, hi = (100 * v for v in self.ci95)
        return {f"{a}, test %": round(100 * self.accuracy_a, 1),
                f"{b}, test %": round(100 * self.accuracy_b, 1),
                "gain, points": round(100 * self.gain, 1),
                "95% interval, points": f"{lo:+.1f} to {hi:+.1f}",
                f"only {a} right": self.only_a,
                f"only {b} right": self.only_b,
                "McNemar p": float(f"{self.p_value:.2g}"),
                "test photos": self.n}

    def summary(self) -> str:
        """One sentence with the numbers."""
        a, b = self.names
        lo, hi = (100 * v for v in self.ci95)
        return (f"{b} {self.accuracy_b:.1%} against {a} {self.accuracy_a:.1%} on "
                f"{self.n} test photos: {100 * self.gain:+.1f} points (95% "
                f"interval {lo:+.1f} to {hi:+.1f}); {self.only_b} photos only "
                f"{b} gets right, {self.only_a} only {a} (McNemar p = "
                f"{self.p_value:.2g})")


def paired_comparison(correct_a, correct_b, names=("A", "B"), *,
                      resamples: int = BOOTSTRAP, seed: int = 0,
                      label: str = "this run") -> PairedComparison:
    """Compare two models' per-photo results on the same photos.

    Taught in `03_fine_tuning.ipynb`. `correct_a`, `correct_b`: for each photo,
    in the same order, whether model A (the baseline) and model B got it right
    (`per_photo_correct`). `names`: what to call A and B in tables and charts.
    `seed`: of the bootstrap, so the interval is the same on every run.
    """
    a = np.asarray(correct_a)
    b = np.asarray(correct_b)
    if a.ndim != 1 or a.shape != b.shape or not len(a):
        raise ValueError(f"correct_a and correct_b must be one result per photo "
                         f"for the same photos; got shapes {a.shape} and {b.shape}")
    if not (np.isin(a, (0, 1)).all() and np.isin(b, (0, 1)).all()):
        raise ValueError("correct_a and correct_b must hold True/False (or 1/0) "
                         "per photo")
    a, b = a.astype(bool), b.astype(bool)
    if len(names) != 2:
        raise ValueError(f"names must be two names, got {names!r}")
    only_a, only_b = int((a & ~b).sum()), int((b & ~a).sum())
    diff = b.astype(float) - a.astype(float)
    return PairedComparison(
        names=(str(names[0]), str(names[1])), accuracy_a=float(a.mean()),
        accuracy_b=float(b.mean()), gain=float(diff.mean()),
        ci95=bootstrap_interval(diff, resamples, seed), only_a=only_a,
        only_b=only_b, p_value=mcnemar_exact(only_a, only_b), n=len(a),
        label=label)


def paired_table(comparisons):
    """A table with one row per comparison (all of the same two names).

    Taught in `03_fine_tuning.ipynb`: this run beside the study's seeds.
    """
    import pandas as pd

    comparisons = list(comparisons)
    if not comparisons:
        raise ValueError("comparisons is empty: nothing to tabulate")
    names = {c.names for c in comparisons}
    if len(names) > 1:
        raise ValueError(f"every comparison must compare the same two names; got "
                         f"{sorted(names)}")
    frame = pd.DataFrame([c.row() for c in comparisons],
                         index=[c.label for c in comparisons])
    frame.index.name = "run"
    return frame


def plot_paired(comparison: PairedComparison, references=(), title: str | None = None,
                chance: float | None = None, target: float | None = None):
    """Test accuracy of both models, the photos only one gets right, the gain.

    Taught in `03_fine_tuning.ipynb`. `references`: other comparisons of the
    same two models (e.g. the study's seeds), drawn in grey beside this one in
    the gain panel. `chance`: 1 / classes, a dotted line on the accuracy axis;
    `target`: a gain to mark (dashed). Returns the Figure.
    """
    a, b = comparison.names
    fig, axes = new_figure(1, 3, width=13.0, height=3.9)
    acc_ax, split_ax, gain_ax = axes[0]

    bars = acc_ax.bar([0, 1], [comparison.accuracy_a, comparison.accuracy_b],
                      color=[colour(0), colour(1)])
    acc_ax.bar_label(bars, fmt="{:.1%}", fontsize=8)
    acc_ax.set_xticks([0, 1], [a, b], fontsize=8)
    accuracy_axis(acc_ax, chance, top=1.12)
    acc_ax.set_ylabel("test accuracy")
    acc_ax.set_title(f"test accuracy ({comparison.n} test photos)")
    if chance is not None:
        acc_ax.legend(fontsize=8, loc="lower right")

    bars = split_ax.bar([0, 1], [comparison.only_a, comparison.only_b],
                        color=[colour(0), colour(1)])
    split_ax.bar_label(bars, fontsize=8)
    split_ax.set_xticks([0, 1], [f"only {a}\nright", f"only {b}\nright"], fontsize=8)
    split_ax.set_ylabel("test photos")
    split_ax.set_ylim(0, 1.15 * max(comparison.only_a, comparison.only_b, 1))
    split_ax.set_title(f"where they disagree (McNemar p = {comparison.p_value:.2g})")

    runs = [comparison, *references]
    for i, run in enumerate(runs):
        lo, hi = (100 * v for v in run.ci95)
        gain = 100 * run.gain
        gain_ax.errorbar([i], [gain], yerr=[[gain - lo], [hi - gain]], fmt="D",
                         color=colour(1) if i == 0 else "grey", capsize=4, ms=6)
    gain_ax.axhline(0, color="black", linewidth=0.8)
    if target is not None:
        gain_ax.axhline(100 * target, color="tab:red", linestyle="--", linewidth=1,
                        label=f"target: {100 * target:+.0f} points")
        gain_ax.legend(fontsize=8, loc="lower right")
    gain_ax.set_xticks(range(len(runs)), [r.label.replace(" (", "\n(") for r in runs],
                       fontsize=8)
    gain_ax.set_xlim(-0.6, len(runs) - 0.4)
    gain_ax.set_ylabel("points (test)")
    gain_ax.set_title(f"{b} minus {a}, 95% interval")
    gain_ax.grid(axis="y", alpha=0.3)
    for ax in (acc_ax, split_ax):
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title or f"{b} against {a}, on the same test photos")
    return fig


def study_comparisons(per_class: int = 160, lr: float = 5e-5, epochs: int = 5,
                      path: str | Path | None = None,
                      names=("head phase", "fine-tuned")) -> list[PairedComparison]:
    """The default-profile study's seeds, as comparisons (empty if no record).

    Taught in `03_fine_tuning.ipynb`. Reads the study's summary for
    `per_class` training photos per class, block5 at `lr` for `epochs`
    epochs (`bench/results/2026-12-04-default-profile-study.json` in the
    repository; an installed package has no `bench/`). Each seed's label
    says its seed and the record's date.
    """
    path = Path(path) if path is not None else config.PROJECT_ROOT / STUDY
    if not path.is_file():
        return []
    record = json.loads(path.read_text(encoding="utf-8"))
    n = int(record.get("split", {}).get("test_photos", 0))
    for entry in record.get("summary", []):
        if (entry.get("per_class") == per_class and entry.get("epochs") == epochs
                and math.isclose(entry.get("lr", 0.0), lr)):
            return [PairedComparison(
                names=(str(names[0]), str(names[1])), accuracy_a=s["head"],
                accuracy_b=s["fine_tuned"], gain=s["gain"], ci95=tuple(s["ci95"]),
                only_a=s["only_head_right"], only_b=s["only_fine_tuned_right"],
                p_value=s["mcnemar_p"], n=n,
                label=f"study seed {s['seed']} ({record.get('date', '?')})")
                for s in entry.get("seeds", [])]
    return []
