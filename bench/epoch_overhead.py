"""An epoch of block5 on stored activations: the course's path against a plain Keras `fit`.

The question: does the course add time around Keras when it fine-tunes
block5 on the stored `block4_pool` activations (notebook 03's phase two,
`run fine-tuning`, notebook 04's runs)? Its path,
`strategies.fine_tune_stored`, builds the top model on the stored arrays,
compiles it with a new Adam and calls `training.fit`: `model.fit` with the
course's callbacks (best weights by validation accuracy, the live curves
redrawn after every epoch, the history) and its batch sizes. The plain path
builds the same top model and calls `model.fit(x, y, validation_data=...,
batch_size=32)` with no callback. Both train the same layers from the same
weights on the same arrays, in float32.

    .venv/bin/python bench/epoch_overhead.py --repeats 3 \\
        --record bench/results/<date>-block5-epoch-overhead.json

The arrays are the course's own: `strategies.store_activations` of the
default profile's photos (the training photos and their mirror images, the
validation photos) at `block4_pool`, loaded from `TLH_HOME` when notebook
02 stored them, else computed first (not timed). Each repeat runs both paths
in turn, the order alternating (course first in odd repeats), so a drift of
the machine's load falls on both; medians are reported. What is timed: the
`fit` call (one epoch and its validation), and the whole phase (building the
top model, compiling, fitting). The goal (issue: the whole dataset on a
laptop CPU) is the course's epoch within 10% of the plain one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_UNFROZEN = 4  # block5's three convolutions and its pooling: notebook 03's phase two


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rows", type=int, default=None,
                   help="training rows per epoch (default: every stored row)")
    p.add_argument("--record", help="write the results as JSON here")
    return p.parse_args(argv)


def course_epoch(model, base, train, val, lr: float) -> tuple[float, float]:
    """(seconds of the fit call, seconds of the whole phase) on the course's path."""
    from tlhelpers import strategies

    started = time.perf_counter()
    _, result, _ = strategies.fine_tune_stored(model, base, N_UNFROZEN, train, val,
                                               1, lr, precision="float32",
                                               live_plot=True)
    return result.seconds, time.perf_counter() - started


def plain_epoch(model, base, train, val, lr: float,
                batch_size: int) -> tuple[float, float]:
    """(seconds of the fit call, seconds of the whole phase) with Keras alone."""
    import keras

    from tlhelpers import models, strategies

    started = time.perf_counter()
    models.set_trainable(base, N_UNFROZEN)
    top = strategies.stored_model(model, base, N_UNFROZEN)
    top.compile(optimizer=keras.optimizers.Adam(learning_rate=lr),
                loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fitted = time.perf_counter()
    top.fit(*train, validation_data=val, epochs=1, batch_size=batch_size, verbose=0)
    ended = time.perf_counter()
    return ended - fitted, ended - started


def compare(model, base, train, val, *, lr: float, batch_size: int,
            repeats: int) -> dict:
    """Both paths `repeats` times from the same weights, alternating; medians and ratios."""
    start = model.get_weights()
    runs = {"course": [], "plain": []}
    for repeat in range(repeats):
        order = ("course", "plain") if repeat % 2 == 0 else ("plain", "course")
        for path in order:
            model.set_weights(start)
            runs[path].append(
                course_epoch(model, base, train, val, lr) if path == "course"
                else plain_epoch(model, base, train, val, lr, batch_size))
    model.set_weights(start)
    rows = len(train[1])
    found = {}
    for path, timings in runs.items():
        fit_s = statistics.median(t[0] for t in timings)
        found[path] = {"fit_seconds": [round(t[0], 2) for t in timings],
                       "phase_seconds": [round(t[1], 2) for t in timings],
                       "median_fit_seconds": round(fit_s, 2),
                       "median_phase_seconds": round(
                           statistics.median(t[1] for t in timings), 2),
                       "training_rows_per_second": round(rows / fit_s, 1)}
    found["course_over_plain"] = {
        kind: round(found["course"][f"median_{kind}_seconds"]
                    / found["plain"][f"median_{kind}_seconds"], 3)
        for kind in ("fit", "phase")}
    return found


def stored_rows(base, splits, profile, rows: int | None = None):
    """(train, val, from_cache): the stored block4_pool rows, `rows` training rows drawn."""
    import numpy as np

    from tlhelpers import strategies

    stored = strategies.store_activations(
        base, splits.files, depths=(N_UNFROZEN,),
        flip_train=profile.flip_train, precision=profile.pass_precision)
    x, y = stored.split("train", N_UNFROZEN)
    if rows:
        keep = np.sort(np.random.default_rng(0).permutation(len(y))[:rows])
        x, y = x[keep], y[keep]
    return (x, y), stored.split("val", N_UNFROZEN), stored.from_cache


def main(argv=None) -> int:
    args = parse_args(argv)
    import tlhelpers as tlh

    tlh.setup(seed=0, verbose=False)

    from tlhelpers import bench, config, features, models

    profile = config.get_profile()
    splits = tlh.data.load_splits()
    base = models.load_base("vgg16", allow_random=False)
    train, val, from_cache = stored_rows(base, splits, profile, args.rows)
    x, y = train
    model = models.build_classifier(base, len(splits.class_names))
    load_before = os.getloadavg()
    found = compare(model, base, train, val, lr=profile.fine_tune_lr,
                    batch_size=profile.batch_size, repeats=args.repeats)
    record = {
        "what": "an epoch of block5 + head on stored block4_pool activations: "
                "strategies.fine_tune_stored against a plain keras fit "
                "(bench/epoch_overhead.py)",
        "command": "python bench/epoch_overhead.py " + " ".join(argv or sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": bench.machine_info(),
        "load_average": {"start": list(load_before), "end": list(os.getloadavg())},
        "settings": {"profile": profile.name, "training_rows": len(y),
                     "validation_rows": len(val[1]), "stored_dtype": str(x.dtype),
                     "row_shape": list(x.shape[1:]), "batch_size": profile.batch_size,
                     "lr": profile.fine_tune_lr, "precision": "float32",
                     "pass_precision": features.pass_precision(
                         profile.pass_precision),
                     "repeats": args.repeats,
                     "stored_from_cache": from_cache},
        **found,
    }
    for path in ("course", "plain"):
        r = found[path]
        print(f"{path:>6}: fit {r['median_fit_seconds']:.1f} s "
              f"({r['training_rows_per_second']:.1f} rows/s), whole phase "
              f"{r['median_phase_seconds']:.1f} s; each: {r['fit_seconds']}")
    ratio = found["course_over_plain"]
    print(f"course / plain: fit {ratio['fit']:.3f}, phase {ratio['phase']:.3f} "
          f"({'within' if ratio['fit'] <= 1.10 else 'beyond'} 10%)")
    if args.record:
        Path(args.record).write_text(json.dumps(record, indent=1) + "\n")
        print(f"record written to {args.record}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
