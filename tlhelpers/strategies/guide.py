"""The decision guide: which strategy to choose, written from the measured tables.

Taught in `04_choosing_a_strategy.ipynb`. Strategies are ranked on the
validation accuracy of the last epoch (`RANKED_ON`): the validation set does
not also pick the epoch, which would flatter the winner (all the more for a
strategy with more epochs). A lead smaller than the noise margin is a tie.
"""

from __future__ import annotations

import math

RANKED_ON = "final_val_accuracy"  # the last epoch's: see the module docstring


def noise_margin(accuracy: float, n_val: int) -> float:
    """Two binomial standard errors of an accuracy measured on `n_val` images."""
    p = min(max(float(accuracy), 0.05), 0.95)
    return 2 * math.sqrt(p * (1 - p) / max(int(n_val), 1))


def winners(results):
    """Per size: the best strategy, the runner-up, whether the lead beats noise,
    and the choice (the fastest strategy within noise of the best).

    Ranked on `final_val_accuracy` (the last epoch's), not on the best epoch's.
    """
    import pandas as pd

    n_val = int(results.attrs.get("n_val", 100))
    rows = []
    for size, part in results.groupby("images_per_class"):
        ranked = part.sort_values(RANKED_ON, ascending=False)
        first = ranked.iloc[0]
        second = ranked.iloc[1] if len(ranked) > 1 else None
        lead = (first[RANKED_ON] - second[RANKED_ON]
                if second is not None else float("nan"))
        margin = noise_margin(first[RANKED_ON], n_val)
        close = part[part[RANKED_ON] > first[RANKED_ON] - margin]
        choice = close.sort_values("seconds").iloc[0]["strategy"]
        rows.append({"images_per_class": size, "best": first["strategy"],
                     "final_val_accuracy": first[RANKED_ON],
                     "runner_up": None if second is None else second["strategy"],
                     "lead": lead, "noise": margin, "clear": bool(lead >= margin),
                     "choice": choice})
    return pd.DataFrame(rows)


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def _pts(value: float) -> str:
    return f"{100 * abs(value):.0f} points"


def _name(strategy: str) -> str:
    return "feature extraction" if strategy == "feature-extraction" else strategy


def _measured(table, results) -> list[str]:
    lines = ["### What this run measured", ""]
    for _, row in table.iterrows():
        best = _name(row["best"])
        head = (f"- **{int(row['images_per_class'])} images per class:** {best} scored "
                f"best ({_pct(row['final_val_accuracy'])} after the last epoch)")
        if row["runner_up"] is None:
            lines.append(head + ".")
            continue
        other = _name(row["runner_up"])
        if row["lead"] == 0:
            tail = f", tied with {other}"
        elif row["clear"]:
            tail = (f", {_pts(row['lead'])} ahead of {other}, more than the noise "
                    f"margin of about {_pts(row['noise'])}")
        else:
            tail = (f", only {_pts(row['lead'])} ahead of {other}: within the noise "
                    f"margin of about {_pts(row['noise'])}, a tie")
        lines.append(head + tail + ".")
    largest = results[results["images_per_class"] == results["images_per_class"].max()]
    secs = largest.set_index("strategy")["seconds"]
    if len(secs) > 1:
        parts = [f"{_name(name)} {value:.1f} s" for name, value in secs.items()]
        how = ("loaded from disk" if results.attrs.get("prepare_cached")
               else "computed and stored")
        prepare = results.attrs.get("prepare_seconds", 0)
        size = int(largest["images_per_class"].iloc[0])
        lines.append(f"- **Training time** at {size} "
                     f"images per class: {', '.join(parts)}. The activations of "
                     f"the frozen layers took {prepare:.0f} s once ({how}).")
    return lines


def _choices(table) -> list[str]:
    lines = ["", "### A choice from these numbers", "",
             "Rule: among the strategies within the noise margin of the best, "
             "take the one that trained fastest.", ""]
    for _, row in table.iterrows():
        lines.append(f"- {int(row['images_per_class'])} images per class: "
                     f"**{_name(row['choice'])}**.")
    return lines


def _advice(results, n_val: int) -> list[str]:
    acc = results.set_index(["strategy", "images_per_class"])[RANKED_ON]
    sizes = sorted(set(results["images_per_class"]))
    small, large = sizes[0], sizes[-1]

    def get(strategy, size):
        return float(acc.get((strategy, size), float("nan")))

    def compare(a, name_a, b, name_b):
        noise = noise_margin(max(a, b), n_val)
        if a - b >= noise:
            return f"{name_a} clearly ahead"
        if b - a >= noise:
            return f"{name_b} clearly ahead"
        return "a tie within noise"

    fe, ft, sc = "feature extraction", "fine-tuning", "scratch"
    fe_small, ft_small = get("feature-extraction", small), get("fine-tuning", small)
    fe_large, ft_large = get("feature-extraction", large), get("fine-tuning", large)
    sc_small = get("scratch", small)
    lines = ["", "### The usual advice, checked against these numbers", ""]
    lines.append(
        f"- *Feature extraction suits very small datasets.* At {small} images per "
        f"class it scored {_pct(fe_small)}, against {_pct(sc_small)} for scratch "
        f"({compare(fe_small, fe, sc_small, sc)}) and {_pct(ft_small)} for "
        f"fine-tuning ({compare(ft_small, ft, fe_small, fe)}).")
    lines.append(
        f"- *Fine-tuning pays off with more data.* At {large} images per class it "
        f"scored {_pct(ft_large)}, against {_pct(fe_large)} for feature "
        f"extraction ({compare(ft_large, ft, fe_large, fe)}).")
    return lines


def _sweep_lines(sweep) -> list[str]:
    best = sweep.sort_values(RANKED_ON, ascending=False).iloc[0]
    start = float(sweep["start_val_accuracy"].iloc[0])
    lines = [f"- *Unfreeze a little, with a low rate.* The best sweep run unfroze "
             f"{int(best['n_unfrozen'])} layers at lr {best['lr']:.0e} "
             f"({_pct(best[RANKED_ON])} after its last epoch; the head alone "
             f"started at "
             f"{_pct(start)})."]
    deep = sweep[sweep["n_unfrozen"] > 0]
    if len(deep) and deep["lr"].nunique() > 1:
        hi, lo = deep["lr"].max(), deep["lr"].min()
        change = deep.groupby("lr")["change"].mean()
        lines.append(f"  With base layers unfrozen, lr {hi:.0e} moved validation "
                     f"accuracy by {100 * change[hi]:+.0f} points on average, "
                     f"lr {lo:.0e} by {100 * change[lo]:+.0f}.")
    return lines


def _caveats(results, n_val: int) -> list[str]:
    weights = results.attrs.get("weights", "?")
    lines = ["", "### Read with care", ""]
    if weights == "random":
        lines.append("- The base ran with **random weights**: nothing pretrained "
                     "was transferred. These numbers show the mechanics (what each "
                     "strategy costs, how the code behaves), not the benefit of "
                     "transfer learning. With ImageNet weights, feature extraction "
                     "and fine-tuning usually start far above scratch, even with a "
                     "handful of images per class.")
    elif weights == "?":
        lines.append("- Which weights the base ran with was not recorded: read "
                     "the numbers as mechanics until you know.")
    elif weights != "imagenet":
        lines.append(f"- The base ran with weights from **{weights}**, not Keras' "
                     "ImageNet file: what these numbers say about transfer depends "
                     "on what those weights learned.")
    lines.append(f"- Each accuracy comes from {n_val} validation images and one "
                 "seed. Change the seed or the sizes and rerun before trusting a "
                 "ranking.")
    lines.append("- Accuracies are those of each run's last epoch. The best "
                 "epoch's (`best_val_accuracy`) is higher, but the validation "
                 "set would then both choose the epoch and grade it.")
    lines.append("- Seconds count training only, on this machine as it was during "
                 "the run; fine-tuning here trains on stored activations, much "
                 "faster than running the whole base every epoch.")
    return lines


def decision_guide(results, sweep=None) -> str:
    """A short decision guide in Markdown, written from the measured tables.

    Taught in `04_choosing_a_strategy.ipynb`. A difference smaller than two
    standard errors of an accuracy on the validation set is called a tie.
    """
    table = winners(results)
    n_val = int(results.attrs.get("n_val", 100))
    lines = _measured(table, results) + _choices(table) + _advice(results, n_val)
    if sweep is not None and len(sweep):
        lines += _sweep_lines(sweep)
    lines += _caveats(results, n_val)
    return "\n".join(lines)
