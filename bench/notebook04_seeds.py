"""Notebook 04's strategy comparison over seeds, with feature extraction trained as long.

Notebook 04 compares feature extraction and fine-tuning at the profile's
training-set sizes (`compare_strategies`). Fine-tuning continues from the
head after `head_epochs` and trains `fine_tune_epochs` more, so at a few
photos per class its lead can be the head training longer rather than
block5 adapting. This runs the notebook's comparison for several seeds (each
seed also draws the smaller subsets), with the feature-extraction head
trained for `--extraction-epochs` (default: as many epochs as fine-tuning in
all), and records at each size both leads on the test photos: over the head
fine-tuning started from, and over the head trained as long.

    .venv/bin/python bench/notebook04_seeds.py --out results.json --chart leads.png
    .venv/bin/python bench/notebook04_seeds.py --out results.json --chart leads.png --redraw
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--extraction-epochs", type=int, default=None,
                   help="epochs of the feature-extraction head (default: the head's "
                        "plus fine-tuning's, as notebook 04 runs them)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--chart", type=Path, default=None,
                   help="also draw both leads against the size, per seed, to this PNG")
    p.add_argument("--redraw", action="store_true",
                   help="draw --chart from the record in --out, without training")
    args = p.parse_args(argv)
    if args.redraw and args.chart is None:
        p.error("--redraw draws a chart: give --chart PNG")
    try:
        args.seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        p.error(f"--seeds {args.seeds!r}: expected whole numbers separated by commas")
    if args.extraction_epochs is not None and args.extraction_epochs < 1:
        p.error("--extraction-epochs must be at least 1")
    return args


def command_line(args) -> str:
    """The command that made a record, without --out: a record names no machine's folders."""
    return (f"bench/notebook04_seeds.py --seeds {','.join(map(str, args.seeds))}"
            + (f" --extraction-epochs {args.extraction_epochs}"
               if args.extraction_epochs is not None else ""))


def leads_by_size(frame, n_test: int) -> dict:
    """Per size: each strategy's test accuracy and fine-tuning's two leads, in points."""
    from tlhelpers import strategies

    out = {}
    for size, part in frame.groupby("images_per_class"):
        rows = part.set_index("strategy")
        tuned = rows.loc["fine-tuning"]
        extracted = float(rows.loc["feature-extraction", "test_accuracy"])
        start = float(tuned["start_test_accuracy"])
        out[str(int(size))] = {
            "scratch": round(float(rows.loc["scratch", "test_accuracy"]), 4),
            "feature_extraction": round(extracted, 4),
            "head_fine_tuning_started_from": round(start, 4),
            "fine_tuning": round(float(tuned["test_accuracy"]), 4),
            "lead_over_extraction": round(float(tuned["test_accuracy"]) - extracted, 4),
            "lead_over_its_start": round(float(tuned["test_accuracy"]) - start, 4),
            "noise": round(strategies.noise_margin(extracted, n_test), 4),
            "seconds": {s: float(rows.loc[s, "seconds"]) for s in rows.index}}
    return out


def draw(record: dict, out: Path) -> None:
    """Both leads against photos per class: one line per seed, the noise band in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [int(s) for s in record["sizes"]]
    panels = (("lead_over_its_start",
               f"against the head it started from ({record['head_epochs']} epochs)"),
              ("lead_over_extraction",
               f"against feature extraction trained as long "
               f"({record['extraction_epochs']} epochs)"))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, (key, title) in zip(axes, panels):
        noise = [100 * max(r["by_size"][str(n)]["noise"] for r in record["runs"])
                 for n in sizes]
        ax.fill_between(sizes, [-v for v in noise], noise, color="0.9",
                        label="noise margin (2 standard errors)")
        ax.axhline(0, color="0.4", linewidth=0.8)
        for run in record["runs"]:
            ax.plot(sizes, [100 * run["by_size"][str(n)][key] for n in sizes],
                    marker="o", label=f"seed {run['seed']}")
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
        ax.set_xlabel("training photos per class")
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel("fine-tuning's lead on the test photos (points)")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Notebook 04: fine-tuning's lead against the number of photos "
                 f"({record['test_photos']} test photos)")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.redraw:
        draw(json.loads(args.out.read_text()), args.chart)
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import tlhelpers as tlh

    tlh.setup(verbose=False)
    from tlhelpers import bench, config, models, strategies

    profile = config.get_profile()
    splits = tlh.data.load_splits()
    base = models.load_base("vgg16", allow_random=False)
    base.trainable = False
    stored = strategies.store_activations(
        base, splits.files, depths=(0, 4), progress=True,
        flip_train=profile.flip_train, precision=profile.pass_precision)
    fine_tune_epochs = min(3, profile.fine_tune_epochs)  # as notebook 04
    extraction_epochs = args.extraction_epochs or profile.head_epochs + fine_tune_epochs
    n_test = len(splits.files.test)
    record = {"command": command_line(args), "date": time.strftime("%Y-%m-%d"),
              "machine": bench.machine_info(), "profile": profile.name,
              "sizes": list(profile.sweep_sizes), "lr": profile.fine_tune_lr,
              "head_epochs": profile.head_epochs, "fine_tune_epochs": fine_tune_epochs,
              "extraction_epochs": extraction_epochs, "test_photos": n_test,
              "runs": []}
    for seed in args.seeds:
        started = time.perf_counter()
        frame = strategies.compare_strategies(
            base, splits.files, profile.sweep_sizes, n_unfrozen=4,
            lr=profile.fine_tune_lr, fine_tune_epochs=fine_tune_epochs,
            extraction_epochs=extraction_epochs, seed=seed, stored=stored,
            progress=False)
        sizes = leads_by_size(frame, n_test)
        record["runs"].append({"seed": seed, "precision": frame.attrs["precision"],
                               "seconds": round(time.perf_counter() - started, 1),
                               "by_size": sizes})
        print(f"seed {seed}: " + "; ".join(
            f"{size}/class lead {100 * v['lead_over_extraction']:+.1f} "
            f"(over its start {100 * v['lead_over_its_start']:+.1f})"
            for size, v in sizes.items()), flush=True)
        args.out.write_text(json.dumps(record, indent=1) + "\n")
    if args.chart is not None:
        draw(record, args.chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
