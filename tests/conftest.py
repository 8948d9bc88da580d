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

    def layout(self, input_dim, units, use_bias=True):
        """The documented weight layout: [(name, shape)] in weight order."""
        width = self.gates * units
        layout = [
            ("kernel", (input_dim, width)),
            ("recurrent_kernel", (units, width)),
        ]
        if use_bias:
            layout.append(("bias", (width,)))
        return layout + [
            (name, (blocks * units,)) for name, blocks in self.extra_weights
        ]

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
    (f"{gate}_gate_peephole_weights", 1) for gate in ("input", "forget", "output")
)
_NORMS = tuple(
    (f"{norm}_{part}", blocks)
    for norm, blocks in (("kernel_norm", 4), ("recurrent_norm", 4), ("state_norm", 1))
    for part in ("gamma", "beta")
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


@pytest.fixture(params=VARIANTS, ids=lambda v: v.name)
def variant(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _clear_session():
    yield
    keras.backend.clear_session()


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

        v = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(v)
            loss = tf.reduce_sum(function(v) ** 2)
        return tape.gradient(loss, v).numpy()
    import torch

    v = torch.tensor(x, requires_grad=True)
    torch.sum(function(v) ** 2).backward()
    return v.grad.numpy()


EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"


def load_example(name):
    """Imports examples/<name>.py (not part of the package) as a module."""
    sys.path.insert(0, str(EXAMPLES))  # for the examples' own `_common`
    try:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    return module
