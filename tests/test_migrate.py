"""keras_lstm_variants.migrate against NumPy versions of the old cells."""

import numpy as np
import pytest
from conftest import assert_close

import keras_lstm_variants as klv
from keras_lstm_variants import migrate


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def compat_v1_lstm(x, c, h, kernel, bias, forget_bias, peepholes=None):
    """One step of tf.compat.v1.nn.rnn_cell.LSTMCell, as its source reads.

    The fused kernel multiplies [x, h]; gate blocks are i, j, f, o; the state
    is (c, h).
    """
    i, j, f, o = np.split(np.concatenate([x, h], 1) @ kernel + bias, 4, 1)
    if peepholes is None:
        c = _sigmoid(f + forget_bias) * c + _sigmoid(i) * np.tanh(j)
        h = _sigmoid(o) * np.tanh(c)
    else:
        w_i, w_f, w_o = peepholes
        c = (_sigmoid(f + forget_bias + w_f * c) * c
             + _sigmoid(i + w_i * c) * np.tanh(j))
        h = _sigmoid(o + w_o * c) * np.tanh(c)
    return c, h


@pytest.mark.parametrize("use_peepholes", [False, True])
@pytest.mark.parametrize("forget_bias", [1.0, 0.0, 2.5])
def test_compat_v1_cell_and_weights_match_its_equations(
    rng, use_peepholes, forget_bias
):
    dim, units, batch = 3, 5, 4
    kernel = rng.normal(size=(dim + units, 4 * units))
    bias = rng.normal(size=4 * units)
    peepholes = (
        [rng.normal(size=units) for _ in range(3)] if use_peepholes else None
    )
    cell = migrate.from_compat_v1_config(
        {"num_units": units, "use_peepholes": use_peepholes,
         "forget_bias": forget_bias, "state_is_tuple": True}
    )
    assert isinstance(
        cell, klv.PeepholeLSTMCell if use_peepholes else klv.LSTMCell
    )
    cell.build((None, dim))
    cell.set_weights(
        migrate.compat_v1_weights(
            kernel, bias, *(peepholes or []), input_dim=dim,
            forget_bias=forget_bias,
        )
    )
    x = rng.normal(size=(batch, 6, dim))
    c = rng.normal(size=(batch, units))
    h = rng.normal(size=(batch, units))
    ours_h, ours_c = h.astype("float32"), c.astype("float32")
    for t in range(x.shape[1]):
        c, h = compat_v1_lstm(x[:, t], c, h, kernel, bias, forget_bias,
                              peepholes)
        _, (ours_h, ours_c) = cell(x[:, t].astype("float32"),
                                   [ours_h, ours_c])
    assert_close(ours_h, h)
    assert_close(ours_c, c)


def test_compat_v1_refuses_what_it_cannot_map():
    with pytest.raises(ValueError, match="num_proj_shards"):
        migrate.from_compat_v1_config({"num_units": 4, "num_proj_shards": 2})
    with pytest.raises(ValueError, match="state_is_tuple"):
        migrate.from_compat_v1_config(
            {"num_units": 4, "state_is_tuple": False}
        )
    with pytest.raises(ValueError, match="num_units"):
        migrate.from_compat_v1_config({"use_peepholes": True})
    with pytest.raises(ValueError, match="bogus"):
        migrate.from_compat_v1_config({"num_units": 4, "bogus": 1})
    with pytest.raises(ValueError, match=r"kernel.shape=\(7, 8\)"):
        migrate.compat_v1_weights(np.zeros((7, 8)), np.zeros(8), input_dim=3)
    with pytest.raises(ValueError, match="all three peepholes"):
        migrate.compat_v1_weights(
            np.zeros((5, 8)), np.zeros(8), np.zeros(2), input_dim=3
        )


TFA_PEEPHOLE_CONFIG = {  # as tfa.rnn.PeepholeLSTMCell(4).get_config() wrote it
    "name": "peephole_lstm_cell", "trainable": True, "dtype": "float32",
    "units": 4, "activation": "tanh", "recurrent_activation": "sigmoid",
    "use_bias": True,
    "kernel_initializer": {"class_name": "GlorotUniform",
                           "config": {"seed": None}},
    "recurrent_initializer": {"class_name": "Orthogonal",
                              "config": {"gain": 1.0, "seed": None}},
    "bias_initializer": {"class_name": "Zeros", "config": {}},
    "unit_forget_bias": True, "kernel_regularizer": None,
    "recurrent_regularizer": None, "bias_regularizer": None,
    "kernel_constraint": None, "recurrent_constraint": None,
    "bias_constraint": None, "dropout": 0.0, "recurrent_dropout": 0.0,
    "implementation": 2,
}


def test_tfa_peephole_config():
    cell = migrate.from_tfa_config("Addons>PeepholeLSTMCell",
                                   TFA_PEEPHOLE_CONFIG)
    assert isinstance(cell, klv.PeepholeLSTMCell)
    assert cell.units == 4 and cell.unit_forget_bias
    assert type(cell.peephole_initializer).__name__ == "GlorotUniform"


def test_tfa_layer_norm_config_carries_the_normalised_state(rng):
    config = {**TFA_PEEPHOLE_CONFIG, "name": "ln", "norm_epsilon": 1e-3,
              "norm_gamma_initializer": {"class_name": "Ones", "config": {}},
              "norm_beta_initializer": {"class_name": "Zeros", "config": {}}}
    cell = migrate.from_tfa_config("LayerNormLSTMCell", config)
    assert isinstance(cell, klv.LayerNormLSTMCell)
    assert cell.carry_normalized_state and cell.norm_epsilon == 1e-3


def test_tfa_refuses_unknown_classes_and_keys():
    with pytest.raises(ValueError, match="class_name='NASCell'"):
        migrate.from_tfa_config("NASCell", {"units": 4})
    with pytest.raises(ValueError, match="projection"):
        migrate.from_tfa_config(
            "PeepholeLSTMCell", {**TFA_PEEPHOLE_CONFIG, "projection": 3}
        )
