"""How many photos per class the default profile needs for fine-tuning to show.

The course teaches feature extraction (a new head on the frozen VGG16 base)
against fine-tuning (then block5 and the head at a low rate). This study
measures, on held-out TEST photos, fine-tuning's gain over the head phase
against the number of training photos per class, with the course's own
recipe (`python -m tlhelpers run fine-tuning`: `store_activations`, the
course's head on the stored base output, then block5 + head on the stored
`block4_pool` activations) and three seeds, so a new default profile can be
chosen by measurement.

    .venv/bin/python bench/default_profile_study.py            # the study
    .venv/bin/python bench/default_profile_study.py --tiny     # a smoke run (~30 s)

On 2 shared cores the pass and N=40 and 80 (both rates, 5 epochs) took 18
minutes; `--budget-minutes` bounds only the optional run on every photo.

Data: `tf_flowers_full` (its `train/` and `val/`). The `val/` photos are cut
once, per class and seeded, into a validation part (picks the best epoch) and
a TEST part (grades; it picks nothing). Training subsets are N photos per
class, nested within a seed (N=40 is part of N=80 ...) and drawn anew for each
seed, so the three seeds vary the photos as well as the initial weights,
dropout and batch order; each photo is also used mirrored (stored once, as
`flip_train=True` does), unless `--no-flip` trains on the photos alone. The
frozen base runs once over every photo (bfloat16 where the CPU computes it
natively), and every subset is a slice of those arrays.

Per (N, seed): the head phase (the quick profile's head epochs, best epoch by
validation); then, from those head weights, block5 + head at each learning
rate for up to `--epochs` epochs. The test photos are scored after every
epoch (recorded, never used to choose), so the result of a shorter run (best
validation epoch among the first 3) comes from the same run. For fine-tuned
minus head on the same test photos: a paired bootstrap 95% interval and
McNemar's exact p. Once, at the largest N run: learning rate 1e-2.

Writes `bench/results/2026-12-04-default-profile-study.json` (or `--out`)
after every run, and the chart `docs/images/default_profile_study.png`.
TLH_HOME defaults to a folder under the system's temporary folder, so the
stored activations never land in the repository.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The whole dataset at 192 px, beside the repository (see data/README.md).
DATA = ROOT.parent / "shared" / "datasets" / "tf_flowers_full"
OUT = ROOT / "bench" / "results" / "2026-12-04-default-profile-study.json"
CHART = ROOT / "docs" / "images" / "default_profile_study.png"
IMAGE_SIZE = 150
UNFROZEN = 4          # block5_conv1-3 and block5_pool, as `run --unfreeze 4`
SPLIT_SEED = 42       # the validation/test cut
BOOTSTRAP = 10_000
TARGET = 0.03         # fine-tuned at least 3 points above the head phase
COLLAPSE_LR = 1e-2


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--sizes", default="40,80,160,320",
                   help="training photos per class (comma-separated)")
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--lrs", default="5e-5,1e-5")
    p.add_argument("--epochs", type=int, default=5,
                   help="fine-tuning epochs run (results also at --short-epochs)")
    p.add_argument("--short-epochs", type=int, default=3,
                   help="the profile's fine-tuning epochs, read from the same runs")
    p.add_argument("--all", choices=("auto", "yes", "no"), default="auto",
                   help="also every training photo: auto when the budget allows")
    p.add_argument("--budget-minutes", type=float, default=43.0,
                   help="wall time the study may take; decides --all auto")
    p.add_argument("--narrow-after", type=int, default=80,
                   help="after every seed at this N, larger N run only the learning "
                        "rate with the best mean validation accuracy (0: never)")
    p.add_argument("--resume", action="store_true",
                   help="keep the runs already in --out and run only the others")
    p.add_argument("--chart-only", action="store_true",
                   help="redraw the chart from --out and stop")
    p.add_argument("--val-per-class", type=int, default=None,
                   help="cap on val/ photos per class (smoke runs)")
    p.add_argument("--tiny", action="store_true",
                   help="smoke run: N=5, one seed, one learning rate, 1 epoch")
    p.add_argument("--precision", choices=("auto", "float32", "bfloat16"),
                   default="auto",
                   help="fine-tuning's training and scoring (training.computing_in); "
                        "auto: bfloat16 where the CPU computes it, as the course")
    p.add_argument("--no-flip", dest="flip", action="store_false",
                   help="train on the photos alone, without their mirror images "
                        "(the mirrored pass is still made, and stored, once)")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--chart", type=Path, default=CHART)
    p.add_argument("--chart-views", type=Path, nargs="+", metavar="RECORD",
                   help="draw --chart from these records (one series each: views, "
                        "date) and stop")
    args = p.parse_args(argv)
    if args.tiny:
        args.sizes, args.seeds, args.lrs = "5", "1", "5e-5"
        args.epochs, args.short_epochs, args.all = 2, 1, "no"
        args.val_per_class = args.val_per_class or 12
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.lrs = [float(s) for s in args.lrs.split(",")]
    args.short_epochs = min(args.short_epochs, args.epochs)
    return args


def log(*parts):
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


# --- statistics -------------------------------------------------------------

def paired_stats(head_ok, tuned_ok, rng_seed: int = 0) -> dict:
    """Gain of `tuned` over `head` on the same photos: bootstrap 95% and McNemar."""
    import numpy as np
    from scipy.stats import binomtest

    head_ok = np.asarray(head_ok, dtype=float)
    tuned_ok = np.asarray(tuned_ok, dtype=float)
    diff = tuned_ok - head_ok
    rng = np.random.default_rng(rng_seed)
    idx = rng.integers(0, len(diff), size=(BOOTSTRAP, len(diff)))
    boot = diff[idx].mean(axis=1)
    only_tuned = int(((tuned_ok == 1) & (head_ok == 0)).sum())
    only_head = int(((tuned_ok == 0) & (head_ok == 1)).sum())
    n = only_tuned + only_head
    p = 1.0 if n == 0 else float(binomtest(only_tuned, n, 0.5).pvalue)
    return {"gain": float(diff.mean()),
            "ci95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
            "only_fine_tuned_right": only_tuned, "only_head_right": only_head,
            "mcnemar_p": p}


def pooled_stats(diffs, rng_seed: int = 0) -> dict:
    """Mean gain over seeds (same test photos): bootstrap over photos."""
    import numpy as np

    d = np.mean(np.asarray(diffs, dtype=float), axis=0)
    rng = np.random.default_rng(rng_seed)
    idx = rng.integers(0, len(d), size=(BOOTSTRAP, len(d)))
    boot = d[idx].mean(axis=1)
    return {"mean_gain": float(d.mean()),
            "ci95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))]}


# --- data -------------------------------------------------------------------

def split_val(files, val_per_class):
    """Indices into files.val: (validation part, test part), about half each per class."""
    import numpy as np

    rng = np.random.default_rng(SPLIT_SEED)
    labels = np.array([label for _, label in files.val])
    pick, test = [], []
    for c in range(len(files.class_names)):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        if val_per_class:
            idx = idx[:val_per_class]
        half = (len(idx) + 1) // 2
        pick += sorted(idx[:half].tolist())
        test += sorted(idx[half:].tolist())
    return np.array(sorted(pick)), np.array(sorted(test))


def subset_orders(files, seeds):
    """seed -> class -> a seeded order of that class's training photos (indices)."""
    import numpy as np

    labels = np.array([label for _, label in files.train])
    orders = {}
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        orders[seed] = {c: np.flatnonzero(labels == c)[
            rng.permutation(int((labels == c).sum()))]
            for c in range(len(files.class_names))}
    return orders


def subset(orders, seed, n):
    """The first n photos per class in this seed's order (n=None: all), sorted."""
    import numpy as np

    return np.sort(np.concatenate([order[:n] if n else order
                                   for order in orders[seed].values()]))


# --- training (the recipe of `run fine-tuning`) -------------------------------

def test_scores(x, y):
    """A callback that scores the test rows after every epoch (records; picks nothing)."""
    import keras

    class TestScores(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.correct, self.seconds = [], 0.0

        def on_epoch_end(self, epoch, logs=None):
            started = time.perf_counter()
            prob = self.model.predict(x, batch_size=32, verbose=0)
            self.correct.append((prob.argmax(axis=1) == y).astype(int).tolist())
            self.seconds += time.perf_counter() - started

    return TestScores()


def correct_on(model, x, y):
    return (model.predict(x, batch_size=32, verbose=0).argmax(axis=1) == y).astype(int)


def train_head(stored, rows, pick, test, n_classes, epochs, seed):
    """`run`'s head phase (`strategies.train_head_stored`) on a subset: (head, record)."""
    from tlhelpers import strategies

    head, result = strategies.train_head_stored(
        (stored.train[0][rows], stored.train_labels[rows]),
        (stored.val[0][pick], stored.val_labels[pick]), n_classes, epochs, seed=seed,
        live_plot=False, verbose=0)
    ok = correct_on(head, stored.val[0][test], stored.val_labels[test])
    return head, {
        "epochs": result.epochs_done, "seconds": round(result.seconds, 2),
        "rows": int(len(rows)),
        "rows_per_second": round(len(rows) * result.epochs_done / result.seconds, 1),
        "val_accuracy_per_epoch": result.history.get("val_accuracy"),
        "best_val_accuracy": result.best_val_accuracy,
        "test_accuracy": float(ok.mean()), "test_correct": ok.tolist()}


def fine_tune(base, base_weights, head, stored, rows, pick, test, n_classes, lr,
              epochs, seed, short_epochs, precision):
    """`run`'s second phase (`strategies.fine_tune_stored`) from the head: block5 + head."""
    import numpy as np

    from tlhelpers import config, models, strategies

    base.set_weights(base_weights)      # every run starts from the ImageNet block5
    config.seed_everything(seed)        # same dropout and batch order for every lr
    model = models.build_classifier(base, n_classes)
    strategies.copy_head(head, model, base)
    scores = test_scores(stored.val[UNFROZEN][test], stored.val_labels[test])
    # The epochs' test scores are computed in `precision` too, inside the recipe.
    _, result, restored = strategies.fine_tune_stored(
        model, base, UNFROZEN, (stored.train[UNFROZEN][rows], stored.train_labels[rows]),
        (stored.val[UNFROZEN][pick], stored.val_labels[pick]), epochs, lr,
        precision=precision, test=(stored.val[UNFROZEN][test], stored.val_labels[test]),
        live_plot=False, verbose=0, callbacks=[scores])
    restored = restored.astype(int)
    val_hist = result.history.get("val_accuracy", [])
    seconds = result.seconds - scores.seconds  # training and validation only
    record = {"lr": lr, "epochs": result.epochs_done, "rows": int(len(rows)),
              "seconds": round(seconds, 2),
              "seconds_per_epoch": round(seconds / result.epochs_done, 2),
              "rows_per_second": round(len(rows) * result.epochs_done / seconds, 1),
              "test_scoring_seconds": round(scores.seconds, 2),
              "val_accuracy_per_epoch": val_hist,
              "test_accuracy_per_epoch": [float(np.mean(c)) for c in scores.correct],
              "by_epochs": {}}
    for limit in sorted({short_epochs, result.epochs_done}):
        # The first best epoch, as `BestWeights` keeps it (strictly greater).
        best = int(np.argmax(val_hist[:limit]))
        ok = scores.correct[best]
        record["by_epochs"][str(limit)] = {
            "best_epoch": best + 1, "best_val_accuracy": val_hist[best],
            "test_accuracy": float(np.mean(ok)), "test_correct": ok}
    # `fit` restored the best epoch of the whole run: it must score as recorded.
    record["restored_matches_record"] = bool(
        restored.tolist() == record["by_epochs"][str(result.epochs_done)]["test_correct"])
    return record


# --- the study --------------------------------------------------------------

def machine():
    from tlhelpers import features
    from tlhelpers.bench.machine import machine_info

    info = machine_info()
    flags = set(Path("/proc/cpuinfo").read_text().split())
    info["bfloat16_flags"] = sorted(flags & {"avx512_bf16", "amx_bf16", "amx_tile",
                                             "avx512_vnni", "avx512f"})
    info["pass_precision"] = features.pass_precision("auto")
    import scipy
    info["scipy"] = scipy.__version__
    return info


def timed_passes(record):
    """Time each pass of the base (one pass stores every cut: `store_activations`)."""
    from tlhelpers import features

    compute = features.compute_layers

    def compute_layers(base, items, image_size, batch_size, layers, progress=True,
                       view=None, precision="float32"):
        started = time.perf_counter()
        out = compute(base, items, image_size, batch_size, layers, progress, view,
                      precision)
        seconds = time.perf_counter() - started
        record.append({"what": "pass of the frozen base", "layers": [str(x) for x in layers],
                       "view": view or "photos", "images": len(items),
                       "precision": precision, "seconds": round(seconds, 1),
                       "images_per_second": round(len(items) / seconds, 1)})
        log(f"pass {view or 'photos'}: {len(items)} images in {seconds:.0f} s")
        return out

    features.compute_layers = compute_layers


def save(results, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    tmp.replace(path)


def summarise(results, short_epochs):
    """Per (N, lr, epochs): per-seed gains and intervals, pooled interval, target met."""
    out = []
    runs = results["runs"]
    keys = sorted({(r["per_class"], ft["lr"], e) for r in runs
                   for ft in r["fine_tuned"] for e in ft["by_epochs"]},
                  key=lambda k: (k[0] if k[0] != "all" else 10 ** 6, -k[1], int(k[2])))
    for n, lr, e in keys:
        seeds, diffs = [], []
        for r in runs:
            if r["per_class"] != n:
                continue
            for ft in r["fine_tuned"]:
                if ft["lr"] != lr or e not in ft["by_epochs"]:
                    continue
                tuned = ft["by_epochs"][e]
                stats = paired_stats(r["head"]["test_correct"], tuned["test_correct"],
                                     rng_seed=r["seed"])
                seeds.append({"seed": r["seed"], "head": r["head"]["test_accuracy"],
                              "fine_tuned": tuned["test_accuracy"],
                              "best_epoch": tuned["best_epoch"], **stats})
                diffs.append([t - h for t, h in zip(tuned["test_correct"],
                                                    r["head"]["test_correct"])])
        if not seeds:
            continue
        met = (len(seeds) >= 3 and all(s["gain"] >= TARGET and s["ci95"][0] > 0
                                       for s in seeds))
        out.append({"per_class": n, "lr": lr, "epochs": int(e), "seeds": seeds,
                    "pooled": pooled_stats(diffs),
                    # each of 3+ seeds: gain >= 3 points, bootstrap interval above 0
                    "target_met": met,
                    # the same, and McNemar's exact p < 0.05 on each seed too
                    "target_met_with_mcnemar": met and all(s["mcnemar_p"] < 0.05
                                                           for s in seeds)})
    return out


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    summary = results["summary"]
    lrs = sorted({s["lr"] for s in summary}, reverse=True)
    epochs = sorted({s["epochs"] for s in summary})
    fig, axes = plt.subplots(1, len(lrs), figsize=(max(7.0, 5.2 * len(lrs)), 4.6),
                             sharey=True, squeeze=False)
    colours = {e: c for e, c in zip(epochs, ("tab:blue", "tab:orange", "tab:green"))}
    all_x = results["split"]["train_per_class_all"]
    for ax, lr in zip(axes[0], lrs):
        for k, e in enumerate(epochs):
            rows = [s for s in summary if s["lr"] == lr and s["epochs"] == e]
            shift = 1.0 + 0.05 * (k - (len(epochs) - 1) / 2)  # side by side
            xs = [(all_x if s["per_class"] == "all" else s["per_class"]) * shift
                  for s in rows]
            for x, s in zip(xs, rows):
                ax.scatter([x] * len(s["seeds"]),
                           [100 * t["gain"] for t in s["seeds"]], s=14,
                           color=colours[e], alpha=0.45, marker="o", linewidths=0)
            for x, s in zip(xs, rows):
                if len(s["seeds"]) < 3 and k == 0:   # say when a mean has fewer seeds
                    ax.annotate(f"{len(s['seeds'])} seed{'s' * (len(s['seeds']) > 1)}",
                                (x, 100 * min(t["gain"] for t in s["seeds"])),
                                textcoords="offset points", xytext=(0, -14),
                                ha="center", fontsize=7, color="grey")
            mean = np.array([100 * s["pooled"]["mean_gain"] for s in rows])
            lo = np.array([100 * s["pooled"]["ci95"][0] for s in rows])
            hi = np.array([100 * s["pooled"]["ci95"][1] for s in rows])
            ax.errorbar(xs, mean, yerr=[mean - lo, hi - mean], color=colours[e],
                        marker="D", ms=6, capsize=3, lw=1.4,
                        label=f"best of {e} fine-tuning epochs (by validation): "
                              "mean of seeds, 95% bootstrap")
        ax.axhline(100 * TARGET, color="tab:red", ls="--", lw=1,
                   label="target: +3 points")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xscale("log")
        ticks = sorted({s["per_class"] for s in summary if s["per_class"] != "all"})
        labels = [str(t) for t in ticks]
        if any(s["per_class"] == "all" for s in summary):
            ticks, labels = ticks + [all_x], labels + [f"all\n(~{all_x})"]
        ax.set_xticks(ticks, labels)
        ax.minorticks_off()
        ax.set_xlabel("training photos per class"
                      + (" (each also mirrored)"
                         if results["recipe"].get("flip_train", True) else ""))
        ax.set_title(f"block5 + head at Adam {lr:g}")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("fine-tuned minus head phase\n(TEST accuracy, points)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], color="grey", marker="o", ls="", alpha=0.6,
                              markersize=4))
    labels.append("one seed (photos, initial weights, order)")
    n_test = results["split"]["test_photos"]
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8,
               title=f"scored on the held-out TEST split ({n_test} photos)",
               title_fontsize=8, frameon=False)
    fig.suptitle("VGG16 on 5 flower classes, 150 px: fine-tuning's gain over the "
                 "head phase", fontsize=10)
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def views_series(records, epochs=5):
    """flip_train -> [(summary row, its record)] by photos per class, from several records."""
    series = {}
    for results in records:
        for s in results["summary"]:
            if s["epochs"] == epochs and s["per_class"] != "all":
                series.setdefault(results["recipe"].get("flip_train", True),
                                  []).append((s, results))
    for flip, pairs in series.items():
        sizes = [s["per_class"] for s, _ in pairs]
        if len(set(sizes)) < len(sizes):
            raise ValueError(f"two records hold {sorted(sizes)} photos per class with "
                             f"flip_train={flip}: give one record per size and views")
        pairs.sort(key=lambda pair: pair[0]["per_class"])
    return series


def chart_views(records, path, epochs=5):
    """Gain against photos per class, one series per views trained on: seeds and mean.

    Records with the same views (`recipe.flip_train`) make one series; the
    legend names each size's date and CPU.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    series = views_series(records, epochs)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    ticks = set()
    for k, (flip, colour) in enumerate(zip(sorted(series, reverse=True),
                                           ("tab:blue", "tab:orange"))):
        pairs = series[flip]
        rows = [s for s, _ in pairs]
        shift = 1.0 + 0.04 * (k - (len(series) - 1) / 2)  # side by side
        xs = [s["per_class"] * shift for s in rows]
        ticks |= {s["per_class"] for s in rows}
        for x, s in zip(xs, rows):
            ax.scatter([x] * len(s["seeds"]), [100 * t["gain"] for t in s["seeds"]],
                       s=16, color=colour, alpha=0.5, linewidths=0)
        mean = np.array([100 * s["pooled"]["mean_gain"] for s in rows])
        lo = np.array([100 * s["pooled"]["ci95"][0] for s in rows])
        hi = np.array([100 * s["pooled"]["ci95"][1] for s in rows])
        views = "photos and their mirror images" if flip else "photos alone"
        lrs = sorted({s["lr"] for s in rows})
        sources = "; ".join(f"{s['per_class']}: {r['date']}, {r['machine']['cpu_model']}"
                            for s, r in pairs)
        ax.errorbar(xs, mean, yerr=[mean - lo, hi - mean], color=colour, marker="D",
                    ms=6, capsize=3, lw=1.4,
                    label=f"{views}, Adam {', '.join(f'{lr:g}' for lr in lrs)} "
                          f"({sources})")
    ax.axhline(100 * TARGET, color="tab:red", ls="--", lw=1, label="target: +3 points")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_xticks(sorted(ticks), [str(t) for t in sorted(ticks)])
    ax.set_xlim(min(ticks) / 1.3, max(ticks) * 1.3)
    ax.minorticks_off()
    ax.set_xlabel("training photos per class")
    ax.set_ylabel("fine-tuned minus head phase\n(TEST accuracy, points)")
    ax.grid(alpha=0.3)
    n_test = records[0]["split"]["test_photos"]
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=1, fontsize=8, frameon=False,
               title=f"best of {epochs} epochs by validation; dots: seeds; "
                     f"bars: mean, 95% bootstrap; {n_test} TEST photos",
               title_fontsize=8)
    ax.set_title("Fine-tuning's gain over the head phase, by the views trained on",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.07 + 0.045 * len(handles), 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.chart_views:
        chart_views([json.loads(r.read_text()) for r in args.chart_views], args.chart)
        return 0
    if args.chart_only:
        chart(json.loads(args.out.read_text()), args.chart)
        return 0
    os.environ.setdefault("TLH_HOME", str(Path(tempfile.gettempdir())
                                          / "tlh-default-profile-study"))
    os.environ.setdefault("TLH_PROFILE", "quick")
    started = time.perf_counter()
    deadline = started + 60 * args.budget_minutes
    from tlhelpers import config, data, features, models, strategies, tflogs

    tflogs.hide_keras_reminders()
    import numpy as np

    profile = config.get_profile()
    results = {
        "study": "fine-tuning's gain over the head phase against training photos "
                 "per class (issue 27, default profile)",
        "date": datetime.date.today().isoformat(),
        "command": "python bench/default_profile_study.py " + " ".join(
            sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "recipe": {
            "backbone": "vgg16", "weights": None, "image_size": IMAGE_SIZE,
            "head": "GAP, Dense 256 relu, Dropout 0.5, Dense 5 softmax (models.build_head)",
            "head_lr": 1e-3, "head_epochs": profile.head_epochs,
            "head_epochs_from": f"profile {profile.name}",
            "unfrozen_layers": UNFROZEN, "fine_tune_lrs": args.lrs,
            "fine_tune_epochs_run": args.epochs,
            "fine_tune_epochs_profile": args.short_epochs,
            "batch_size": profile.batch_size, "flip_train": args.flip,
            "fine_tune_precision": features.pass_precision(args.precision),
            "best_epoch": "by validation accuracy (validation part); the test part "
                          "is scored after each epoch and picks nothing",
            "subsets": "N photos per class, nested within a seed, drawn anew for "
                       "each seed (numpy default_rng(1000 + seed))",
            "seeding": "config.seed_everything(seed) before the head phase and "
                       "again before each fine-tuning run (same dropout and batch "
                       "order for every learning rate)",
            "bootstrap_resamples": BOOTSTRAP, "target_gain": TARGET,
        },
        "passes": [], "runs": [], "collapse": None, "skipped": [],
    }
    earlier_seconds = 0.0
    if args.resume and args.out.exists():
        old = json.loads(args.out.read_text())
        if old["recipe"].get("flip_train", True) != args.flip:
            print(f"error: {args.out} was run with flip_train="
                  f"{old['recipe'].get('flip_train', True)}; resume it with the same "
                  "views (or give another --out)", file=sys.stderr)
            return 2
        earlier_seconds = old.get("wall_seconds", 0.0)
        results["runs"] = old["runs"]
        results["passes"] = old["passes"]
        results["resumed"] = {
            "earlier_wall_seconds": earlier_seconds,
            "earlier_store_activations_seconds": old.get("store_activations_seconds"),
            "runs_kept": len(old["runs"]),
            "earlier_lrs": old["recipe"]["fine_tune_lrs"]}
        results["recipe"]["fine_tune_lrs"] = sorted(
            set(old["recipe"]["fine_tune_lrs"]) | set(args.lrs), reverse=True)
        deadline -= earlier_seconds
        log(f"resuming: {len(old['runs'])} runs kept ({earlier_seconds:.0f} s)")
    if not args.resume:  # resumed: the passes are loaded from TLH_HOME
        timed_passes(results["passes"])

    scan = data.scan_folder(args.data)
    files = data.split_files(scan)
    # Every photo of train/ and val/: split_files holds half of val/ out as
    # test photos; the study cuts val/ itself (split_val), as on 2026-12-04.
    files = data.FileSplit(train=files.train,
                           val=sorted(files.val + files.test,
                                      key=lambda item: (item[1], str(item[0]))),
                           class_names=files.class_names, root=files.root)
    n_classes = len(files.class_names)
    pick, test = split_val(files, args.val_per_class)
    orders = subset_orders(files, args.seeds)
    n_train_all = len(files.train)
    all_per_class = round(n_train_all / n_classes)
    results["split"] = {
        # Relative to the project: no machine's absolute path in a record.
        "dataset": os.path.relpath(args.data, ROOT), "classes": files.class_names,
        "train_photos": n_train_all, "train_per_class_all": all_per_class,
        "train_counts": files.counts()["train"], "val_photos_in_folder": len(files.val),
        "validation_photos": int(len(pick)), "test_photos": int(len(test)),
        "validation_per_class": np.bincount(
            [files.val[i][1] for i in pick], minlength=n_classes).tolist(),
        "test_per_class": np.bincount(
            [files.val[i][1] for i in test], minlength=n_classes).tolist(),
        "split_seed": SPLIT_SEED,
        "test_files": [files.val[i][0].relative_to(files.root).as_posix() for i in test],
    }
    # The photos to pass: all of train/ when every photo may be used, else
    # the union of the subsets; the val/ photos in the two parts.
    if args.all == "no":
        needed = np.unique(np.concatenate([subset(orders, s, max(args.sizes))
                                           for s in args.seeds]))
    else:
        needed = np.arange(n_train_all)
    position = {int(i): k for k, i in enumerate(needed)}  # train index -> row
    val_used = np.sort(np.concatenate([pick, test]))
    val_row = {int(i): k for k, i in enumerate(val_used)}
    pass_files = data.FileSplit(train=[files.train[i] for i in needed],
                                val=[files.val[i] for i in val_used],
                                class_names=files.class_names, root=files.root)
    pick_rows = np.array([val_row[int(i)] for i in pick])
    test_rows = np.array([val_row[int(i)] for i in test])

    t0 = time.perf_counter()
    base = models.load_base("vgg16", "imagenet", (IMAGE_SIZE, IMAGE_SIZE, 3),
                            allow_random=False)
    if base.tlh_weights != "imagenet":
        print(f"error: the base has {base.tlh_weights} weights, not ImageNet's",
              file=sys.stderr)
        return 1
    results["recipe"]["weights"] = base.tlh_weights
    results["load_base_seconds"] = round(time.perf_counter() - t0, 1)
    base_weights = base.get_weights()
    log(f"base loaded ({base.tlh_weights}) in {results['load_base_seconds']} s; "
        f"passing {len(needed)} training photos (and mirrored), {len(val_used)} val/")
    stored = strategies.store_activations(base, pass_files, depths=(0, UNFROZEN),
                                          flip_train=True, precision="auto")
    results["store_activations_seconds" if not args.resume
            else "resume_store_activations_seconds"] = round(stored.seconds, 1)
    results["store_activations_from_cache"] = stored.from_cache
    log(f"stored in {stored.seconds:.0f} s (from cache: {stored.from_cache})")
    n_pass = len(needed)

    def rows_of(train_idx):
        r = np.array([position[int(i)] for i in train_idx])
        # the photos, then their mirrors (stored for every run, used if --flip)
        return np.concatenate([r, r + n_pass]) if args.flip else r

    def run_one(n, seed, lrs, epochs):
        idx = subset(orders, seed, None if n == "all" else n)
        rows = rows_of(idx)
        head, head_record = train_head(stored, rows, pick_rows, test_rows, n_classes,
                                       profile.head_epochs, seed)
        record = {"per_class": n, "seed": seed, "train_photos": int(len(idx)),
                  "train_rows": int(len(rows)), "head": head_record,
                  "fine_tuned": []}
        log(f"N={n} seed={seed}: head test {head_record['test_accuracy']:.3f} "
            f"({head_record['seconds']:.0f} s)")
        for lr in lrs:
            ft = fine_tune(base, base_weights, head, stored, rows, pick_rows,
                           test_rows, n_classes, lr, epochs, seed, args.short_epochs,
                           args.precision)
            record["fine_tuned"].append(ft)
            picked = ", ".join(f"best of {e}: epoch {v['best_epoch']} "
                               f"test {v['test_accuracy']:.3f}"
                               for e, v in ft["by_epochs"].items())
            log(f"  lr {lr:g}: test per epoch "
                + " ".join(f"{a:.3f}" for a in ft["test_accuracy_per_epoch"])
                + f"; {picked} ({ft['seconds_per_epoch']:.1f} s/epoch)")
        return head, record

    def estimates():
        """Seconds per N for one pass, the head phase and fine-tuning (measured rates)."""
        passes = [p for p in results["passes"] if "images_per_second" in p]
        seconds = sum(p["seconds"] for p in passes)
        photos = sum(p["images"] for p in passes if p["what"].startswith("pass"))
        rate = photos / seconds if seconds else None   # photos/s, derived outputs included
        out = {"pass_photos_per_second": round(rate, 1) if rate else None}
        for n in dict.fromkeys(r["per_class"] for r in results["runs"]):
            runs = [r for r in results["runs"] if r["per_class"] == n]
            photos_n = (runs[0]["train_photos"] * (2 if args.flip else 1)
                        + len(pick) + len(test))
            per_lr = {}
            for lr in args.lrs:
                fts = [ft for r in runs for ft in r["fine_tuned"] if ft["lr"] == lr]
                if fts:
                    per_lr[str(lr)] = round(float(np.mean(
                        [ft["seconds_per_epoch"] for ft in fts])), 1)
            out[str(n)] = {
                "photos_passed": photos_n,
                "pass_seconds": round(photos_n / rate, 1) if rate else None,
                "head_seconds": round(float(np.mean([r["head"]["seconds"]
                                                     for r in runs])), 1),
                "fine_tune_seconds_per_epoch": per_lr}
        return out

    def finish():
        results["summary"] = summarise(results, args.short_epochs)
        results["time_estimates"] = estimates()
        results["wall_seconds"] = round(time.perf_counter() - started
                                        + earlier_seconds, 1)
        save(results, args.out)

    def best_lr_by_validation(n):
        """The rate with the best mean validation accuracy at n (None: not run)."""
        means = {}
        for lr in args.lrs:
            vals = [max(ft["val_accuracy_per_epoch"]) for r in results["runs"]
                    for ft in r["fine_tuned"] if r["per_class"] == n and ft["lr"] == lr]
            if len(vals) == len(args.seeds):
                means[lr] = float(np.mean(vals))
        return (max(means, key=means.get), means) if means else (None, means)

    lrs = list(args.lrs)
    for n in args.sizes:
        if args.narrow_after and n > args.narrow_after and len(lrs) > 1:
            best, means = best_lr_by_validation(args.narrow_after)
            if best is not None:
                lrs = [best]
                results["narrowed"] = {
                    "after_per_class": args.narrow_after, "kept_lr": best,
                    "mean_best_val_accuracy": {str(k): v for k, v in means.items()},
                    "why": "time: larger N run only the rate validation prefers"}
                log(f"larger N: lr {best:g} only (validation at "
                    f"N={args.narrow_after}: {means})")
        for seed in args.seeds:
            if any(r["per_class"] == n and r["seed"] == seed for r in results["runs"]):
                continue
            _, record = run_one(n, seed, lrs, args.epochs)
            results["runs"].append(record)
            finish()

    # Every photo: when the time left allows it (estimated from the rates seen).
    largest = max(args.sizes)
    collapse_epochs = args.short_epochs
    if args.all != "no":
        rates = [ft["rows_per_second"] for r in results["runs"]
                 for ft in r["fine_tuned"] if r["per_class"] == largest]
        rate = min(rates)
        rows_all = 2 * n_train_all
        per_run = rows_all * args.short_epochs / rate * 1.15 + 20
        left = deadline - time.perf_counter()
        # If not every rate fits, keep those with the best validation accuracy
        # at the largest N (validation picks; the test part never does).
        def val_of(lr):
            return np.mean([ft["by_epochs"][str(args.short_epochs)]["best_val_accuracy"]
                            for r in results["runs"] for ft in r["fine_tuned"]
                            if r["per_class"] == largest and ft["lr"] == lr])
        lrs_all = sorted(lrs, key=val_of, reverse=True)
        collapse_cost = per_run
        while lrs_all and args.all == "auto" and \
                len(args.seeds) * len(lrs_all) * per_run + collapse_cost > left:
            lrs_all.pop()
        if lrs_all:
            results["all_plan"] = {
                "lrs": lrs_all, "epochs": args.short_epochs,
                "estimated_seconds": round(len(args.seeds) * len(lrs_all) * per_run),
                "seconds_left": round(left)}
            log(f"all photos: lrs {lrs_all}, {args.short_epochs} epochs "
                f"(estimated {len(args.seeds) * len(lrs_all) * per_run:.0f} s "
                f"of {left:.0f} s left)")
            for seed in args.seeds:
                _, record = run_one("all", seed, lrs_all, args.short_epochs)
                results["runs"].append(record)
                finish()
            largest = "all"
            skipped = [lr for lr in lrs if lr not in lrs_all]
            if skipped:
                results["skipped"].append(f"every photo at lr {skipped}: not enough time left")
        else:
            results["skipped"].append(
                f"every photo: estimated {len(args.seeds) * per_run:.0f} s per "
                f"learning rate, {left:.0f} s left")
            log(results["skipped"][-1])

    # A high rate from the head's weights: it should wreck the pretrained features.
    seed = args.seeds[0]
    idx = subset(orders, seed, None if largest == "all" else largest)
    rows = rows_of(idx)
    head, head_record = train_head(stored, rows, pick_rows, test_rows, n_classes,
                                   profile.head_epochs, seed)
    ft = fine_tune(base, base_weights, head, stored, rows, pick_rows, test_rows,
                   n_classes, COLLAPSE_LR, collapse_epochs, seed, collapse_epochs,
                   args.precision)
    best = ft["by_epochs"][str(ft["epochs"])]
    results["collapse"] = {"per_class": largest, "seed": seed, "lr": COLLAPSE_LR,
                           "head_test_accuracy": head_record["test_accuracy"],
                           **{k: v for k, v in ft.items() if k != "by_epochs"},
                           "best_epoch": best["best_epoch"],
                           "best_val_accuracy": best["best_val_accuracy"],
                           "test_accuracy": best["test_accuracy"],
                           "chance": 1 / n_classes}
    log(f"lr {COLLAPSE_LR:g} at N={largest}: test per epoch "
        + " ".join(f"{a:.3f}" for a in ft["test_accuracy_per_epoch"]))
    finish()
    chart(results, args.chart)
    log(f"done in {results['wall_seconds']:.0f} s: {args.out}, {args.chart}")
    for s in results["summary"]:
        log(f"N={s['per_class']} lr={s['lr']:g} epochs={s['epochs']}: "
            + ", ".join(f"seed {t['seed']} {t['head']:.3f}->{t['fine_tuned']:.3f} "
                        f"[{100 * t['ci95'][0]:+.1f}, {100 * t['ci95'][1]:+.1f}] "
                        f"p={t['mcnemar_p']:.3g}" for t in s["seeds"])
            + f"; pooled {100 * s['pooled']['mean_gain']:+.1f} "
              f"[{100 * s['pooled']['ci95'][0]:+.1f}, {100 * s['pooled']['ci95'][1]:+.1f}]"
            + ("  TARGET MET" if s["target_met"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
