"""Feature visualisation that reads as features, beside the photos that excite the channel.

Taught in `07_looking_inside.ipynb`, after Olah, Mordvintsev and Schubert,
"Feature Visualization" (Distill, 2017) and their library Lucid. Plain
gradient ascent on the pixels (`patterns.filter_patterns`) finds high-frequency
noise that excites a deep filter as much as any object does. Two changes make
the optimum look like a part or a texture: the image is drawn from a few
learnable Fourier coefficients scaled by 1/frequency, with decorrelated
colours (coarse structure is cheap, pixel noise expensive), and at every step
the network sees the canvas slightly shifted, scaled and rotated, so only
patterns that survive such changes raise the response. Beside each optimised
image go the dataset examples: the photos whose map reaches the highest value
in that channel, cropped around the peak.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time

import numpy as np

from .. import config
from .. import features as features_mod
from ._common import check_positive_int, new_figure, show_tile
from .activations import readable
from .layers import check_layers, image_batch, layer_model, resolve_base
from .patterns import PatternSet, resized_base

PARAMETERISATIONS = ("fourier", "pixels")
# Bump when the computation changes: files stored before then are not reused.
PATTERN_VERSION = 1
MAXIMA_VERSION = 1

# Lucid's square root of ImageNet's colour covariance: learnable channels are
# mapped through it, so a step moves along natural colour directions.
_COLOUR_SQRT = np.array([[0.26, 0.09, 0.02],
                         [0.27, 0.00, -0.05],
                         [0.27, -0.09, 0.03]], dtype=np.float32)
_COLOUR_SQRT /= np.max(np.linalg.norm(_COLOUR_SQRT, axis=0))


@dataclasses.dataclass
class RegularisedPatterns(PatternSet):
    """A PatternSet from `regularised_patterns`, with what it cost and where it came from."""

    settings: dict = dataclasses.field(default_factory=dict)
    from_cache: bool = False
    seconds: float = 0.0          # this call: computing, or reading the stored file
    compute_seconds: float = 0.0  # the ascent itself, also when read from the file

    @property
    def seconds_per_image(self) -> float:
        """Seconds the ascent took per filter (one image each)."""
        return self.compute_seconds / max(1, len(self.filters))

    def describe(self) -> str:
        """One line: how many patterns, from the cache or computed, and the cost."""
        how = "read from the cache" if self.from_cache else "computed and stored"
        return (f"{len(self.filters)} patterns of {self.layer} {how} in "
                f"{self.seconds:.1f} s; the ascent took {self.seconds_per_image:.1f} "
                "s per image")


def _check_filters(filters, depth: int, layer: str, name: str = "filters") -> list[int]:
    """The channel indices asked for; for `filters`, an int n means the first n."""
    single = isinstance(filters, (int, np.integer)) and not isinstance(filters, bool)
    if single and name == "filters":
        return list(range(min(check_positive_int(name, filters), depth)))
    values = [filters] if single else filters
    try:
        chosen = [int(f) for f in values]
        bad = any(isinstance(f, bool) or int(f) != f for f in values)
    except (TypeError, ValueError):
        chosen, bad = [], True
    if bad or not chosen or min(chosen) < 0 or max(chosen) >= depth:
        raise ValueError(f"{name}={filters!r} is not valid; {layer} has channels "
                         f"0..{depth - 1}")
    return chosen


def layer_depth(model, layer: str) -> int:
    """The number of channels of `layer`'s feature map; a ValueError for other layers."""
    check_layers(model, [layer])
    base, _ = resolve_base(model)
    shape = base.get_layer(layer).output.shape
    if len(shape) != 4:
        raise ValueError(f"layer={layer!r} outputs shape {tuple(shape)}; expected "
                         "a feature map (height, width, channels)")
    return int(shape[-1])


def weights_up_to(model, layer: str) -> str:
    """The digest of the base's weights up to and including `layer`.

    Training layers above it does not change what the layer computes, so it
    keeps the stored patterns and maxima (`features.weights_digest_up_to`,
    the same digest the stored features are keyed by).
    """
    return features_mod.weights_digest_up_to(resolve_base(model)[0], layer)


def _key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def _check_settings(steps, size, jitter, scale, rotate, high_freq_penalty,
                    parameterisation, learning_rate) -> dict:
    """The settings checked, as plain numbers for the cache key."""
    if parameterisation not in PARAMETERISATIONS:
        raise ValueError(f"parameterisation={parameterisation!r} is not valid; "
                         f"expected one of {', '.join(PARAMETERISATIONS)}")
    try:
        low, high = (float(s) for s in scale)
    except (TypeError, ValueError):
        low = high = float("nan")
    if not 0 < low <= high:
        raise ValueError(f"scale={scale!r} is not valid; expected (low, high) with "
                         "0 < low <= high, e.g. (0.9, 1.1)")
    for name, value in (("rotate", rotate), ("high_freq_penalty", high_freq_penalty)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not value >= 0:
            raise ValueError(f"{name}={value!r} is not valid; expected a number >= 0")
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) \
            or not learning_rate > 0:
        raise ValueError(f"learning_rate={learning_rate!r} is not valid; expected a "
                         "number > 0")
    return {"steps": check_positive_int("steps", steps),
            "size": check_positive_int("size", size, 16),
            "jitter": check_positive_int("jitter", jitter, 0),
            "scale": [low, high], "rotate": float(rotate),
            "high_freq_penalty": float(high_freq_penalty),
            "parameterisation": parameterisation,
            "learning_rate": float(learning_rate)}


def _to_rgb(tf, raw):
    """Learnable values (n, h, w, 3) -> colours in 0..1, decorrelated then squashed."""
    return tf.sigmoid(tf.einsum("nhwc,dc->nhwd", raw, tf.constant(_COLOUR_SQRT)))


def _fourier_scale(size: int) -> np.ndarray:
    """1 / frequency for the rfft coefficients of a size x size image (Lucid's scaling)."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    freqs = np.sqrt(fx * fx + fy * fy)
    return (1.0 / np.maximum(freqs, 1.0 / size) * size).astype(np.float32)


def _transform(tf, images, params):
    """Each image shifted, scaled and rotated by its row of params (dy, dx, scale, angle).

    Bilinear sampling that wraps around the edges: a Fourier image is periodic,
    so a shifted canvas shows no seam, and the network sees the same size.
    """
    h, w = int(images.shape[1]), int(images.shape[2])
    yy, xx = np.meshgrid(np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2,
                         indexing="ij")
    yy, xx = tf.constant(yy, tf.float32), tf.constant(xx, tf.float32)
    dy, dx, s, a = (params[:, i, None, None] for i in range(4))
    cos, sin = tf.cos(a), tf.sin(a)
    sy = (cos * yy - sin * xx) / s + (h - 1) / 2 - dy
    sx = (sin * yy + cos * xx) / s + (w - 1) / 2 - dx
    y0, x0 = tf.floor(sy), tf.floor(sx)
    wy, wx = (sy - y0)[..., None], (sx - x0)[..., None]
    y0, x0 = tf.cast(y0, tf.int32) % h, tf.cast(x0, tf.int32) % w
    y1, x1 = (y0 + 1) % h, (x0 + 1) % w

    def at(y, x):
        return tf.gather_nd(images, tf.stack([y, x], axis=-1), batch_dims=1)

    return ((1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1))
            + wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1)))


def _total_variation(tf, images):
    """Mean absolute difference between neighbouring pixels, per image."""
    dy = tf.reduce_mean(tf.abs(images[:, 1:] - images[:, :-1]), axis=(1, 2, 3))
    dx = tf.reduce_mean(tf.abs(images[:, :, 1:] - images[:, :, :-1]), axis=(1, 2, 3))
    return dy + dx


def regularised_patterns(model, layer: str, filters=4, steps: int = 24,
                         size: int = 96, seed: int = 0, jitter: int = 8,
                         scale: tuple[float, float] = (0.9, 1.1), rotate: float = 10.0,
                         high_freq_penalty: float = 0.0,
                         parameterisation: str = "fourier",
                         learning_rate: float = 0.15,
                         cache: bool = True) -> RegularisedPatterns:
    """Images that excite chosen filters of `layer`, regularised to read as features.

    Taught in `07_looking_inside.ipynb`. Same objective as `filter_patterns`
    (each filter's mean response before its ReLU, one image per filter in one
    batch), but the image is `parameterisation` "fourier" (coefficients scaled
    by 1/frequency, decorrelated colours) or "pixels", optimised with Adam for
    `steps` at `learning_rate`, and each step shows the network a randomly
    transformed canvas: shifted by up to `jitter` pixels, scaled by a factor in
    `scale`, rotated by up to `rotate` degrees. `high_freq_penalty`: weight of
    a total-variation penalty, its gradient against the response's (each at
    unit size per image: 1.0 smooths as hard as it climbs); "pixels" needs
    one, or its images stay noise. `size`: the canvas side.
    Seeded; stored under `TLH_HOME/patterns`, keyed by the weights up to
    `layer` and every setting, so a rerun reads the file.
    """
    started = time.perf_counter()
    depth = layer_depth(model, layer)
    chosen = _check_filters(filters, depth, layer)
    settings = _check_settings(steps, size, jitter, scale, rotate, high_freq_penalty,
                               parameterisation, learning_rate)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed={seed!r} is not valid; expected an integer")
    base, backbone = resolve_base(model)
    parts = {"version": PATTERN_VERSION, "weights": weights_up_to(model, layer),
             "backbone": backbone, "layer": layer, "filters": chosen,
             "seed": int(seed), "dtype": base.dtype_policy.name, **settings}
    path = config.cache_dir("patterns") / f"{_key(parts)}.npz"
    if cache and path.exists():
        stored = features_mod.load_npz(path)
        if stored is not None:
            return RegularisedPatterns(
                layer, chosen, stored["images"], stored["start"], stored["end"],
                settings, True, time.perf_counter() - started,
                float(stored["compute_seconds"]))
    images, start, end = _ascend(model, layer, chosen, depth, settings, int(seed))
    computed = time.perf_counter() - started
    if cache:
        features_mod.save_npz_atomic(path, images=images, start=start, end=end,
                                     compute_seconds=np.array(computed))
    return RegularisedPatterns(layer, chosen, images, start, end, settings, False,
                               computed, computed)


def _ascend(model, layer: str, chosen: list[int], depth: int, settings: dict,
            seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The optimisation itself: (uint8 images, start, end responses)."""
    import keras
    import tensorflow as tf

    size, n = settings["size"], len(chosen)
    copy = resized_base(model, size, copy=True)
    target = resolve_base(copy)[0].get_layer(layer)
    if hasattr(target, "activation"):
        # On the copy only: deep filters are silent on a grey canvas after
        # their ReLU, which passes no gradient.
        target.activation = keras.activations.linear
    extractor = layer_model(copy, [layer])
    pick = tf.one_hot(chosen, depth, dtype=tf.float32)

    rng = np.random.default_rng(seed)
    if settings["parameterisation"] == "fourier":
        # Lucid's start: tiny random coefficients, an almost uniform grey image.
        shape = (n, 3, size, size // 2 + 1)
        init = rng.normal(0, 0.01, size=(2,) + shape).astype(np.float32)
        freq_scale = tf.constant(_fourier_scale(size))
    else:
        init = rng.normal(0, 0.01, size=(n, size, size, 3)).astype(np.float32)
    jitter, (low, high), rotate = (settings["jitter"], settings["scale"],
                                   settings["rotate"])
    steps = settings["steps"]
    params = np.stack([rng.uniform(-jitter, jitter, (steps, n)),
                       rng.uniform(-jitter, jitter, (steps, n)),
                       np.exp(rng.uniform(np.log(low), np.log(high), (steps, n))),
                       np.deg2rad(rng.uniform(-rotate, rotate, (steps, n)))],
                      axis=-1).astype(np.float32)
    variable = tf.Variable(init)

    def render():
        if settings["parameterisation"] == "fourier":
            spectrum = tf.complex(variable[0] * freq_scale, variable[1] * freq_scale)
            raw = tf.signal.irfft2d(spectrum, fft_length=[size, size])
            raw = tf.transpose(raw, (0, 2, 3, 1)) / 4.0
        else:
            raw = variable
        return _to_rgb(tf, raw)

    def per_filter(images):
        maps = extractor(images * 255.0, training=False)
        maps = maps[0] if isinstance(maps, (list, tuple)) else maps
        # Border cells see the zero padding; leave them out, as filter_patterns does.
        m = 2 if maps.shape[1] > 8 else 0
        if m:
            maps = maps[:, m:-m, m:-m, :]
        return tf.reduce_sum(tf.reduce_mean(maps, axis=(1, 2)) * pick, axis=1)

    optimiser = keras.optimizers.Adam(settings["learning_rate"])
    optimiser.build([variable])
    penalty = settings["high_freq_penalty"]

    # The axes of one image in the variable: the gradients are sized per image.
    image_axis = 1 if settings["parameterisation"] == "fourier" else 0
    other_axes = [a for a in range(len(init.shape)) if a != image_axis]

    def unit(grads):
        rms = tf.sqrt(tf.reduce_mean(tf.square(grads), axis=other_axes, keepdims=True))
        return grads / (rms + 1e-12)

    @tf.function
    def step(transform):
        with tf.GradientTape(persistent=bool(penalty)) as tape:
            images = render()
            loss = -tf.reduce_sum(per_filter(_transform(tf, images, transform)))
            if penalty:
                roughness = tf.reduce_sum(_total_variation(tf, images))
        grads = tape.gradient(loss, variable)
        if penalty:
            # Both directions at unit size per image: the weight means the
            # same for every layer, whatever the units of its responses.
            grads = unit(grads) + penalty * unit(tape.gradient(roughness, variable))
        optimiser.apply_gradients([(grads, variable)])

    start = np.asarray(per_filter(render()), dtype=np.float64)
    for i in range(steps):
        step(tf.constant(params[i]))
    final = render()
    end = np.asarray(per_filter(final), dtype=np.float64)
    images = np.clip(np.asarray(final) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return images, start, end


# -- dataset examples ---------------------------------------------------------------


@dataclasses.dataclass
class SpatialMaxima:
    """Per image and channel of one layer: the map's highest value and where it is."""

    layer: str
    values: np.ndarray     # (N, channels) float32
    cells: np.ndarray      # (N, channels) int32, flat index into the map
    map_shape: tuple       # (height, width) of the map
    labels: np.ndarray | None
    from_cache: bool
    seconds: float


@dataclasses.dataclass
class TopExamples:
    """For each chosen channel, the k images whose maps peak highest, with crops."""

    layer: str
    channels: list[int]
    indices: np.ndarray    # (channels, k): which image
    values: np.ndarray     # (channels, k): the peak's activation
    cells: np.ndarray      # (channels, k, 2): (row, column) of the peak in the map
    boxes: np.ndarray      # (channels, k, 4): top, left, bottom, right in pixels
    crops: list            # per channel, k uint8 crops of the photos
    labels: np.ndarray | None  # (channels, k): the images' labels, when known
    split: str | None
    from_cache: bool
    seconds: float


def _is_image_array(source) -> bool:
    return hasattr(source, "shape") and len(getattr(source, "shape", ())) in (3, 4)


def receptive_field(model, layer: str) -> tuple[int, int]:
    """(receptive field, stride) in input pixels of one cell of `layer`'s map."""
    import keras

    base, _ = resolve_base(model)
    field, jump = 1, 1
    for item in base.layers:
        if isinstance(item, keras.layers.Conv2D | keras.layers.DepthwiseConv2D):
            kernel = int(item.kernel_size[0])
            dilation = int(item.dilation_rate[0])
            field += (kernel - 1) * dilation * jump
            jump *= int(item.strides[0])
        elif isinstance(item, keras.layers.MaxPooling2D | keras.layers.AveragePooling2D):
            field += (int(item.pool_size[0]) - 1) * jump
            jump *= int(item.strides[0])
        if item.name == layer:
            break
    return field, jump


def spatial_maxima(model, items_or_images, layer: str, batch_size: int | None = None,
                   cache: bool = True) -> SpatialMaxima:
    """Every channel's highest value in `layer`'s map, and its cell, for every image.

    Taught in `07_looking_inside.ipynb`. `items_or_images`: (path, label)
    items (read at the model's input size) or raw 0..255 images. One pass,
    stored under `TLH_HOME/features` keyed like `pooled_features` (weights up
    to the layer, the files or the images' bytes), so any channel is then
    looked up at once.
    """
    started = time.perf_counter()
    depth = layer_depth(model, layer)
    base, backbone = resolve_base(model)
    size = int(base.input_shape[1])
    if _is_image_array(items_or_images):
        images = image_batch(model, items_or_images)
        labels, items = None, None
        source = hashlib.sha256(str(images.shape).encode() + images.tobytes())
        source = source.hexdigest()
    else:
        items = list(items_or_images)
        if not items:
            raise ValueError("items_or_images is empty; expected (path, label) "
                             "items or an image array")
        labels = np.array([label for _, label in items], dtype=np.int32)
        source, images = features_mod.files_fingerprint(items), None
    parts = {"version": MAXIMA_VERSION, "kind": "spatial-max", "layer": layer,
             "weights": weights_up_to(model, layer), "backbone": backbone,
             "image_size": size, "source": source, "dtype": base.dtype_policy.name}
    if items is not None:
        from ..data.images import decoding_signature

        parts["decoding"] = decoding_signature()
    path = config.cache_dir("features") / f"{_key(parts)}.npz"
    if cache and path.exists():
        stored = features_mod.load_npz(path)
        if stored is not None and stored["values"].shape[1] == depth:
            return SpatialMaxima(layer, stored["values"], stored["cells"],
                                 tuple(int(d) for d in stored["map_shape"]), labels,
                                 True, time.perf_counter() - started)
    values, cells, map_shape = _maxima_pass(model, layer, size, items, images,
                                            batch_size)
    if cache:
        features_mod.save_npz_atomic(path, values=values, cells=cells,
                                     map_shape=np.array(map_shape))
    return SpatialMaxima(layer, values, cells, map_shape, labels, False,
                         time.perf_counter() - started)


def _maxima_pass(model, layer, size, items, images, batch_size):
    """One pass over the images: (values, cells, map shape) of every channel's peak."""
    import tensorflow as tf

    extractor = layer_model(model, [layer])
    batch_size = batch_size or config.get_profile().batch_size
    if items is not None:
        from ..data.pipeline import make_dataset

        batches = (x for x, _ in make_dataset(items, size, batch_size, shuffle=False,
                                              cache=False))
    else:
        batches = (images[i:i + batch_size] for i in range(0, len(images), batch_size))

    @tf.function
    def peaks(x):
        maps = extractor(x, training=False)
        maps = tf.cast(maps[0] if isinstance(maps, (list, tuple)) else maps, tf.float32)
        flat = tf.reshape(maps, (tf.shape(maps)[0], -1, maps.shape[-1]))
        return (tf.reduce_max(flat, axis=1),
                tf.argmax(flat, axis=1, output_type=tf.int32), tf.shape(maps)[1:3])

    values, cells, shape = [], [], None
    for x in batches:
        top, where, shape = peaks(tf.convert_to_tensor(x, tf.float32))
        values.append(np.asarray(top))
        cells.append(np.asarray(where))
    return (np.concatenate(values), np.concatenate(cells),
            tuple(int(d) for d in np.asarray(shape)))


def crop_box(cell: tuple[int, int], map_shape: tuple, image_size: int,
             side: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right): a side x side square centred on the cell, inside the image."""
    side = min(int(side), image_size)
    box = []
    for index, cells in zip(cell, map_shape):
        centre = (index + 0.5) * image_size / cells
        low = int(round(centre - side / 2))
        box.append(min(max(low, 0), image_size - side))
    return box[0], box[1], box[0] + side, box[1] + side


def default_crop(model, layer: str, image_size: int) -> int:
    """A crop side that shows what one cell sees: half its receptive field.

    At least three strides (the cells next to it) and 16 pixels; at most the
    image. The full receptive field of a block5 cell (196 px) is larger than
    the photo, and a cell is mostly driven by the centre of its field.
    """
    field, stride = receptive_field(model, layer)
    return int(min(image_size, max(16, 3 * stride, field // 2)))


def top_activating(model, items_or_images, layer: str, channels, k: int = 9,
                   crop: int | None = None, split: str | None = "validation",
                   batch_size: int | None = None, cache: bool = True) -> TopExamples:
    """The `k` images whose `layer` map reaches the highest value in each channel.

    Taught in `07_looking_inside.ipynb`. `channels`: one index or a list.
    `items_or_images`: (path, label) items (e.g. the validation photos) or
    raw 0..255 images. Each example comes with the cell of the peak and a
    `crop` x `crop` square of the photo around the cell's centre (default
    `default_crop`). `split`: which photos these are, for the plot's labels.
    The per-channel maxima are stored (`spatial_maxima`): another channel
    costs no pass.
    """
    depth = layer_depth(model, layer)
    chosen = _check_filters(channels, depth, layer, name="channels")
    k = check_positive_int("k", k)
    if crop is not None:
        crop = check_positive_int("crop", crop)
    maxima = spatial_maxima(model, items_or_images, layer, batch_size, cache)
    base, _ = resolve_base(model)
    size = int(base.input_shape[1])
    side = crop or default_crop(model, layer, size)
    k = min(k, len(maxima.values))
    order = np.argsort(-maxima.values[:, chosen], axis=0, kind="stable")[:k].T
    values = np.take_along_axis(maxima.values[:, chosen].T, order, axis=1)
    flat = np.take_along_axis(maxima.cells[:, chosen].T, order, axis=1)
    cells = np.stack(np.unravel_index(flat, maxima.map_shape), axis=-1)
    boxes = np.array([[crop_box(cell, maxima.map_shape, size, side) for cell in row]
                      for row in cells], dtype=np.int32)
    photos = _load_photos(items_or_images, np.unique(order), size)
    crops = [[photos[i][top:bottom, left:right]
              for i, (top, left, bottom, right) in zip(row, row_boxes)]
             for row, row_boxes in zip(order, boxes)]
    labels = maxima.labels[order] if maxima.labels is not None else None
    return TopExamples(layer, chosen, order, values, cells, boxes, crops, labels,
                       split, maxima.from_cache, maxima.seconds)


def _load_photos(items_or_images, indices, size: int) -> dict[int, np.ndarray]:
    """index -> uint8 photo at the model's input size, for the few chosen ones."""
    if _is_image_array(items_or_images):
        array = np.asarray(items_or_images)
        array = array[None] if array.ndim == 3 else array
        return {int(i): np.clip(array[i], 0, 255).astype(np.uint8) for i in indices}
    from ..data.images import load_rgb

    items = list(items_or_images)
    return {int(i): load_rgb(items[i][0], size) for i in indices}


def plot_dataset_examples(examples: TopExamples, patterns: PatternSet | None = None,
                          plain: PatternSet | None = None, class_names=None,
                          title: str | None = None):
    """One row per channel: its optimised images, then the photos that excite it most.

    Taught in `07_looking_inside.ipynb`, as in Distill's "Feature
    Visualization": `patterns` (from `regularised_patterns`) and `plain` (from
    `filter_patterns`) for the same layer, each optional, then the crops of
    `examples` (from `top_activating`), each titled with its activation.
    Returns the Figure.
    """
    if not isinstance(examples, TopExamples):
        raise ValueError(f"examples={type(examples).__name__} is not valid; expected "
                         "the TopExamples that top_activating returns")
    sets = [(s, name) for s, name in ((patterns, "regularised\noptimum"),
                                      (plain, "plain\nascent")) if s is not None]
    for pattern_set, _ in sets:
        if pattern_set.layer != examples.layer:
            raise ValueError(f"patterns of {pattern_set.layer} do not match the "
                             f"examples of {examples.layer}")
    k = examples.indices.shape[1]
    cols = len(sets) + k
    rows = len(examples.channels)
    fig, axes = new_figure(rows, cols, width=1.25 * cols + 0.9,
                           height=1.45 * rows + 1.1)
    for row, channel in enumerate(examples.channels):
        for col, (pattern_set, name) in enumerate(sets):
            ax = axes[row, col]
            if channel in pattern_set.filters:
                show_tile(ax, pattern_set.images[pattern_set.filters.index(channel)],
                          name if row == 0 else None)
            else:
                ax.set_axis_off()
        for j in range(k):
            text = readable(float(examples.values[row, j]))
            if examples.labels is not None and class_names is not None:
                text += f"\n{class_names[int(examples.labels[row, j])]}"
            show_tile(axes[row, len(sets) + j], examples.crops[row][j], text)
        axes[row, 0].set_ylabel(f"channel {channel}", fontsize=9)
    split = examples.split or "given"
    fig.supxlabel(f"left: images optimised for the channel; right: crops of the {k} "
                  f"{split} photos whose map peaks highest in it (title: the peak)",
                  fontsize=9)
    fig.supylabel(f"channel of {examples.layer}", fontsize=9)
    fig.suptitle(title or f"What excites {examples.layer}: optimisation and "
                 f"{split} photos")
    return fig
