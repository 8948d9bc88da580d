"""Numerical stability: long sequences, large inputs, long gradient chains.

Beyond "finite", each test checks a bound the equations imply: |h| <= 1
(h is a sigmoid times a tanh), and |c_t| <= t for the uncoupled cells
(c_t = f c_{t-1} + i g with f, i in (0, 1), |g| < 1), |c| <= 1 for the
coupled cell (a convex combination of c and g). The mixed-precision case
(inputs scaled by 30) is in test_mixed_precision.py.
"""

import keras
import numpy as np
import pytest
from conftest import CORE_VARIANTS
from conftest import input_gradient
from conftest import to_numpy

# The equations without the shared options (conftest.CORE_VARIANTS).
TESTED_VARIANTS = CORE_VARIANTS

LONG = 5000


def _state_bound(variant, steps):
    if variant.name.startswith("coupled"):
        return 1.0
    if variant.name == "layer_norm_tfa":
        return None  # the normalised carry is bounded by gamma and beta instead
    return float(steps)


@pytest.mark.slow
def test_long_sequence_with_large_inputs_stays_finite_and_bounded(variant, rng):
    layer = variant.layer(
        8, return_sequences=True, return_state=True, **variant.kwargs
    )
    # Large inputs saturate every gate; a constant drift drives c to grow.
    x = (100.0 * rng.normal(size=(2, LONG, 3)) + 50.0).astype("float32")
    # Through predict: traced once (an eager TensorFlow loop of 5000 steps
    # runs op by op from Python, 50 times slower).
    inputs = keras.Input((LONG, 3))
    model = keras.Model(inputs, layer(inputs))

    outputs, h, c = (to_numpy(t) for t in model.predict(x, verbose=0))

    for name, value in (("outputs", outputs), ("h", h), ("c", c)):
        assert np.all(np.isfinite(value)), name
    assert np.abs(outputs).max() <= 1.0
    bound = _state_bound(variant, LONG)
    if bound is not None:
        assert np.abs(c).max() <= bound + 1e-3


@pytest.mark.slow
def test_gradients_through_1000_steps_are_finite(variant, rng):
    layer = variant.layer(8, **variant.kwargs)
    x = (30.0 * rng.normal(size=(2, 1000, 3))).astype("float32")  # saturating

    gradient = input_gradient(layer, x)

    assert gradient.shape == x.shape
    assert np.all(np.isfinite(gradient))
    # Not trivially finite: the loss does depend on the inputs.
    assert np.abs(gradient[:, -1]).max() > 0.0


def test_gradients_reach_the_weights_through_1000_steps(variant, rng):
    """One optimiser step on a 1000-step sequence leaves finite weights."""
    inputs = keras.Input((1000, 3))
    model = keras.Model(
        inputs,
        keras.layers.Dense(1)(variant.layer(8, **variant.kwargs)(inputs)),
    )
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x = (30.0 * rng.normal(size=(4, 1000, 3))).astype("float32")
    before = [w.copy() for w in model.get_weights()]

    loss = model.train_on_batch(x, np.ones((4, 1), "float32"))

    after = model.get_weights()
    assert np.isfinite(loss)
    assert all(np.all(np.isfinite(w)) for w in after)
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(after[:3], before[:3], strict=True)
    )
