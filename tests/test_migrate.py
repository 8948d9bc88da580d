"""keras_lstm_variants.migrate against the old cells: NumPy versions of
them, `tf.compat.v1.nn.rnn_cell.LSTMCell` run by `compat_v1_oracle.py` in a
subprocess (projected, clipped, with peepholes), and `torch.nn.LSTM` and
`torch.nn.GRU` run in the test."""

import json
import os
import pathlib
import subprocess
import sys

import keras
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


ORACLE = pathlib.Path(__file__).with_name("compat_v1_oracle.py")

# tf.compat.v1 LSTMCell keyword arguments, with the sequence to run.
COMPAT_V1_CASES = {
    "plain": dict(num_units=5, forget_bias=1.0),
    "peepholes_cell_clip": dict(
        num_units=5, use_peepholes=True, cell_clip=0.4, forget_bias=0.0
    ),
    "projection": dict(num_units=5, num_proj=3, forget_bias=2.5),
    "projection_clips_peepholes": dict(
        num_units=6, num_proj=4, use_peepholes=True, cell_clip=0.5,
        proj_clip=0.3, forget_bias=1.0,
    ),
    "projection_wider_than_units": dict(
        num_units=3, num_proj=5, proj_clip=0.2, forget_bias=1.0
    ),
}


@pytest.fixture(scope="module")
def compat_v1(tmp_path_factory):
    """What tf.compat.v1's cell computed for each case (one subprocess)."""
    folder = tmp_path_factory.mktemp("compat_v1")
    cases = {
        name: {**case, "dim": 4, "batch": 3, "steps": 7, "seed": k}
        for k, (name, case) in enumerate(COMPAT_V1_CASES.items())
    }
    (folder / "cases.json").write_text(json.dumps(cases))
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    subprocess.run(
        [sys.executable, str(ORACLE), str(folder / "cases.json"),
         str(folder / "out.npz")],
        check=True, env=env, capture_output=True,
    )
    return np.load(folder / "out.npz")


@pytest.mark.slow
@pytest.mark.parametrize("case", COMPAT_V1_CASES)
def test_migrated_compat_v1_cell_computes_what_it_computed(compat_v1, case):
    config = COMPAT_V1_CASES[case]
    data = {
        key.split("/", 1)[1]: compat_v1[key]
        for key in compat_v1.files
        if key.startswith(f"{case}/")
    }
    cell = migrate.from_compat_v1_config(config)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    layer.build((None, None, 4))
    peepholes = (
        [data[f"var/w_{g}_diag"] for g in "ifo"]
        if config.get("use_peepholes") else []
    )
    layer.set_weights(migrate.compat_v1_weights(
        data["var/kernel"], data["var/bias"], *peepholes, input_dim=4,
        forget_bias=config["forget_bias"],
        projection_kernel=data.get("var/projection/kernel"),
    ))
    outputs, h, c = layer(data["x"], initial_state=[data["h0"], data["c0"]])
    assert_close(outputs, data["outputs"])
    assert_close(h, data["h"])
    assert_close(c, data["c"])
    # The clips bit where the case has them: the truth reaches the bounds.
    if "proj_clip" in config:
        assert np.isclose(np.abs(data["outputs"]).max(), config["proj_clip"])
    if "cell_clip" in config:
        assert np.isclose(np.abs(data["c"]).max(), config["cell_clip"])


def test_compat_v1_proj_clip_without_num_proj_is_dropped():
    # tf.compat.v1 ignores proj_clip without num_proj; so does the migration.
    cell = migrate.from_compat_v1_config({"num_units": 4, "proj_clip": 2.0})
    assert cell.projection_units is None and cell.projection_clip is None


TORCH_CASES = [
    dict(num_layers=1, proj_size=0, bidirectional=False, bias=True),
    dict(num_layers=2, proj_size=3, bidirectional=False, bias=True),
    dict(num_layers=3, proj_size=2, bidirectional=True, bias=True,
         batch_first=True),
    dict(num_layers=2, proj_size=0, bidirectional=True, bias=False,
         dropout=0.5),
]


def _torch_outputs(module, x):
    """What `module` (a torch.nn.LSTM or GRU, in eval mode) outputs for the
    batch-major `x`, batch-major."""
    import torch

    torch_x = torch.from_numpy(x if module.batch_first else x.swapaxes(0, 1))
    with torch.no_grad():
        expected, _ = module(torch_x)
    expected = expected.numpy()
    return expected if module.batch_first else expected.swapaxes(0, 1)


def _check_layers(model, options):
    layers = [layer for layer in model.layers
              if not isinstance(layer, keras.layers.Dropout)]
    assert len(layers) == options["num_layers"]
    dropouts = [layer.rate for layer in model.layers
                if isinstance(layer, keras.layers.Dropout)]
    rate = options.get("dropout", 0.0)
    assert dropouts == ([rate] * (options["num_layers"] - 1) if rate else [])


@pytest.mark.parametrize(
    "options", TORCH_CASES,
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()),
)
def test_migrated_torch_gru_computes_what_it_computes(rng, options):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    options = {k: v for k, v in options.items() if k != "proj_size"}
    module = torch.nn.GRU(4, 6, **options).eval()  # eval: no dropout
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_(0.0, 0.5)
    x = rng.normal(size=(3, 7, 4)).astype("float32")
    model = migrate.from_torch_gru(module)
    _check_layers(model, options)
    assert_close(model.predict(x, verbose=0), _torch_outputs(module, x))


def test_from_torch_gru_refuses_other_modules():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="mode='LSTM'"):
        migrate.from_torch_gru(torch.nn.LSTM(3, 4))


@pytest.mark.parametrize(
    "options", TORCH_CASES,
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()),
)
def test_migrated_torch_lstm_computes_what_it_computes(rng, options):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.LSTM(4, 6, **options).eval()  # eval: no dropout
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_(0.0, 0.5)
    x = rng.normal(size=(3, 7, 4)).astype("float32")  # batch-major
    model = migrate.from_torch_lstm(module)
    _check_layers(model, options)
    assert_close(model.predict(x, verbose=0), _torch_outputs(module, x))


def test_from_torch_lstm_refuses_other_modules():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="mode='GRU'"):
        migrate.from_torch_lstm(torch.nn.GRU(3, 4))
