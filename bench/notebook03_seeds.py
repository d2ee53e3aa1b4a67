"""Notebook 03's two phases on the course's photos, over seeds and variants.

Notebook 03 grades block5 fine-tuned at the course's rate against the head
phase on the test photos that ship in data/ (a paired 95% interval). This
runs the notebook's own steps (the stored activations of `store_activations`,
the head on the base's output, then block5 + head on `block4_pool`'s output
from the head's weights, the best epoch picked by validation) for several
seeds and variants of the second phase, and records, for each, the gain on
the notebook's test photos after every number of epochs up to `--epochs`
(the test photos are scored after every epoch and never pick anything).

    .venv/bin/python bench/notebook03_seeds.py --out results.json

Variants: `float32` or `bfloat16` (Keras' mixed_bfloat16, `training.computing_in`)
for the second phase, with the mirrored photos (`flip`) or without them
(`plain`, the head phase then trains on the photos alone too).

`--tta` also grades both phases by test-time averaging: each test photo's
class probabilities averaged with those of its mirror image (one more pass,
of the mirrored validation and test photos), recorded beside the plain
grades; the same two gradings of the validation photos (`tta_validation`),
where a choice of grading should be made.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

VARIANTS = ("float32-flip", "bfloat16-flip", "bfloat16-plain", "float32-plain")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--lr", type=float, default=None,
                   help="block5's learning rate (default: the profile's fine_tune_lr)")
    p.add_argument("--tta", action="store_true",
                   help="also grade by averaging each test photo with its mirror image")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.variants = args.variants.split(",")
    unknown = set(args.variants) - set(VARIANTS)
    if unknown:
        p.error(f"unknown variants {sorted(unknown)}; valid: {', '.join(VARIANTS)}")
    return args


def command_line(args) -> str:
    """The command that made a record, without --out: a record names no machine's folders."""
    return (f"bench/notebook03_seeds.py --seeds {','.join(map(str, args.seeds))} "
            f"--variants {','.join(args.variants)} --epochs {args.epochs}"
            + (f" --lr {args.lr:g}" if args.lr is not None else "")
            + (" --tta" if args.tta else ""))


def main(argv=None) -> int:
    args = parse_args(argv)
    import tlhelpers as tlh

    tlh.setup(verbose=False)
    import keras
    import numpy as np

    from tlhelpers import bench, config, features, models, strategies, training

    profile = config.get_profile()
    splits = tlh.data.load_splits()
    n_classes = len(splits.class_names)
    base = models.load_base("vgg16", allow_random=False)
    stored = strategies.store_activations(
        base, splits.files, depths=(0, 4), flip_train=True,
        precision=profile.pass_precision, progress=True)
    imagenet = base.get_weights()
    lr = args.lr if args.lr is not None else profile.fine_tune_lr
    n_photos = len(splits.files.train)
    test0, test4 = stored.split("test", 0), stored.split("test", 4)
    mirrored = {}
    if args.tta:  # the mirrored validation and test photos, at both cuts
        layer4 = strategies.stored_layer(base, 4)
        for split in ("val", "test"):
            items = getattr(splits.files, split)
            mirrored[split, 0] = features.extract(
                base, items, also=[layer4], view="flip",
                precision=profile.pass_precision)
            mirrored[split, 4] = features.extract(
                base, items, layer=layer4, view="flip",
                precision=profile.pass_precision, progress=False)

    def averaged_correct(model, depth, split="test"):
        """Per photo: right when the photo's and its mirror's mean probabilities are."""
        x, y = stored.split(split, depth)
        probs = (model.predict(x, batch_size=64, verbose=0)
                 + model.predict(mirrored[split, depth].features, batch_size=64,
                                 verbose=0))
        return probs.argmax(axis=1) == y
    record = {"command": command_line(args),
              "date": time.strftime("%Y-%m-%d"), "machine": bench.machine_info(),
              "profile": profile.name, "lr": lr,
              "head_epochs": profile.head_epochs, "test_photos": int(len(test0[1])),
              "runs": []}

    class TestEachEpoch(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.correct, self.averaged = [], []
            self.val_plain, self.val_averaged = [], []

        def on_epoch_end(self, epoch, logs=None):
            self.correct.append(strategies.per_photo_correct(self.model, test4))
            if args.tta:
                self.averaged.append(averaged_correct(self.model, 4))
                self.val_plain.append(strategies.per_photo_correct(
                    self.model, stored.split("val", 4)))
                self.val_averaged.append(averaged_correct(self.model, 4, "val"))

    for seed in args.seeds:
        for variant in args.variants:
            precision, views = variant.split("-")
            rows = slice(None) if views == "flip" else slice(0, n_photos)
            base.set_weights(imagenet)
            config.seed_everything(seed)
            model = models.build_classifier(base, n_classes)
            base.trainable = False
            head_top = strategies.stored_model(model, base, 0)
            head_top.compile(optimizer=keras.optimizers.Adam(1e-3),
                             loss="sparse_categorical_crossentropy",
                             metrics=["accuracy"])
            best = training.BestWeights("val_accuracy")
            head_top.fit(stored.train[0][rows], stored.train_labels[rows],
                         validation_data=stored.split("val", 0),
                         epochs=profile.head_epochs, batch_size=profile.batch_size,
                         callbacks=[best], verbose=0)
            best.restore(head_top)
            head_right = strategies.per_photo_correct(head_top, test0)
            head_averaged = averaged_correct(head_top, 0) if args.tta else None
            if args.tta:
                head_val = (strategies.per_photo_correct(head_top, stored.split("val", 0)),
                            averaged_correct(head_top, 0, "val"))

            models.set_trainable(base, 4)
            top = strategies.top_model(model, base, 4)
            top.compile(optimizer=keras.optimizers.Adam(lr),
                        loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            scores = TestEachEpoch()
            started = time.perf_counter()
            with training.computing_in(precision, top):
                history = top.fit(stored.train[4][rows], stored.train_labels[rows],
                                  validation_data=stored.split("val", 4),
                                  epochs=args.epochs, batch_size=profile.batch_size,
                                  callbacks=[scores], verbose=0)
            seconds = time.perf_counter() - started
            val = [float(v) for v in history.history["val_accuracy"]]
            run = {"seed": seed, "variant": variant, "seconds": round(seconds, 1),
                   "head_test_accuracy": float(head_right.mean()),
                   "val_accuracy_per_epoch": val, "by_epochs": {}}
            if args.tta:
                run["tta"] = {"head_test_accuracy": float(head_averaged.mean()),
                              "by_epochs": {}}
                # the validation photos picked the epoch: both gradings share that bias
                run["tta_validation"] = {
                    grading: {"head_val_accuracy": float(head_ok.mean()), "by_epochs": {}}
                    for grading, head_ok in zip(("photos", "averaged"), head_val)}
            for limit in range(1, args.epochs + 1):
                pick = int(np.argmax(val[:limit]))  # first best, as BestWeights
                graded = [(run, head_right, scores.correct, "test")]
                if args.tta:
                    graded.append((run["tta"], head_averaged, scores.averaged, "test"))
                    graded += [(run["tta_validation"][grading], head_ok, tuned_ok, "val")
                               for grading, head_ok, tuned_ok in zip(
                                   ("photos", "averaged"), head_val,
                                   (scores.val_plain, scores.val_averaged))]
                for into, head_ok, tuned_ok, split in graded:
                    c = strategies.paired_comparison(head_ok, tuned_ok[pick],
                                                     names=("head", "fine-tuned"))
                    into["by_epochs"][str(limit)] = {
                        "best_epoch": pick + 1, "gain": round(c.gain, 4),
                        "ci95": [round(v, 4) for v in c.ci95],
                        "mcnemar_p": round(c.p_value, 5),
                        f"fine_tuned_{split}_accuracy": float(tuned_ok[pick].mean())}
            record["runs"].append(run)
            five = run["by_epochs"][str(min(5, args.epochs))]
            print(f"seed {seed} {variant}: head {head_right.mean():.3f}, "
                  f"gain at 5 epochs {five['gain']:+.3f} {five['ci95']}, "
                  f"{seconds:.0f} s for {args.epochs} epochs", flush=True)
            if args.tta:
                five = run["tta"]["by_epochs"][str(min(5, args.epochs))]
                print(f"  averaged with the mirror images: head "
                      f"{head_averaged.mean():.3f}, gain {five['gain']:+.3f} "
                      f"{five['ci95']}", flush=True)
            args.out.write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
