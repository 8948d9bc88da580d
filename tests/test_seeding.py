"""Same seed, same model: our layers draw from the global seed stream what
Keras's draw, in the same order, so that a seeded model built with `LSTM`
has the weights of the same model built with `keras.layers.LSTM`, and a
variant the standard weights of the LSTM it varies.

The truth is Keras itself: each model is built twice under
`keras.utils.set_random_seed`, once with Keras's classes and once with ours.
"""

import random

import keras
import numpy as np
import pytest

import keras_lstm_variants as klv

SEED = 7


def _seeded(build):
    keras.utils.set_random_seed(SEED)
    return build()


def _encoder_decoder(lstm, **options):
    """The model of the issue that found the shift: the second layer and the
    Dense head are drawn after the first layer's options."""
    return keras.Sequential(
        [
            keras.Input((7, 12)),
            lstm(16, **options),
            keras.layers.RepeatVector(4),
            lstm(16, return_sequences=True, **options),
            keras.layers.Dense(12),
        ]
    )


def _bidirectional(lstm, **options):
    return keras.Sequential(
        [
            keras.Input((7, 12)),
            keras.layers.Bidirectional(
                lstm(8, return_sequences=True, **options)
            ),
            keras.layers.Bidirectional(lstm(8, **options)),
            keras.layers.Dense(3),
        ]
    )


def _stacked_cells(cell, **options):
    return keras.Sequential(
        [
            keras.Input((7, 12)),
            keras.layers.RNN(
                keras.layers.StackedRNNCells(
                    [cell(8, **options), cell(8, **options)]
                )
            ),
            keras.layers.Dense(3),
        ]
    )


def _assert_same_weights(ours, theirs):
    ours, theirs = ours.get_weights(), theirs.get_weights()
    assert [w.shape for w in ours] == [w.shape for w in theirs]
    for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"weight {k}")


# Arguments the two share, pairwise: off-by-default options of ours stay off.
SHARED_OPTIONS = [
    {},
    {"dropout": 0.2, "recurrent_dropout": 0.1, "seed": 3},
    {"unit_forget_bias": False, "bias_initializer": "random_normal"},
    {"use_bias": False, "kernel_initializer": "he_normal"},
]


@pytest.mark.parametrize("options", SHARED_OPTIONS, ids=str)
@pytest.mark.parametrize(
    "model", [_encoder_decoder, _bidirectional], ids=lambda f: f.__name__
)
def test_seeded_layers_equal_keras(model, options):
    theirs = _seeded(lambda: model(keras.layers.LSTM, **options))
    ours = _seeded(lambda: model(klv.LSTM, **options))
    _assert_same_weights(ours, theirs)


def test_seeded_cells_equal_keras():
    theirs = _seeded(lambda: _stacked_cells(keras.layers.LSTMCell))
    ours = _seeded(lambda: _stacked_cells(klv.LSTMCell))
    _assert_same_weights(ours, theirs)


@pytest.mark.parametrize(
    "layer, options",
    [
        (klv.PeepholeLSTM, {}),
        (klv.LayerNormLSTM, {}),
        (klv.LSTM, {"projection_units": 5}),
    ],
    ids=["peephole", "layer_norm", "projected"],
)
def test_variants_draw_the_standard_weights_first(layer, options):
    """A variant's kernel and bias (and recurrent kernel where its shape is
    the standard one) are `keras.layers.LSTM`'s under the same seed; its own
    weights are drawn after them."""
    theirs = _seeded(lambda: keras.layers.LSTM(4))
    theirs.build((None, 5, 6))
    ours = _seeded(lambda: layer(4, **options))
    ours.build((None, 5, 6))
    kernel, recurrent, bias = theirs.get_weights()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(ours.cell.kernel), kernel
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(ours.cell.bias), bias
    )
    if "projection_units" not in options:
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(ours.cell.recurrent_kernel), recurrent
        )


@pytest.mark.parametrize(
    "make",
    [lambda: klv.LSTM(4), lambda: klv.CoupledLSTM(4),
     lambda: klv.LSTMCell(4, cell_zoneout=0.0, cell_clip=None)],
    ids=["lstm", "coupled", "cell"],
)
def test_options_that_are_off_draw_nothing(make):
    """Projection and peepholes off: the global seed stream is where
    `keras.layers.LSTM` leaves it."""
    keras.utils.set_random_seed(SEED)
    keras.layers.LSTM(4)
    expected = random.random()
    keras.utils.set_random_seed(SEED)
    make()
    assert random.random() == expected


def test_seeded_training_steps_equal_keras():
    """A few seeded training steps with dropout agree to float32 rounding:
    the same initial weights, the same dropout masks, the same updates."""
    x = np.random.default_rng(0).normal(size=(16, 7, 12)).astype("float32")
    y = np.random.default_rng(1).normal(size=(16, 4, 12)).astype("float32")

    def train(lstm):
        keras.utils.set_random_seed(SEED)
        model = _encoder_decoder(lstm, dropout=0.25, seed=11)
        model.compile(keras.optimizers.SGD(0.1), "mse")
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        return model

    theirs = train(keras.layers.LSTM)
    ours = train(klv.LSTM)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
