"""`LSTM`/`LSTMCell` against `keras.layers.LSTM`/`LSTMCell` on the same
weights."""

import itertools

import keras
import numpy as np
import pytest
from conftest import assert_close
from conftest import to_numpy

import keras_lstm_variants as klv

FLAGS = ["unit_forget_bias", "use_bias", "unroll", "masked", "go_backwards"]


def _pair(rng, units=4, dim=3, theirs_kwargs=None, **kwargs):
    theirs = keras.layers.LSTM(units, **{**kwargs, **(theirs_kwargs or {})})
    ours = klv.LSTM(units, **kwargs)
    theirs.build((None, 6, dim))
    ours.build((None, 6, dim))
    weights = [
        rng.normal(0, 0.5, w.shape).astype("float32")
        for w in theirs.get_weights()
    ]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return theirs, ours


# All 8 combinations of the flags that interact in the loop (unroll, masked,
# go_backwards), each with one of the 4 (unit_forget_bias, use_bias) pairs,
# every pair twice: 8 cases where the full product had 32.
_LOOP_FLAGS = list(itertools.product([False, True], repeat=3))
_BIAS_FLAGS = list(itertools.product([False, True], repeat=2))


@pytest.mark.parametrize(
    "flags",
    [bias + loop
     for k, loop in enumerate(_LOOP_FLAGS)
     for bias in [_BIAS_FLAGS[(k + k // 4) % 4]]],
    ids=lambda f: "-".join(n for n, on in zip(FLAGS, f, strict=True) if on)
    or "default",
)
def test_layer_matches_keras(rng, flags):
    options = dict(zip(FLAGS, flags, strict=True))
    masked = options.pop("masked")
    theirs_kwargs = {}
    if (
        keras.backend.backend() == "torch"
        and masked and options["unroll"] and options["go_backwards"]
    ):
        # Keras limitation: on torch, keras.layers.LSTM(unroll=True,
        # go_backwards=True) fails on a mask (its unrolled loop flips the mask
        # list with a tuple of dims). Unrolling does not change the maths, so
        # the rolled Keras layer is the reference for our unrolled one.
        theirs_kwargs["unroll"] = False
    theirs, ours = _pair(
        rng, return_sequences=True, return_state=True,
        theirs_kwargs=theirs_kwargs, **options,
    )
    x = rng.normal(size=(3, 6, 3)).astype("float32")
    mask = np.arange(6)[None] < np.array([[6], [2], [4]]) if masked else None
    for expected, actual in zip(
        theirs(x, mask=mask), ours(x, mask=mask), strict=True
    ):
        assert_close(actual, keras.ops.convert_to_numpy(expected))


@pytest.mark.parametrize(
    "options",
    [
        {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
        {"implementation": 1},
        {"stateful": True},
        {"zero_output_for_mask": True},
    ],
    ids=str,
)
def test_other_arguments_match_keras(rng, options):
    kwargs = {"return_sequences": True, **options}
    theirs = keras.layers.LSTM(4, **kwargs)
    ours = klv.LSTM(4, **kwargs)
    theirs.build((2, 5, 3))
    ours.build((2, 5, 3))
    weights = [
        rng.normal(0, 0.5, w.shape).astype("float32")
        for w in theirs.get_weights()
    ]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    for _ in range(2):  # twice: a stateful layer carries its state over
        assert_close(
            ours(x, mask=mask), keras.ops.convert_to_numpy(theirs(x, mask=mask))
        )


@pytest.mark.parametrize("implementation", [1, 2])
def test_dropout_masks_match_keras_with_the_same_seed(rng, implementation):
    kwargs = dict(
        dropout=0.3, recurrent_dropout=0.2 if implementation == 1 else 0.0,
        seed=7, implementation=implementation, return_sequences=True,
    )
    theirs, ours = _pair(rng, **kwargs)
    x = rng.normal(size=(3, 6, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(theirs(x, training=True))
    actual = keras.ops.convert_to_numpy(ours(x, training=True))
    # Dropout acted.
    assert not np.allclose(actual, to_numpy(ours(x, training=False)))
    assert_close(actual, expected)


def test_cell_matches_keras_cell(rng):
    theirs, ours = keras.layers.LSTMCell(5), klv.LSTMCell(5)
    theirs.build((None, 3))
    ours.build((None, 3))
    ours.set_weights(
        [
            rng.normal(0, 0.5, w.shape).astype("float32")
            for w in ours.get_weights()
        ]
    )
    theirs.set_weights(ours.get_weights())  # and the other way round
    x = rng.normal(size=(2, 3)).astype("float32")
    states = [rng.normal(size=(2, 5)).astype("float32") for _ in range(2)]
    for expected, actual in zip(
        theirs(x, states)[1], ours(x, states)[1], strict=True
    ):
        assert_close(actual, keras.ops.convert_to_numpy(expected))


def test_default_initial_weights_match_keras():
    keras.utils.set_random_seed(3)
    theirs = keras.layers.LSTM(4)
    theirs.build((None, 5, 3))
    keras.utils.set_random_seed(3)
    ours = klv.LSTM(4)
    ours.build((None, 5, 3))
    for expected, actual in zip(
        theirs.get_weights(), ours.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(actual, expected)


def test_peephole_with_zero_peepholes_equals_lstm(rng):
    lstm = klv.LSTM(4, return_sequences=True)
    peephole = klv.PeepholeLSTM(
        4, return_sequences=True, peephole_initializer="zeros"
    )
    lstm.build((None, 6, 3))
    peephole.build((None, 6, 3))
    weights = [
        rng.normal(0, 0.5, w.shape).astype("float32")
        for w in lstm.get_weights()
    ]
    lstm.set_weights(weights)
    peephole.set_weights(weights + [np.zeros(4, "float32")] * 3)
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    assert_close(peephole(x), keras.ops.convert_to_numpy(lstm(x)))
