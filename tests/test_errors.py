"""Bad arguments raise ValueError (or TypeError) naming the argument and value."""

import numpy as np
import pytest
from conftest import VARIANTS

import keras_lstm_variants as klv

CLASSES = [v.cell for v in VARIANTS[::2]] + [v.layer for v in VARIANTS[::2]]

BAD_ARGUMENTS = [
    ({"units": 0}, ValueError, "units=0"),
    ({"units": -3}, ValueError, "units=-3"),
    ({"units": 2.5}, TypeError, "units=2.5"),
    ({"units": "8"}, TypeError, "units='8'"),
    ({"dropout": 1.5}, ValueError, "dropout=1.5"),
    ({"dropout": -0.1}, ValueError, "dropout=-0.1"),
    ({"recurrent_dropout": 2}, ValueError, "recurrent_dropout=2"),
    ({"implementation": 3}, ValueError, "implementation=3"),
    ({"activation": "no_such_activation"}, ValueError, "no_such_activation"),
    ({"kernel_initializer": "no_such_init"}, ValueError, "no_such_init"),
]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "arguments, error, message", BAD_ARGUMENTS, ids=lambda a: str(a)
)
def test_bad_constructor_argument(cls, arguments, error, message):
    arguments = {"units": 4, **arguments}
    with pytest.raises(error, match=message.replace(".", r"\.")):
        cls(**arguments)


@pytest.mark.parametrize("cls", [klv.LayerNormLSTMCell, klv.LayerNormLSTM])
@pytest.mark.parametrize("epsilon", [-1e-3, 0.0])
def test_norm_epsilon_must_be_positive(cls, epsilon):
    with pytest.raises(ValueError, match=f"norm_epsilon={epsilon}"):
        cls(4, norm_epsilon=epsilon)


@pytest.mark.parametrize("cls", [v.layer for v in VARIANTS[2::2]], ids=lambda c: c.__name__)
def test_use_cudnn_true_is_refused_for_variants_cudnn_cannot_compute(cls):
    with pytest.raises(ValueError, match="use_cudnn=True"):
        cls(4, use_cudnn=True)


def test_use_cudnn_must_be_auto_or_bool():
    with pytest.raises(ValueError, match="use_cudnn='yes'"):
        klv.LSTM(4, use_cudnn="yes")


@pytest.mark.parametrize("variant", VARIANTS[::2], ids=lambda v: v.name)
@pytest.mark.parametrize("shape", [(2, 3), (2, 5, 3, 1)], ids=str)
def test_layer_input_of_wrong_rank(variant, shape):
    with pytest.raises(ValueError, match=r"inputs\.shape=\(" + str(shape[0])):
        variant.layer(4)(np.ones(shape, "float32"))


@pytest.mark.parametrize("variant", VARIANTS[::2], ids=lambda v: v.name)
def test_cell_input_of_wrong_rank(variant):
    cell = variant.cell(4)
    with pytest.raises(ValueError, match=r"inputs\.shape=\(2, 5, 3\)"):
        cell.build((2, 5, 3))


@pytest.mark.parametrize("variant", VARIANTS[::2], ids=lambda v: v.name)
def test_cell_states_of_wrong_shape(variant):
    cell = variant.cell(4)
    x = np.ones((2, 3), "float32")
    with pytest.raises(ValueError, match=r"c\.shape=\(2, 5\)"):
        cell(x, [np.zeros((2, 4), "float32"), np.zeros((2, 5), "float32")])


@pytest.mark.parametrize("variant", VARIANTS[::2], ids=lambda v: v.name)
def test_initial_state_of_wrong_count(variant):
    x = np.ones((2, 5, 3), "float32")
    with pytest.raises(ValueError, match="Received: 1 tensor"):
        variant.layer(4)(x, initial_state=[np.zeros((2, 4), "float32")])


@pytest.mark.parametrize("variant", VARIANTS[::2], ids=lambda v: v.name)
@pytest.mark.parametrize("bad", [(2, 3), (3, 4), (2, 4, 1)], ids=str)
def test_initial_state_of_wrong_shape(variant, bad):
    x = np.ones((2, 5, 3), "float32")
    states = [np.zeros((2, 4), "float32"), np.zeros(bad, "float32")]
    with pytest.raises(ValueError, match=r"c\.shape=" + str(bad).replace("(", r"\(").replace(")", r"\)")):
        variant.layer(4)(x, initial_state=states)
