"""Projection, clipping and zoneout against independent truths.

Projected, clipped LSTMs are checked against `tf.compat.v1` and
`torch.nn.LSTM(proj_size=...)` through their migration (`test_migrate.py`).
Zoneout's training behaviour is checked here by its statistics and its
seeds (its inference form is in every contract test through conftest's
option variants).
"""


import keras
import numpy as np
import pytest
import reference
from conftest import assert_close
from conftest import to_numpy

import keras_lstm_variants as klv


def _zoneout_layer(units=32, **kwargs):
    # Small weights: no unit saturates, so a new value never equals the
    # previous one by chance in float32, and "kept" is exact equality.
    layer = klv.LSTM(
        units, return_sequences=True, return_state=True, seed=3, **kwargs
    )
    layer.build((None, None, 8))
    rng = np.random.default_rng(0)
    layer.set_weights(
        [rng.normal(0.0, 0.1, w.shape).astype("float32")
         for w in layer.get_weights()]
    )
    return layer


def test_zoneout_keeps_each_unit_at_its_rate_with_fresh_draws_per_step(rng):
    # Each unit of h keeps its previous value (exactly) with probability
    # output_zoneout, drawn anew at every step: over 64 x 40 x 32 draws the
    # rate is within 5 standard deviations, and keeping at t and at t+1 is
    # independent (probability r^2, not r as one mask per sequence gives).
    # The carry's rate is measured over one step from a random c0.
    r_h, r_c = 0.6, 0.3
    layer = _zoneout_layer(output_zoneout=r_h, cell_zoneout=r_c)
    x = rng.normal(size=(64, 40, 8)).astype("float32")
    outputs, _, _ = layer(x, training=True)
    outputs = to_numpy(outputs)
    kept = outputs[:, 1:] == outputs[:, :-1]
    n = kept.size
    assert abs(kept.mean() - r_h) < 5 * np.sqrt(r_h * (1 - r_h) / n)
    both = (kept[:, 1:] & kept[:, :-1]).mean()
    assert abs(both - r_h**2) < 5 * np.sqrt(r_h**2 * (1 - r_h**2) / n)
    c0 = rng.normal(size=(4096, 32)).astype("float32")
    h0 = rng.normal(size=(4096, 32)).astype("float32")
    one_step = rng.normal(size=(4096, 1, 8)).astype("float32")
    _, _, c = layer(one_step, training=True, initial_state=[h0, c0])
    kept_c = to_numpy(c) == c0
    m = kept_c.size
    assert abs(kept_c.mean() - r_c) < 5 * np.sqrt(r_c * (1 - r_c) / m)


def test_zoneout_is_its_expectation_at_inference(rng):
    # Without `training`, each state is r * previous + (1 - r) * new: the
    # NumPy reference of the equations (every contract test checks the same
    # through conftest's variants with zoneout).
    layer = _zoneout_layer(units=4, output_zoneout=0.4, cell_zoneout=0.7)
    weights = dict(zip(["kernel", "recurrent_kernel", "bias"],
                       [to_numpy(w) for w in layer.get_weights()],
                       strict=True))
    x = rng.normal(size=(3, 9, 8))
    outputs, h, c = layer(x.astype("float32"))
    step = lambda *a: reference.lstm_step(*a, zoneout=(0.4, 0.7))  # noqa: E731
    ref_outputs, ref_h, ref_c = reference.run(step, weights, x)
    assert_close(outputs, ref_outputs)
    assert_close(c, ref_c)


def test_zoneout_training_is_reproducible_by_seed(rng):
    x = rng.normal(size=(4, 12, 8)).astype("float32")
    first = to_numpy(_zoneout_layer(output_zoneout=0.5)(x, training=True)[0])
    again = to_numpy(_zoneout_layer(output_zoneout=0.5)(x, training=True)[0])
    other = klv.LSTM(32, return_sequences=True, seed=4, output_zoneout=0.5)
    other.build((None, None, 8))
    other.set_weights(_zoneout_layer(output_zoneout=0.5).get_weights())
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, to_numpy(other(x, training=True)))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_zoneout_trains_in_every_compiled_loop(rng, jit_compile):
    # JAX's lax.scan (always compiled), TensorFlow with and without XLA,
    # torch with and without torch.compile; with dropout, a mask, a
    # projection, in Bidirectional. A masked step changes nothing: the
    # output there repeats the previous one, zoneout or not.
    if keras.backend.backend() == "torch" and jit_compile:
        pytest.skip("torch.compile of a whole fit step: covered by "
                    "test_training for the loop, minutes here")
    if keras.backend.backend() == "jax" and not jit_compile:
        pytest.skip("JAX runs lax.scan compiled either way: the jit case")
    core = klv.CoupledLSTM(
        6, projection_units=3, cell_zoneout=0.3, output_zoneout=0.2,
        dropout=0.2, recurrent_dropout=0.2, return_sequences=True, seed=1,
    )
    inputs = keras.Input((7, 5))
    masked = keras.layers.Masking()(inputs)
    model = keras.Model(
        inputs, keras.layers.Bidirectional(core)(masked)
    )
    model.compile("adam", "mse", jit_compile=jit_compile)
    x = rng.normal(size=(8, 7, 5)).astype("float32")
    x[:, 5:] = 0.0  # masked tail
    y = rng.normal(size=(8, 7, 6)).astype("float32")
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    layer = _zoneout_layer(cell_zoneout=0.5, output_zoneout=0.5)
    mask = np.ones((8, 7), bool)
    mask[:, 5:] = False
    outputs, h, _ = layer(x[..., :1].repeat(8, -1), mask=mask, training=True)
    outputs = to_numpy(outputs)
    np.testing.assert_array_equal(outputs[:, 6], outputs[:, 4])
    np.testing.assert_array_equal(to_numpy(h), outputs[:, 4])


def test_a_bare_cell_draws_zoneout_per_step_where_its_loop_can(rng):
    # keras.layers.RNN steps a cell by itself: on TensorFlow and torch the
    # cell draws its own masks per step; inside JAX's lax.scan it cannot,
    # and says what to use instead.
    cell = klv.LSTMCell(32, output_zoneout=0.6, seed=2)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    rnn.build((None, None, 8))
    rnn.set_weights(_zoneout_layer().get_weights())
    x = rng.normal(size=(64, 20, 8)).astype("float32")
    if keras.backend.backend() == "jax":
        with pytest.raises(ValueError, match="zoneout.*layers"):
            rnn(x, training=True)
        return
    outputs = to_numpy(rnn(x, training=True))
    kept = outputs[:, 1:] == outputs[:, :-1]
    assert abs(kept.mean() - 0.6) < 5 * np.sqrt(0.24 / kept.size)
