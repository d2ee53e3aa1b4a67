"""oneDNN's graph rewrites on and off: the frozen pass and an epoch of block5, in one run.

TensorFlow 2.21 turns oneDNN's rewrites on by itself only on CPUs with
AVX512_VNNI, AVX512_BF16 or AMX; `tlh.setup()` turns them on everywhere else
unless `TF_ENABLE_ONEDNN_OPTS` is set (`distribute.turn_on_onednn_rewrites`).
This measures what that buys on the machine it runs on, with the course's own
code paths and ImageNet weights, in float32:

- the pass: `features.extract` of N photos of the default profile up to
  `block4_pool`, not stored (`cache=False`), after a warm-up batch;
- an epoch of block5 and the head on the stored `block4_pool` activations
  (`strategies.fine_tune_stored`, as `bench/epoch_overhead.py` times it).

TensorFlow reads the variable once, when it loads, so each measurement runs in
a fresh interpreter, the two settings alternating (rewrites on first in odd
repeats); medians are reported. The activations of the first batch are
compared between the settings (largest difference over the largest value).

    .venv/bin/python bench/onednn_rewrites.py --repeats 3 \\
        --record bench/results/<date>-onednn-rewrites-<cpu>.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SETTINGS = ("1", "0")  # TF_ENABLE_ONEDNN_OPTS: on, off
COMPARED_ROWS = 32


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--photos", type=int, default=256,
                   help="training photos in each timed pass")
    p.add_argument("--rows", type=int, default=640,
                   help="training rows in each timed epoch of block5")
    p.add_argument("--record", help="write the results as JSON here")
    p.add_argument("--child", metavar="NPY", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def measure_here(photos: int, rows: int, keep: str) -> dict:
    """One measurement in this interpreter, under whatever the variable says."""
    import tlhelpers as tlh

    tlh.setup(seed=0, verbose=False)
    import numpy as np
    from epoch_overhead import course_epoch, stored_rows

    from tlhelpers import compat, config, features, models

    profile = config.get_profile()
    splits = tlh.data.load_splits()
    base = models.load_base("vgg16", allow_random=False)
    items = splits.files.train[:photos]
    features.extract(base, items[:profile.batch_size], layer="block4_pool",
                     cache=False, progress=False)  # warm-up: first-batch costs stay out
    passed = features.extract(base, items, layer="block4_pool", cache=False,
                              progress=False)
    np.save(keep, passed.features[:COMPARED_ROWS])
    train, val, _ = stored_rows(base, splits, profile, rows)
    model = models.build_classifier(base, len(splits.class_names))
    fit_seconds, _ = course_epoch(model, base, train, val, profile.fine_tune_lr)
    return {"onednn_env": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
            "rewrites_on": compat.onednn_enabled(),
            "pass_photos": len(items), "pass_seconds": round(passed.seconds, 2),
            "pass_photos_per_second": round(len(items) / passed.seconds, 2),
            "epoch_rows": len(train[1]), "validation_rows": len(val[1]),
            "epoch_seconds": round(fit_seconds, 2)}


def measure_in_child(setting: str, args, keep: Path) -> dict:
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": setting}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(keep), "--photos", str(args.photos),
         "--rows", str(args.rows)], env=env, text=True, capture_output=True,
        timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"the run with TF_ENABLE_ONEDNN_OPTS={setting} failed:\n"
                           + proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def largest_difference(kept: dict[str, Path]) -> dict:
    import numpy as np

    on, off = (np.load(kept[s]) for s in SETTINGS)
    scale = float(np.abs(off).max())
    diff = float(np.abs(on - off).max())
    return {"rows": int(len(on)), "max_abs_diff": diff, "scale": scale,
            "relative": diff / scale if scale else None}


def summary(runs: list[dict]) -> dict:
    found = {}
    for setting in SETTINGS:
        mine = [r for r in runs if r["onednn_env"] == setting]
        found[setting] = {
            "rewrites_on": sorted({r["rewrites_on"] for r in mine}),
            "pass_photos_per_second": [r["pass_photos_per_second"] for r in mine],
            "epoch_seconds": [r["epoch_seconds"] for r in mine],
            "median_pass_photos_per_second": statistics.median(
                r["pass_photos_per_second"] for r in mine),
            "median_epoch_seconds": statistics.median(r["epoch_seconds"] for r in mine)}
    on, off = found["1"], found["0"]
    found["on_over_off"] = {
        "pass_speed": round(on["median_pass_photos_per_second"]
                            / off["median_pass_photos_per_second"], 3),
        "epoch_speed": round(off["median_epoch_seconds"] / on["median_epoch_seconds"], 3)}
    return found


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(measure_here(args.photos, args.rows, args.child)))
        return 0
    from tlhelpers import bench, tflogs

    tflogs.prepare()  # this process only describes the machine: no start-up logs
    load_before = os.getloadavg()
    runs, kept = [], {}
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            order = SETTINGS if repeat % 2 == 0 else SETTINGS[::-1]
            for setting in order:
                keep = Path(scratch) / f"first-batch-{setting}-{repeat}.npy"
                run = measure_in_child(setting, args, keep)
                kept.setdefault(setting, keep)
                runs.append({"repeat": repeat + 1, **run})
                print(f"repeat {repeat + 1}, TF_ENABLE_ONEDNN_OPTS={setting} "
                      f"(rewrites {'on' if run['rewrites_on'] else 'off'}): pass "
                      f"{run['pass_photos_per_second']:.1f} photos/s, epoch of "
                      f"{run['epoch_rows']} rows {run['epoch_seconds']:.1f} s",
                      flush=True)
        same = largest_difference(kept)
    found = summary(runs)
    ratio = found["on_over_off"]
    print(f"rewrites on / off: pass {ratio['pass_speed']:.2f}x as fast, epoch "
          f"{ratio['epoch_speed']:.2f}x; first {same['rows']} photos' activations "
          f"differ by at most {same['relative']:.1e} of their largest value")
    if args.record:
        record = {
            "what": "oneDNN's graph rewrites on and off: the frozen pass to "
                    "block4_pool and an epoch of block5 on stored activations, "
                    "float32, ImageNet weights (bench/onednn_rewrites.py)",
            "command": "python bench/onednn_rewrites.py " + " ".join(
                argv if argv is not None else sys.argv[1:]),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            # Each run says what the variable was and whether the rewrites ran.
            "machine": {key: value for key, value in bench.machine_info().items()
                        if not key.startswith("onednn")},
            "load_average": {"start": list(load_before), "end": list(os.getloadavg())},
            "settings": {"repeats": args.repeats, "pass_photos": args.photos,
                         "epoch_rows": args.rows, "order": "alternating: on first "
                         "in odd repeats", "each_in": "a fresh interpreter"},
            "runs": runs, "activations_compared": same, **found}
        Path(args.record).write_text(json.dumps(record, indent=1) + "\n")
        print(f"record written to {args.record}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
