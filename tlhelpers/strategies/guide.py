"""The decision guide: which strategy to choose, written from the measured tables.

Taught in `04_choosing_a_strategy.ipynb`. Validation picks, test grades: each
run keeps its best epoch by validation accuracy, the strategy for each size
is chosen on the same validation photos (`PICKED_ON`), and every accuracy
the guide reports is on the test photos (`GRADED_ON`), which picked nothing,
so nothing flatters the winner. A difference smaller than the noise margin
of the photos it was measured on (`attrs["n_val"]` for a pick,
`attrs["n_test"]` for a reported difference) is a tie.
"""

from __future__ import annotations

import math

PICKED_ON = "best_val_accuracy"  # validation, each run's best epoch: picks
GRADED_ON = "test_accuracy"      # test photos that picked nothing: grades

# The lesson's two strategies: how far fine-tuning is ahead of extraction.
AHEAD, BEHIND = "fine-tuning", "feature-extraction"


def noise_margin(accuracy: float, n_images: int) -> float:
    """Two binomial standard errors of an accuracy measured on `n_images` images."""
    p = min(max(float(accuracy), 0.05), 0.95)
    return 2 * math.sqrt(p * (1 - p) / max(int(n_images), 1))


def _n(results, split: str) -> int:
    """Photos of a split: `attrs["n_test"]` (else the validation count), `n_val`."""
    n_val = int(results.attrs.get("n_val", 100))
    return int(results.attrs.get("n_test", n_val)) if split == "test" else n_val


def winners(results):
    """Per size: the strategy validation picks, and how the test photos grade it.

    Taught in `04_choosing_a_strategy.ipynb`. Ranked on `best_val_accuracy`
    (`best`, the `runner_up`, the `lead` and whether it beats the validation
    noise: `clear`); `choice` is the fastest strategy within that noise of
    the best; `test_accuracy` is the choice's on the test photos, with its
    noise margin `test_noise`.
    """
    import pandas as pd

    n_val, n_test = _n(results, "val"), _n(results, "test")
    rows = []
    for size, part in results.groupby("images_per_class"):
        ranked = part.sort_values(PICKED_ON, ascending=False)
        first = ranked.iloc[0]
        second = ranked.iloc[1] if len(ranked) > 1 else None
        lead = (first[PICKED_ON] - second[PICKED_ON]
                if second is not None else float("nan"))
        margin = noise_margin(first[PICKED_ON], n_val)
        close = part[part[PICKED_ON] > first[PICKED_ON] - margin]
        chosen = close.sort_values("seconds").iloc[0]
        rows.append({"images_per_class": size, "best": first["strategy"],
                     PICKED_ON: first[PICKED_ON],
                     "runner_up": None if second is None else second["strategy"],
                     "lead": lead, "noise": margin, "clear": bool(lead >= margin),
                     "choice": chosen["strategy"],
                     GRADED_ON: chosen[GRADED_ON],
                     "test_noise": noise_margin(chosen[GRADED_ON], n_test)})
    return pd.DataFrame(rows)


def leads(results, ahead: str = AHEAD, behind: str = BEHIND):
    """Per size: how far `ahead` scored above `behind` on the test photos.

    Taught in `04_choosing_a_strategy.ipynb`. `lead` in accuracy (negative:
    behind), `noise` two standard errors on `attrs["n_test"]` photos (of the
    higher accuracy), `beyond_noise` when the lead, either way, is larger.
    """
    import pandas as pd

    n_test = _n(results, "test")
    acc = results.pivot(index="images_per_class", columns="strategy",
                        values=GRADED_ON)
    if ahead not in acc or behind not in acc:
        raise ValueError(f"the results need both {ahead!r} and {behind!r} rows; "
                         f"they have {sorted(acc.columns)}")
    frame = pd.DataFrame({ahead: acc[ahead], behind: acc[behind]})
    frame["lead"] = frame[ahead] - frame[behind]
    frame["noise"] = [noise_margin(max(a, b), n_test)
                      for a, b in zip(frame[ahead], frame[behind])]
    frame["beyond_noise"] = frame["lead"].abs() >= frame["noise"]
    frame.columns.name = None
    return frame


def crossing(lead_table, beyond_noise: bool = False) -> tuple[int, int] | None:
    """The sizes between which the lead rises above zero for good, if it does.

    Taught in `04_choosing_a_strategy.ipynb`: where the accuracy lines cross.
    `beyond_noise`: above the noise margin instead of zero (where the lead
    becomes a difference the test photos can tell). `(below, above)`:
    `below` is the largest size where the lead did not rise above that
    level, `above` the next size. None when it was above at every size, or
    not above at the largest.
    """
    level = lead_table["noise"] if beyond_noise else 0
    under = lead_table["lead"] < level if beyond_noise else \
        lead_table["lead"] <= level
    sizes = list(lead_table.index)
    below_at = [s for s in sizes if under.loc[s]]
    if not below_at or below_at[-1] == sizes[-1]:
        return None
    below = below_at[-1]
    return int(below), int(sizes[sizes.index(below) + 1])


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _points(number: str) -> str:
    """ "1.0 point", "2.5 points": singular when the number shown is one."""
    return f"{number} point" if abs(float(number)) == 1 else f"{number} points"


def _pts(value: float) -> str:
    return _points(f"{100 * abs(value):.1f}")


def _signed(value: float) -> str:
    return f"{100 * value:+.1f}"


def _name(strategy: str) -> str:
    return "feature extraction" if strategy == "feature-extraction" else strategy


def _pts_pair(lead: float, noise: float) -> tuple[str, str]:
    """A lead and a noise margin in points, with the decimals that tell them apart."""
    for decimals in (1, 2, 3):
        a, b = (f"{100 * abs(v):.{decimals}f}" for v in (lead, noise))
        if a != b or abs(lead) == noise:
            break
    return _points(a), _points(b)


def _lead_words(lead: float, noise: float, other: str) -> str:
    if lead == 0:
        return f"tied with {other}"
    points, margin = _pts_pair(lead, noise)
    if lead >= noise:
        return (f"{points} ahead of {other}, more than the noise margin of "
                f"{margin}")
    return (f"only {points} ahead of {other}: within the noise margin of "
            f"{margin}, a tie")


def _measured(results) -> list[str]:
    n_test = _n(results, "test")
    lines = ["### What this run measured, on the test photos", "",
             f"Accuracy on the {n_test} test photos, each run at its best "
             "epoch by validation accuracy.", ""]
    for size, part in results.groupby("images_per_class"):
        ranked = part.sort_values(GRADED_ON, ascending=False)
        scores = ", ".join(f"{_name(r['strategy'])} {_pct(r[GRADED_ON])}"
                           for _, r in ranked.iterrows())
        line = f"- **{int(size)} images per class:** {scores}"
        if len(ranked) > 1:
            first, second = ranked.iloc[0], ranked.iloc[1]
            lead = first[GRADED_ON] - second[GRADED_ON]
            noise = noise_margin(first[GRADED_ON], n_test)
            line += (f"; {_name(first['strategy'])} "
                     f"{_lead_words(lead, noise, _name(second['strategy']))}")
        lines.append(line + ".")
    largest = results[results["images_per_class"] == results["images_per_class"].max()]
    secs = largest.set_index("strategy")["seconds"]
    if len(secs) > 1:
        parts = [f"{_name(name)} {value:.1f} s" for name, value in secs.items()]
        size = int(largest["images_per_class"].iloc[0])
        lines.append(f"- **Training time** at {size} "
                     f"images per class: {', '.join(parts)}." + _pass_words(largest, results))
    return lines


def _pass_words(largest, results) -> str:
    """The one pass of the base: what it cost at the largest size, and how it was timed."""
    timing = results.attrs.get("pass_time")
    if timing is None or "pass_seconds" not in largest.columns:
        how = ("loaded from disk, not computed: the pass itself takes longer"
               if results.attrs.get("prepare_cached") else "computed and stored")
        return (" The transfer strategies also need the one pass of the base "
                "that stores the activations; in this run they were "
                f"{how} ({results.attrs.get('prepare_seconds', 0):.1f} s).")
    row = largest.set_index("strategy")
    transfer = [s for s in (BEHIND, AHEAD) if s in row.index]
    if not transfer:
        return ""
    once = float(row.loc[transfer[0], "pass_seconds"])
    n_rows = int(row.loc[transfer[0], "train_rows"])
    n_val = _n(results, "val")
    if timing.timed_sample:
        how = (f"timed in this run on {_count(timing.images, 'photo')}; the "
               "stored arrays themselves were loaded from disk in "
               f"{results.attrs.get('prepare_seconds', 0):.1f} s")
    else:
        how = (f"measured in this run's pass, {timing.seconds:.1f} s for "
               f"{_count(timing.images, 'stored row')}")
    text = (f" On top of that, the transfer strategies need the one pass of the "
            f"base that stores the activations: {once:.1f} s for these "
            f"{_count(n_rows, 'training row')} and {_count(n_val, 'validation photo')}"
            f", at {1000 * timing.seconds_per_image:.1f} ms per image ({how}).")
    totals = [f"{_name(s)} {row.loc[s, 'seconds'] + row.loc[s, 'pass_seconds']:.1f} s"
              for s in transfer]
    if "scratch" in row.index:
        totals.append(f"against {row.loc['scratch', 'seconds']:.1f} s for scratch")
    return text + f" Counted with it: {', '.join(totals)}."


def _count(n: int, noun: str) -> str:
    """`n` and the noun, singular for exactly one: "1 photo", "3 photos"."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _choices(table, results) -> list[str]:
    n_val = _n(results, "val")
    lines = ["", "### A choice from these numbers: validation picks, test grades",
             "", f"Rule: on the {n_val} validation photos (each run at its best "
             "epoch), among the strategies within the noise margin of the best, "
             "take the one that trained fastest. The test photos, which picked "
             "nothing, then grade the choice.", ""]
    for _, row in table.iterrows():
        part = results[results["images_per_class"] == row["images_per_class"]]
        val = dict(zip(part["strategy"], part[PICKED_ON]))
        choice = row["choice"]
        others = [s for s in part.sort_values(PICKED_ON, ascending=False)["strategy"]
                  if s != choice and val[s] > row[PICKED_ON] - row["noise"]]
        if choice != row["best"]:
            why = (f"{_name(row['best'])} scored {_pct(val[row['best']])}, within "
                   f"the noise margin of about {_pts(row['noise'])}, and trained "
                   "longer")
        elif others:
            why = (f"{', '.join(_name(s) for s in others)} within the noise margin "
                   f"of about {_pts(row['noise'])}, and slower")
        elif row["runner_up"] is not None:
            why = (f"ahead of {_name(row['runner_up'])} by more than the noise "
                   f"margin of about {_pts(row['noise'])}")
        else:
            why = "the only strategy run"
        lines.append(f"- {int(row['images_per_class'])} images per class: "
                     f"**{_name(choice)}**, validation {_pct(val[choice])} "
                     f"({why}); graded on the test photos: "
                     f"{_pct(row[GRADED_ON])}.")
    return lines


def _compare(a: float, name_a: str, b: float, name_b: str, n: int) -> str:
    noise = noise_margin(max(a, b), n)
    if a - b >= noise:
        return f"{name_a} clearly ahead"
    if b - a >= noise:
        return f"{name_b} clearly ahead"
    return "a tie within noise"


def _advice(results) -> list[str]:
    n_test = _n(results, "test")
    acc = results.set_index(["strategy", "images_per_class"])[GRADED_ON]
    sizes = sorted(set(results["images_per_class"]))
    small, large = sizes[0], sizes[-1]

    def get(strategy, size):
        return float(acc.get((strategy, size), float("nan")))

    fe, ft, sc = "feature extraction", "fine-tuning", "scratch"
    fe_small, ft_small = get("feature-extraction", small), get("fine-tuning", small)
    fe_large, ft_large = get("feature-extraction", large), get("fine-tuning", large)
    sc_small = get("scratch", small)
    lines = ["", "### The usual advice, checked against the test photos", ""]
    lines.append(
        f"- *Feature extraction suits very small datasets.* At {small} images per "
        f"class it scored {_pct(fe_small)}, against {_pct(sc_small)} for scratch "
        f"({_compare(fe_small, fe, sc_small, sc, n_test)}) and {_pct(ft_small)} "
        f"for fine-tuning ({_compare(ft_small, ft, fe_small, fe, n_test)}).")
    lines.append(
        f"- *Fine-tuning pays off with more data.* At {large} images per class it "
        f"scored {_pct(ft_large)}, against {_pct(fe_large)} for feature "
        f"extraction ({_compare(ft_large, ft, fe_large, fe, n_test)}).")
    if {AHEAD, BEHIND} <= set(results["strategy"]) and len(sizes) > 1:
        table = leads(results)
        steps = ", ".join(f"{_signed(row['lead'])} at {int(size)}"
                          for size, row in table.iterrows())
        lines.append(f"  Fine-tuning's lead over feature extraction, in test "
                     f"points: {steps} images per class (noise margins about "
                     f"{100 * table['noise'].min():.1f} to "
                     f"{100 * table['noise'].max():.1f} points).")
        cross = crossing(table)
        if cross is None and (table["lead"] > 0).all():
            lines.append("  Fine-tuning scored higher at every size.")
        elif cross is None:
            lines.append("  Fine-tuning did not score higher at the largest "
                         "size: the lines do not cross for good here.")
        else:
            lines.append(f"  The lines cross between {cross[0]} and {cross[1]} "
                         "images per class: from there on, fine-tuning scored "
                         "higher.")
        clear = crossing(table, beyond_noise=True)
        last = table.loc[large]
        if clear is not None:
            lines.append(f"  Its lead rises above the noise margin between "
                         f"{clear[0]} and {clear[1]} images per class.")
        elif (table["lead"] >= table["noise"]).all():
            lines.append("  Its lead was beyond the noise at every size.")
        elif last["lead"] <= -last["noise"]:
            lines.append(f"  At {large} images per class feature extraction is "
                         "ahead by more than the noise.")
        else:
            lines.append(f"  At {large} images per class the lead is within the "
                         "noise: these test photos cannot tell the two apart "
                         "there.")
    return lines


def _sweep_lines(sweep) -> list[str]:
    best = sweep.sort_values(PICKED_ON, ascending=False).iloc[0]
    start = float(sweep["start_test_accuracy"].iloc[0])
    depth = int(best["n_unfrozen"])
    what = (f"unfroze {_count(depth, 'layer')}" if depth
            else "kept the base frozen (the head alone)")
    lines = [f"- *Unfreeze a little, with a low rate.* Of the sweep's runs, "
             f"validation picks the one that {what} "
             f"at lr {best['lr']:.0e} ({_pct(best[PICKED_ON])} on "
             f"validation); on the test photos it scored {_pct(best[GRADED_ON])}, "
             f"against {_pct(start)} for the head it started from."]
    deep = sweep[sweep["n_unfrozen"] > 0]
    if len(deep) and deep["lr"].nunique() > 1:
        hi, lo = deep["lr"].max(), deep["lr"].min()
        change = deep.groupby("lr")["change"].mean()
        lines.append(f"  With base layers unfrozen, lr {hi:.0e} moved test "
                     f"accuracy by {_points(_signed(change[hi]))} on average, "
                     f"lr {lo:.0e} by {_signed(change[lo])}.")
    return lines


def _caveats(results) -> list[str]:
    n_val, n_test = _n(results, "val"), _n(results, "test")
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
    lines.append(f"- Each accuracy comes from {n_test} test photos and one seed. "
                 "Change the seed or the sizes and rerun before trusting a "
                 "ranking.")
    lines.append(f"- The {n_val} validation photos chose each run's best epoch "
                 "and the strategy, so their accuracy (`best_val_accuracy`) is "
                 "optimistic: it was picked for being high. The test accuracies "
                 "were picked by nothing.")
    lines.append("- Seconds are this machine's, as it was during the run. The "
                 "training seconds leave out the one pass of the base, counted "
                 "once above; fine-tuning here trains on stored activations, "
                 "much faster than running the whole base every epoch.")
    return lines


def decision_guide(results, sweep=None) -> str:
    """A short decision guide in Markdown, written from the measured tables.

    Taught in `04_choosing_a_strategy.ipynb`. Validation picks, test grades:
    a pick within two standard errors on the validation photos, or a
    difference within two on the test photos, is called a tie.
    """
    table = winners(results)
    lines = _measured(results) + _choices(table, results) + _advice(results)
    if sweep is not None and len(sweep):
        lines += _sweep_lines(sweep)
    lines += _caveats(results)
    return "\n".join(lines)
