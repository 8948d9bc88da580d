"""Values published in TensorFlow Addons' own LayerNormLSTMCell tests.

TFA's test builds cells of 2 units with every weight and bias initialised to
0.5 (`unit_forget_bias` on), `norm_epsilon=1e-12`, and states
h = 0.1 * [2, 3], c = 0.1 * [0, 1] (and h = 0.1 * [6, 7], c = 0.1 * [4, 5]
for the second cell of a stack), inputs of ones; it expects
h = [-0.47406167, 0.47406143] and c = [-1, 1] for every cell.
"""

import keras
import numpy as np
from conftest import assert_close

import keras_lstm_variants as klv

EXPECTED_H = np.array([[-0.47406167, 0.47406143]])
EXPECTED_C = np.array([[-1.0, 1.0]])


def _tfa_cell():
    return klv.LayerNormLSTMCell(
        units=2,
        kernel_initializer=keras.initializers.Constant(0.5),
        recurrent_initializer=keras.initializers.Constant(0.5),
        bias_initializer=keras.initializers.Constant(0.5),
        norm_epsilon=1e-12,
        carry_normalized_state=True,
    )


def test_single_cell_with_three_inputs():
    cell = _tfa_cell()
    h = 0.1 * np.array([[2.0, 3.0]], "float32")
    c = 0.1 * np.array([[0.0, 1.0]], "float32")
    output, (h1, c1) = cell(np.ones((1, 3), "float32"), [h, c])
    assert_close(output, EXPECTED_H)
    assert_close(h1, EXPECTED_H)
    assert_close(c1, EXPECTED_C)


def test_stacked_cells():
    stack = keras.layers.StackedRNNCells([_tfa_cell(), _tfa_cell()])
    states = (
        [
            0.1 * np.array([[2.0, 3.0]], "float32"),
            0.1 * np.array([[0.0, 1.0]], "float32"),
        ],
        [
            0.1 * np.array([[6.0, 7.0]], "float32"),
            0.1 * np.array([[4.0, 5.0]], "float32"),
        ],
    )
    output, new_states = stack(np.ones((1, 2), "float32"), states)
    assert_close(output, EXPECTED_H)
    for h, c in new_states:
        assert_close(h, EXPECTED_H)
        assert_close(c, EXPECTED_C)
