"""Two processes filling the same feature cache at once leave one valid file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import imagefactory
import numpy as np

# Each worker builds the same seeded VGG16 (same weights, same key) and waits
# for the "go" file, so both compute and write at the same moment. It then
# rewrites and rereads the file many times (block1_conv1 maps: 2 MB a file)
# to widen the window in which a write that is not atomic would be seen half
# done by the other process.
WORKER = textwrap.dedent("""
    import json, os, sys, time, warnings
    from pathlib import Path
    import keras
    from tlhelpers import features, models

    folder, go = Path(sys.argv[1]), Path(sys.argv[2])
    items = [(p, i) for i, name in enumerate(("cats", "dogs"))
             for p in sorted((folder / name).iterdir())]
    keras.utils.set_random_seed(0)
    base = models.load_base("vgg16", weights=None, input_shape=(32, 32, 3))
    Path(sys.argv[3]).write_text("ready")
    while not go.exists():
        time.sleep(0.01)
    first = features.extract(base, items, layer="block1_conv1", progress=False)
    broken = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(40):
            features.save_npz_atomic(first.path, features=first.features,
                                     labels=first.labels)
            stored = features.load_npz(first.path)
            if stored is None or stored["features"].shape != first.features.shape:
                broken += 1
    final = features.extract(base, items, layer="block1_conv1", progress=False)
    print(json.dumps({"key": first.key, "path": str(first.path),
                      "broken_reads": broken, "reloaded": final.from_cache,
                      "sum": float(first.features.sum())}))
""")


def test_two_processes_writing_the_same_cache(tmp_path):
    folder = imagefactory.make_folder(tmp_path / "imgs", ("cats", "dogs"),
                                      per_class=4)
    home = tmp_path / "home"
    go = tmp_path / "go"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "TLH_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2",
           "TLH_PROFILE": "quick", "CUDA_VISIBLE_DEVICES": ""}
    ready = [tmp_path / f"ready{i}" for i in range(2)]
    procs = [subprocess.Popen([sys.executable, str(script), str(folder), str(go),
                               str(flag)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for flag in ready]
    deadline = time.monotonic() + 300
    while not all(flag.exists() for flag in ready):
        assert time.monotonic() < deadline, "workers did not start"
        assert all(p.poll() is None for p in procs), \
            [p.communicate()[1][-2000:] for p in procs]
        time.sleep(0.05)
    go.write_text("go")
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    first, second = outputs
    assert first["key"] == second["key"]
    assert first["broken_reads"] == 0 and second["broken_reads"] == 0
    assert first["reloaded"] and second["reloaded"]
    path = Path(first["path"])
    folder_files = sorted(p.name for p in path.parent.iterdir())
    assert folder_files == [path.name], folder_files  # no stray temporary files
    with np.load(path, allow_pickle=False) as stored:
        assert stored["features"].shape == (8, 32, 32, 64)
        np.testing.assert_array_equal(stored["labels"], [0] * 4 + [1] * 4)
        np.testing.assert_allclose(stored["features"].sum(), first["sum"],
                                   rtol=1e-5)
