"""Every loop strategy of the layers computes the same numbers.

The layers' loop can compute the gate pre-activations three ways
(`keras_lstm_variants._base.LOOP_STRATEGY`); each backend uses the one that
measured fastest. Each must match the NumPy reference, with masks, reversed
sequences and gradients, whichever a backend picks.
"""

import keras
import numpy as np
import pytest
import reference
from conftest import assert_close
from conftest import input_gradient

from keras_lstm_variants._base import LOOP_STRATEGIES
from keras_lstm_variants._base import LOOP_STRATEGY


def test_every_backend_has_a_valid_strategy():
    assert set(LOOP_STRATEGY) == {"tensorflow", "jax", "torch"}
    assert set(LOOP_STRATEGY.values()) <= set(LOOP_STRATEGIES)


def _layer(variant, rng, strategy, dim, units, **kwargs):
    layer, weights = variant.built_layer(rng, dim, units, **kwargs)
    layer._loop_strategy = strategy
    return layer, weights


@pytest.mark.parametrize("strategy", LOOP_STRATEGIES)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_strategy_matches_reference(variant, rng, strategy, go_backwards):
    layer, weights = _layer(
        variant, rng, strategy, 5, 4,
        return_sequences=True, return_state=True, go_backwards=go_backwards,
    )
    x = rng.normal(size=(3, 7, 5))
    mask = np.ones((3, 7), bool)
    mask[1, 4:] = False  # right-padded
    mask[2, :3] = False  # left-padded
    outputs, h, c = layer(x.astype("float32"), mask=mask)
    ref_out, ref_h, ref_c = reference.run(
        variant.step, weights, x, mask=mask, go_backwards=go_backwards
    )
    assert_close(outputs, ref_out)
    assert_close(h, ref_h)
    assert_close(c, ref_c)


@pytest.mark.parametrize("strategy", LOOP_STRATEGIES)
def test_strategy_gradients_match_unrolled_cell(variant, rng, strategy):
    # The gradient of the loop equals that of the cell stepped by hand in
    # Python, which shares no loop code with the layer.
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    layer, _ = _layer(variant, rng, strategy, 3, 4)
    cell = variant.cell(4, **variant.kwargs)
    cell.build((None, 3))
    cell.set_weights(layer.get_weights())

    def by_hand(inputs):
        h = c = keras.ops.zeros((2, 4))
        for t in range(inputs.shape[1]):
            h, (h, c) = cell(inputs[:, t], [h, c])
        return h

    expected = input_gradient(by_hand, x)
    assert_close(input_gradient(layer, x), expected, tol=1e-4)


@pytest.mark.parametrize("strategy", LOOP_STRATEGIES)
@pytest.mark.parametrize("recurrent_dropout", [0.0, 0.2])
def test_strategy_dropout_masks_are_keras_masks(
    variant, rng, strategy, recurrent_dropout
):
    # With the same seed, every strategy draws and applies the same masks as
    # the cell stepped by keras.layers.RNN (Keras's own loop). Recurrent
    # dropout means one mask per gate, which "fused" hands to "step".
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    kwargs = dict(dropout=0.3, recurrent_dropout=recurrent_dropout, seed=3)
    layer, _ = _layer(variant, rng, strategy, 4, 6, **kwargs)
    rnn = keras.layers.RNN(variant.cell(6, **variant.kwargs, **kwargs))
    rnn.build((None, None, 4))
    rnn.set_weights(layer.get_weights())
    assert_close(layer(x, training=True), rnn(x, training=True))
