"""Notebook 07's saliency sanity check over seeds and photos.

Notebook 07 re-initialises block5 and the head of notebook 03's fine-tuned
model (`viz.randomized_copy`) and compares each saliency method's maps of the
trained and the randomised model (`viz.sanity_check`, Spearman per photo) on
three test photos, with seed 0. This runs the same check for several seeds
(the copy's weights and SmoothGrad's noise) on the notebook's three photos and
on two more test photos of every class, and records every method's mean
Spearman per seed, so the notebook says only what holds across them.

    .venv/bin/python bench/notebook07_sanity_seeds.py --out results.json

Run it after the course (`python -m tlhelpers course`) in the same TLH_HOME:
it uses the models notebook 03 saved.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--samples", type=int, default=8, help="SmoothGrad's noisy copies")
    p.add_argument("--steps", type=int, default=16, help="Integrated Gradients' steps")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    return args


def photo_sets(files, n_classes: int) -> dict[str, list]:
    """The notebook's photos (the first test photo of classes 0-2), and two more per class."""
    first = [next(item for item in files.test if item[1] == k) for k in range(3)]
    more = []
    for k in range(n_classes):
        of_class = [item for item in files.test if item[1] == k and item not in first]
        more += of_class[:2]
    return {"notebook": first, "two more per class": more}


def main(argv=None) -> int:
    args = parse_args(argv)
    import tlhelpers as tlh

    tlh.setup(verbose=False)
    import numpy as np

    from tlhelpers import bench, config, data, predict, viz

    profile = config.get_profile()
    splits = data.load_splits()
    trained = predict.course_models(class_names=splits.class_names, files=splits.files)
    model = trained["fine-tuned"]
    # The command without --out: a record names no machine's folders.
    record = {"command": "python bench/notebook07_sanity_seeds.py "
                         f"--seeds {','.join(map(str, args.seeds))} "
                         f"--samples {args.samples} --steps {args.steps}",
              "date": time.strftime("%Y-%m-%d"), "machine": bench.machine_info(),
              "profile": profile.name, "from_layer": "block5_conv1",
              "threshold": 0.5, "sets": {}}
    for name, items in photo_sets(splits.files, len(splits.class_names)).items():
        photos = np.stack([data.load_rgb(path, profile.image_size) for path, _ in items])
        runs = []
        for seed in args.seeds:
            started = time.perf_counter()
            table = viz.sanity_check(model, photos, from_layer="block5_conv1", seed=seed,
                                     samples=args.samples, steps=args.steps)
            runs.append({"seed": seed, "seconds": round(time.perf_counter() - started, 1),
                         "spearman": {row.method: round(row.spearman, 3)
                                      for row in table.itertuples()},
                         "passes": {row.method: bool(row.passes)
                                    for row in table.itertuples()}})
            print(name, runs[-1], flush=True)
        methods = list(runs[0]["spearman"])
        record["sets"][name] = {
            "photos": [Path(path).name for path, _ in items],
            "runs": runs,
            "passes_in_every_run": {m: all(r["passes"][m] for r in runs) for m in methods},
            "fails_in_every_run": {m: not any(r["passes"][m] for r in runs)
                                   for m in methods},
            "spearman_range": {m: [min(r["spearman"][m] for r in runs),
                                   max(r["spearman"][m] for r in runs)] for m in methods},
        }
        args.out.write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
