"""Every layer under mixed_float16 and mixed_bfloat16, against float32."""

import keras
import numpy as np
import pytest
from conftest import CORE_VARIANTS

# The equations without the shared options (conftest.CORE_VARIANTS).
TESTED_VARIANTS = CORE_VARIANTS

# (worst element, mean) error after 20 steps, h lying in [-1, 1]. Layer
# normalisation of a few units amplifies the compute dtype's rounding in
# single elements (bfloat16 keeps 8 significant bits, float16 11), so the
# mean error is the tight bound: a wrong formula errs by ~0.1 on average.
POLICIES = {
    "mixed_float16": ("float16", (5e-2, 5e-3)),
    "mixed_bfloat16": ("bfloat16", (3e-1, 2e-2)),
}


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_layer_matches_float32_and_stays_finite(variant, rng, policy):
    compute_dtype, (max_error, mean_error) = POLICIES[policy]
    # Fixed initial weights: the worst element's error has a long tail over
    # random weights (bfloat16, LayerNormLSTM: 0.01-0.22 over 15 draws, 0.30
    # once in a full run on torch); the mean error stays the tight bound.
    keras.utils.set_random_seed(11)
    full = variant.layer(8, return_sequences=True, **variant.kwargs)
    mixed = variant.layer(
        8, return_sequences=True, dtype=policy, **variant.kwargs
    )
    x = rng.normal(size=(3, 20, 5)).astype("float32")
    full.build(x.shape)
    mixed.build(x.shape)
    mixed.set_weights(full.get_weights())
    assert all(w.dtype == "float32" for w in mixed.weights)  # float32 masters

    out = mixed(x)
    assert keras.backend.standardize_dtype(out.dtype) == compute_dtype
    error = np.abs(
        keras.ops.convert_to_numpy(keras.ops.cast(out, "float32"))
        - keras.ops.convert_to_numpy(full(x))
    )
    assert error.max() < max_error, error.max()
    assert error.mean() < mean_error, error.mean()
    # Large inputs saturate the gates but must not overflow: float16's
    # largest value is 65504, and the layer-norm statistics of x W (whose
    # squares exceed it) are computed in float32.
    big = mixed(30.0 * x)
    assert np.isfinite(keras.ops.convert_to_numpy(
        keras.ops.cast(big, "float32"))).all()


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_layer_norm_statistics_in_float32(rng, policy):
    # Rows whose squares overflow float16 still normalise correctly.
    from keras_lstm_variants import LayerNormLSTMCell

    cell = LayerNormLSTMCell(4, dtype=policy)
    cell.build((None, 3))
    a = keras.ops.cast(300.0 * rng.normal(size=(2, 16)), POLICIES[policy][0])
    normalized = keras.ops.convert_to_numpy(
        keras.ops.cast(cell._layer_norm(a, "kernel_norm"), "float32")
    )
    assert np.isfinite(normalized).all()
    np.testing.assert_allclose(normalized.mean(-1), 0.0, atol=0.05)
    np.testing.assert_allclose(normalized.std(-1), 1.0, atol=0.05)
