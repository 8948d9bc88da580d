"""The variants under test, with their documented weight layouts."""

import dataclasses
import functools
import importlib.util
import pathlib
import sys

import keras
import numpy as np
import pytest
import reference

import keras_lstm_variants as klv


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    cell: type
    layer: type
    kwargs: dict
    step: object  # the NumPy reference step
    gates: int
    extra_weights: tuple  # (name, size in units of U) after the gate weights

    def output_size(self, units):
        """The size of h and of the output: the projection's, if any."""
        return self.kwargs.get("projection_units") or units

    def layout(self, input_dim, units, use_bias=True):
        """The documented weight layout: [(name, shape)] in weight order."""
        width = self.gates * units
        layout = [
            ("kernel", (input_dim, width)),
            ("recurrent_kernel", (self.output_size(units), width)),
        ]
        if use_bias:
            layout.append(("bias", (width,)))
        layout += [
            (name, (blocks * units,)) for name, blocks in self.extra_weights
        ]
        if "projection_units" in self.kwargs:
            layout.append(
                ("projection_kernel", (units, self.kwargs["projection_units"]))
            )
        return layout

    def random_weights(self, rng, input_dim, units, use_bias=True):
        """Random weights by name; gains near 1, the rest around 0."""
        weights = {}
        for name, shape in self.layout(input_dim, units, use_bias):
            value = rng.normal(0.0, 0.5, shape)
            if name.endswith("_gamma"):
                value = 1.0 + 0.2 * value
            weights[name] = value
        return weights

    def set_weights(self, layer, weights):
        layer.set_weights([np.asarray(w, "float32") for w in weights.values()])

    def built_layer(self, rng, dim, units, use_bias=True, batch=None, **kwargs):
        """The variant's layer, built for `dim` features, with random weights.

        Returns `(layer, weights)`, the weights by name for the reference.
        """
        layer = self.layer(units, use_bias=use_bias, **self.kwargs, **kwargs)
        layer.build((batch, None, dim))
        weights = self.random_weights(rng, dim, units, use_bias)
        self.set_weights(layer, weights)
        return layer, weights


_PEEPHOLES = tuple(
    (f"{gate}_gate_peephole_weights", 1)
    for gate in ("input", "forget", "output")
)
_NORMS = tuple(
    (f"{norm}_{part}", blocks)
    for norm, blocks in (
        ("kernel_norm", 4),
        ("recurrent_norm", 4),
        ("state_norm", 1),
    )
    for part in ("gamma", "beta")
)

def _with_options(name, base, **options):
    """`base` with options of the shared base (projection, clipping,
    zoneout), its reference step bound to the same options."""
    zoneout = (options.get("output_zoneout", 0.0),
               options.get("cell_zoneout", 0.0))
    step = functools.partial(
        base.step,
        cell_clip=options.get("cell_clip"),
        projection_clip=options.get("projection_clip"),
        zoneout=zoneout,
    )
    return dataclasses.replace(
        base, name=name, kwargs={**base.kwargs, **options}, step=step
    )


VARIANTS = [
    Variant("lstm", klv.LSTMCell, klv.LSTM, {}, reference.lstm_step, 4, ()),
    Variant(
        "peephole",
        klv.PeepholeLSTMCell,
        klv.PeepholeLSTM,
        {},
        reference.peephole_step,
        4,
        _PEEPHOLES,
    ),
    Variant(
        "coupled",
        klv.CoupledLSTMCell,
        klv.CoupledLSTM,
        {},
        reference.coupled_step,
        3,
        (),
    ),
    Variant(
        "coupled_peepholes",
        klv.CoupledLSTMCell,
        klv.CoupledLSTM,
        {"use_peepholes": True},
        reference.coupled_step,
        3,
        _PEEPHOLES[1:],
    ),
    Variant(
        "layer_norm",
        klv.LayerNormLSTMCell,
        klv.LayerNormLSTM,
        {"norm_epsilon": 1e-3},
        functools.partial(reference.layer_norm_step, epsilon=1e-3),
        4,
        _NORMS,
    ),
    Variant(
        "layer_norm_tfa",
        klv.LayerNormLSTMCell,
        klv.LayerNormLSTM,
        {"carry_normalized_state": True, "norm_epsilon": 1e-2},
        functools.partial(
            reference.layer_norm_step, epsilon=1e-2, carry_normalized_state=True
        ),
        4,
        _NORMS,
    ),
]
# Each variant file once more with options of the shared base, in the
# combinations users port: PyTorch's proj_size, tf.compat.v1's num_proj with
# both clips, LiteRT's CIFG with peepholes, projection and cell clip, and
# zoneout (whose inference form is deterministic) on three of them.
_BY_NAME = {v.name: v for v in VARIANTS}
VARIANTS += [
    _with_options(
        "lstm_projected", _BY_NAME["lstm"],
        projection_units=3, projection_clip=0.4, output_zoneout=0.25,
    ),
    _with_options(
        "peephole_projected", _BY_NAME["peephole"],
        projection_units=3, cell_clip=0.6, projection_clip=0.5,
    ),
    _with_options(
        "coupled_projected", _BY_NAME["coupled_peepholes"],
        projection_units=2, cell_clip=0.7, cell_zoneout=0.3,
    ),
    _with_options(
        "layer_norm_projected", _BY_NAME["layer_norm"],
        projection_units=3, cell_clip=1.0, cell_zoneout=0.2,
        output_zoneout=0.1,
    ),
]


# The variants without options of the shared base: the equation-level
# suites (properties, mixed precision, stability, training, fast paths, the
# frozen 0.1.0 files) run these; the contract suites run all of VARIANTS.
CORE_VARIANTS = VARIANTS[:6]


GUIDE = pathlib.Path(__file__).parents[1] / "docs/guides/custom_variant.md"


def guide_variant_source():
    """The first code block of the guide "Write your own variant": a user's
    variant (JANET), written by the guide's recipe."""
    text = GUIDE.read_text()
    start = text.index("```python\n") + len("```python\n")
    return text[start:text.index("```", start)]


def _guide_variant():
    namespace = {"__name__": "custom_variant_guide"}
    exec(compile(guide_variant_source(), str(GUIDE), "exec"), namespace)
    return Variant(
        "guide_janet", namespace["JANETCell"], namespace["JANET"],
        {"shift": 1.5}, functools.partial(reference.janet_step, shift=1.5),
        2, (),
    )


# The guide's variant runs every contract test of the built-in ones.
VARIANTS.append(_guide_variant())


def pytest_generate_tests(metafunc):
    """`variant` runs over the test module's `TESTED_VARIANTS` if it has
    one, else over every entry of VARIANTS."""
    if "variant" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0]
        if isinstance(names, str):
            names = [name.strip() for name in names.split(",")]
        if "variant" in names:  # the test chose its own
            return
    variants = getattr(metafunc.module, "TESTED_VARIANTS", VARIANTS)
    metafunc.parametrize("variant", variants, ids=lambda v: v.name)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _clear_session():
    yield
    # Not free_memory: its gc.collect() took 0.2-0.5 s after every test,
    # 5-7 minutes of each backend's run; Python's own collector still runs.
    keras.backend.clear_session(free_memory=False)


BACKENDS = ("tensorflow", "jax", "torch")


def one_per_backend(cases, shift=0):
    """The case of `cases` this backend runs: a pairwise design, where each
    backend runs a different case and the suite, over its three backends,
    runs them all (with `shift`, another test gets another rotation)."""
    cases = list(cases)
    index = BACKENDS.index(keras.backend.backend()) + shift
    return [cases[index % len(cases)]]


def assert_close(actual, expected, tol=1e-5):
    np.testing.assert_allclose(
        to_numpy(actual), to_numpy(expected), rtol=tol, atol=tol
    )


def to_numpy(x):
    """A backend tensor (a torch one may carry a graph) or array as NumPy."""
    if isinstance(x, (np.ndarray, np.generic, float, int, list)):
        return np.asarray(x)
    return keras.ops.convert_to_numpy(x)


def input_gradient(function, x):
    """d sum(function(x)**2) / dx, by the backend's own autodiff, as NumPy."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return np.asarray(
            jax.grad(lambda v: keras.ops.sum(function(v) ** 2))(x)
        )
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function  # traced once: an eager loop runs op by op
        def gradient(v):
            with tf.GradientTape() as tape:
                tape.watch(v)
                loss = tf.reduce_sum(function(v) ** 2)
            return tape.gradient(loss, v)

        return gradient(tf.constant(x)).numpy()
    import torch

    v = torch.tensor(x, requires_grad=True)
    torch.sum(function(v) ** 2).backward()
    return v.grad.numpy()


EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"


def load_example(name):
    """Imports examples/<name>.py (not part of the package) as a module."""
    sys.path.insert(0, str(EXAMPLES))  # for the examples' own `_common`
    try:
        spec = importlib.util.spec_from_file_location(
            name, EXAMPLES / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    return module
