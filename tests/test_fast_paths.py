"""The backends' fast paths give the portable path's numbers.

`LayerNormLSTMCell` normalises with a hand-written gradient on JAX
(`backends/jax.py`) and TensorFlow (`backends/tensorflow.py`);
`_fast_normalization = False` falls back to autodiff of the portable
`keras.ops` forward. The truths here
are that autodiff and, for the normalisation alone, float64 finite
differences of a NumPy normalisation.
"""

import keras
import numpy as np
import pytest
from conftest import CORE_VARIANTS
from conftest import assert_close
from conftest import input_gradient

import keras_lstm_variants as klv
from keras_lstm_variants._numerics import normalization as _normalization

# The equations without the shared options (conftest.CORE_VARIANTS).
TESTED_VARIANTS = CORE_VARIANTS

pytestmark = pytest.mark.skipif(
    keras.backend.backend() == "torch",
    reason="PyTorch has no fast path: it runs the portable one only",
)

LAYER_NORM = [v for v in CORE_VARIANTS if v.cell is klv.LayerNormLSTMCell]


def _numpy_normalize(a, epsilon, centred=False):
    if not centred:
        a = a - a.mean(axis=-1, keepdims=True)
    variance = (a**2).mean(axis=-1, keepdims=True)
    return a / np.sqrt(variance + epsilon)


@pytest.mark.parametrize("constant_row", [False, True])
@pytest.mark.parametrize("centred", [False, True])
def test_normalization_gradient_matches_finite_differences(
    rng, constant_row, centred
):
    # centred=True: the input is taken as centred (a projection by a centred
    # kernel) and only scaled; the gradient is that of the scaling, at any
    # input, so the input here need not be centred.
    a = rng.normal(1.0, 2.0, size=(3, 8))
    if constant_row:
        a[1] = 0.7  # the variance is 0: the gradient is 1/sqrt(eps) * (...)
    weights = rng.normal(size=a.shape)
    epsilon = 1e-3
    normalize = _normalization(epsilon, fast=True, centred=centred)
    grad = input_gradient(
        lambda v: keras.ops.sqrt(
            keras.ops.sum(weights.astype("float32") * normalize(v)) + 100.0
        ),
        a.astype("float32"),
    )
    # input_gradient differentiates sum(f**2) = sum(w * LN(a)) + 100.
    expected = np.zeros_like(a)
    step = 1e-6
    for index in np.ndindex(a.shape):
        up, down = a.copy(), a.copy()
        up[index] += step
        down[index] -= step
        expected[index] = (
            np.sum(weights * _numpy_normalize(up, epsilon, centred))
            - np.sum(weights * _numpy_normalize(down, epsilon, centred))
        ) / (2 * step)
    np.testing.assert_allclose(grad, expected, rtol=2e-4, atol=2e-4)


def _one_sgd_step(variant, fast, x, y, **kwargs):
    """Weight updates of one SGD step (learning rate 1: minus the gradients),
    and the outputs before it."""
    cell_class = type(
        "Cell", (variant.cell,), {"_fast_normalization": fast}
    )
    layer_class = type("Layer", (variant.layer,), {"cell_class": cell_class})
    layer = layer_class(6, return_sequences=True, **variant.kwargs, **kwargs)
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, layer(keras.layers.Masking()(inputs)))
    weights = variant.random_weights(
        np.random.default_rng(7), x.shape[-1], 6
    )
    variant.set_weights(layer, weights)
    # A loss scale of 1: mixed_float16's default first scale overflows here
    # and skips the step, which would compare zeros with zeros.
    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(1.0), initial_scale=1.0
    )
    model.compile(optimizer, "mse")
    before = [np.array(w) for w in model.get_weights()]
    outputs = keras.ops.convert_to_numpy(model(x))
    model.train_on_batch(x, y)
    after = model.get_weights()
    return outputs, [
        b - np.array(a) for b, a in zip(before, after, strict=True)
    ]


@pytest.mark.parametrize("variant", LAYER_NORM, ids=lambda v: v.name)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_layer_matches_autodiff_of_portable_path(variant, rng, go_backwards):
    x = rng.normal(0.0, 3.0, size=(4, 7, 5)).astype("float32")
    x[1, 5:] = 0.0  # masked: right padding
    x[2, :2] = 0.0  # masked: left padding
    y = rng.normal(size=(4, 7, 6)).astype("float32")
    fast_out, fast_grads = _one_sgd_step(
        variant, True, x, y, go_backwards=go_backwards
    )
    slow_out, slow_grads = _one_sgd_step(
        variant, False, x, y, go_backwards=go_backwards
    )
    np.testing.assert_array_equal(fast_out, slow_out)  # the same forward ops
    for fast, slow in zip(fast_grads, slow_grads, strict=True):
        assert np.abs(slow).max() > 0
        assert_close(fast, slow, tol=1e-5 * max(1.0, np.abs(slow).max()))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_gradients_stay_finite_and_close(rng, policy):
    variant = LAYER_NORM[0]
    x = rng.normal(0.0, 30.0, size=(3, 6, 4)).astype("float32")
    y = rng.normal(size=(3, 6, 6)).astype("float32")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        _, fast = _one_sgd_step(variant, True, x, y)
        _, slow = _one_sgd_step(variant, False, x, y)
    finally:
        keras.config.set_dtype_policy(previous)
    for f, s in zip(fast, slow, strict=True):
        assert np.all(np.isfinite(f)) and np.abs(s).max() > 0
        assert np.abs(f - s).max() <= 1e-2 * np.abs(s).max()
