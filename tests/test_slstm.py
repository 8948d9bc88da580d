"""SLSTM and SLSTMCell: equal to the official xLSTM code, and the contract.

The truths: the official `xlstm` package's vanilla sLSTM (its pure-PyTorch
`slstm_forward` with the "slstm" pointwise function, float32, run here on
the CPU, forward and gradients through PyTorch's autograd), and
`reference.py`'s NumPy float64 equations (masking, initial states,
direction). Then the contract every layer meets: config, `.keras` files,
`stateful`, `Bidirectional`, dropout, mixed precision, named errors.
"""

import json

import keras
import numpy as np
import pytest
import reference
from conftest import assert_close
from conftest import input_gradient
from conftest import to_numpy

import keras_lstm_variants as klv
from keras_lstm_variants import migrate
from keras_lstm_variants.slstm import PowerLawForgetBias

torch = pytest.importorskip("torch")
official = pytest.importorskip("xlstm.blocks.slstm.cell")


def _weights(rng, dim, units, num_heads, scale=0.5):
    d = units // num_heads
    return {
        "kernel": rng.normal(0.0, scale, (dim, 4 * units)),
        "recurrent_kernel": rng.normal(0.0, scale, (num_heads, d, 4 * d)),
        "bias": rng.normal(0.0, scale, (4 * units,)),
    }


def _official_cell(units, num_heads):
    config = official.sLSTMCellConfig(
        hidden_size=units, num_heads=num_heads, backend="vanilla",
        dtype="float32", enable_automatic_mixed_precision=False,
        output_shape="BSH",
    )
    return official.sLSTMCell(config)


def _official_run(weights, x, num_heads, dtype="float32"):
    """The official vanilla sLSTM on x W: the outputs and final states as
    one flat vector f, and d sum(f**2) / d(x, kernel, recurrent_kernel,
    bias), mapped to our layout as the docstring says."""
    units = weights["kernel"].shape[1] // 4
    d = units // num_heads
    cell = _official_cell(units, num_heads).to(getattr(torch, dtype))
    cell.recurrent_kernel[...] = torch.tensor(
        weights["recurrent_kernel"].reshape(num_heads, d, 4, d)
    )
    cell.bias[...] = torch.tensor(
        weights["bias"].reshape(4, num_heads, d).transpose(1, 0, 2)
    )
    x = torch.tensor(x.astype(dtype), requires_grad=True)
    kernel = torch.tensor(weights["kernel"].astype(dtype), requires_grad=True)
    outputs, states = cell(x @ kernel)  # states: [h, c, n, m], (4, B, U)
    flat = torch.cat([outputs.flatten(), states[1:].flatten()])
    torch.sum(flat**2).backward()
    gradients = {
        "x": x.grad.numpy(),
        "kernel": kernel.grad.numpy(),
        "recurrent_kernel": cell.recurrent_kernel.grad.numpy().reshape(
            num_heads, d, 4 * d
        ),
        "bias": cell.bias.grad.numpy().transpose(1, 0, 2).reshape(-1),
    }
    return flat.detach().numpy(), gradients


def _ours(weights, x, num_heads):
    """The same flat vector and gradients from our layer, by the backend's
    autodiff through `stateless_call`."""
    units = weights["kernel"].shape[1] // 4
    layer = klv.SLSTM(units, num_heads=num_heads, return_sequences=True,
                      return_state=True)
    layer.build((None, None, x.shape[-1]))
    shapes = [w.shape for w in weights.values()] + [x.shape]
    sizes = [int(np.prod(s)) for s in shapes]
    offsets = np.cumsum([0] + sizes)

    def flat(v):
        parts = [
            keras.ops.reshape(v[a:b], s)
            for a, b, s in zip(offsets[:-1], offsets[1:], shapes, strict=True)
        ]
        outputs, _, c, n, m = layer.stateless_call(
            parts[:-1], layer.non_trainable_variables, parts[-1]
        )[0]
        return keras.ops.concatenate(
            [keras.ops.reshape(t, (-1,)) for t in (outputs, c, n, m)]
        )

    v = np.concatenate(
        [w.ravel() for w in weights.values()] + [x.ravel()]
    ).astype("float32")
    values = []
    gradient = input_gradient(  # d sum(f**2) / dv
        lambda v: values.append(flat(v)) or values[-1], v
    )
    # PyTorch's eager run leaves f itself; the others' are traced.
    value = values[-1] if keras.backend.backend() == "torch" else flat(v)
    gradients = {
        name: gradient[a:b].reshape(s)
        for name, a, b, s in zip(
            [*weights, "x"], offsets[:-1], offsets[1:], shapes, strict=True
        )
    }
    return to_numpy(value), gradients


def _assert_gradient_close(actual, expected, name):
    """float32 agreement, the error measured against the largest entry: a
    sum over hundreds of steps of terms up to 1e4 keeps ~1e-7 of those."""
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(
        actual, expected, rtol=1e-4, atol=1e-5 * scale, err_msg=name
    )


@pytest.mark.parametrize("num_heads", [1, 2, 4])
def test_equals_the_official_vanilla_slstm(num_heads, rng):
    dim, units, steps = 3, 8, 12
    weights = _weights(rng, dim, units, num_heads)
    x = rng.normal(size=(2, steps, dim)).astype("float32")
    expected, expected_gradients = _official_run(weights, x, num_heads)
    actual, gradients = _ours(weights, x, num_heads)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
    for name, value in expected_gradients.items():
        _assert_gradient_close(gradients[name], value, name)
    # The NumPy equations, float64, agree with both.
    outputs, states = reference.slstm_run(weights, x, num_heads=num_heads)
    np.testing.assert_allclose(
        actual,
        np.concatenate([outputs.ravel()] + [s.ravel() for s in states[1:]]),
        rtol=1e-5, atol=1e-5,
    )


def test_long_sequences_with_large_preactivations(rng):
    # The input gate's pre-activation passes +-100 (exp overflows float32
    # past 88.7): the stabiliser m keeps every exponential <= 1. The first
    # step is moderate: see the next test for a large one there.
    dim, units, num_heads, steps = 3, 8, 2, 512
    weights = _weights(rng, dim, units, num_heads)
    x = (rng.normal(size=(2, steps, dim)) * 40.0).astype("float32")
    x[:, 0] /= 40.0
    input_gate = x @ weights["kernel"][:, :units] + weights["bias"][:units]
    assert input_gate.max() > 100.0 and input_gate.min() < -100.0
    expected, expected_gradients = _official_run(weights, x, num_heads)
    actual, gradients = _ours(weights, x, num_heads)
    assert np.isfinite(actual).all()
    # The truth is the official code in float64. States reach m ~ 100,
    # where one float32 ulp is 7.6e-6 (a fixed 1e-5 against the official
    # float32 code was about one ulp from failing on another CPU). Ours must
    # land within four float32 roundings of the largest value, or of how
    # far the official float32 code itself lands on this machine (measured:
    # 9e-6 to 1.0e-5 for it, 1.0e-5 to 2.2e-5 for ours).
    truth, _ = _official_run(weights, x, num_heads, dtype="float64")
    yardstick = np.abs(expected - truth).max()
    rounding = np.finfo(np.float32).eps * np.abs(truth).max()
    error = np.abs(actual - truth).max()
    assert error <= 4 * max(yardstick, rounding), (error, yardstick)
    for name, value in expected_gradients.items():
        assert np.isfinite(gradients[name]).all()
        _assert_gradient_close(gradients[name], value, name)


def test_a_large_first_step_keeps_the_gradients_finite(rng):
    # A first input gate below -88.7: the official float32 code's unused
    # forget gate exp(log sigma(f) - i) overflows to inf, and its min(., 1)
    # passes back 0 * inf = NaN; ours is exp(min(., 0)), the same value, and
    # its gradients are the official code's run in float64.
    dim, units, num_heads = 3, 4, 2
    weights = _weights(rng, dim, units, num_heads)
    x = rng.normal(size=(2, 4, dim)).astype("float32")
    x[:, 0] = -200.0 * np.sign(weights["kernel"][:, 0])
    _, overflowed = _official_run(weights, x, num_heads)
    assert np.isnan(overflowed["bias"]).any()
    expected, expected_gradients = _official_run(
        weights, x, num_heads, dtype="float64"
    )
    actual, gradients = _ours(weights, x, num_heads)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
    for name, value in expected_gradients.items():
        _assert_gradient_close(gradients[name], value, name)


def test_masks_initial_state_and_direction(rng):
    dim, units, num_heads, steps = 3, 4, 2, 10
    weights = _weights(rng, dim, units, num_heads)
    x = rng.normal(size=(5, steps, dim)).astype("float32")
    mask = np.ones((5, steps), bool)
    mask[0, 7:] = False  # right-padded
    mask[1, :5] = False  # left-padded
    mask[2, 3:6] = False  # a hole
    mask[3, :] = False  # nothing: the state stays the initial one
    h, c = rng.normal(size=(2, 5, units))
    n = np.abs(rng.normal(size=(5, units))) + 0.5
    n[4] = 0.0  # a fresh row: the first-step rule applies to it alone
    m = rng.normal(size=(5, units))
    states = [s.astype("float32") for s in (h, c, n, m)]
    for go_backwards in (False, True):
        expected, final = reference.slstm_run(
            weights, x, num_heads=num_heads, states=states, mask=mask,
            go_backwards=go_backwards,
        )
        layer = klv.SLSTM(units, num_heads=num_heads, return_sequences=True,
                          return_state=True, go_backwards=go_backwards)
        layer.build((None, None, dim))
        layer.set_weights([w.astype("float32") for w in weights.values()])
        outputs, *got = layer(x, mask=mask, initial_state=states)
        assert_close(outputs, expected)
        for state, value in zip(got, final, strict=True):
            assert_close(state, value)


def test_each_row_is_independent_of_the_batch(rng):
    # A left-padded row (its state still zero when its sequence starts)
    # beside a running one equals the row alone: the first-step rule is
    # unitwise (the official CUDA kernel's; the vanilla code's whole-batch
    # test would not start the padded row's stabiliser afresh).
    dim, units, num_heads = 3, 4, 2
    weights = _weights(rng, dim, units, num_heads)
    x = rng.normal(size=(2, 8, dim)).astype("float32") * 3.0
    mask = np.ones((2, 8), bool)
    mask[1, :3] = False
    layer = klv.SLSTM(units, num_heads=num_heads, return_state=True)
    layer.build((None, None, dim))
    layer.set_weights([w.astype("float32") for w in weights.values()])
    both = layer(x, mask=mask)
    alone = layer(x[1:, 3:])
    for a, b in zip(both, alone, strict=True):
        assert_close(to_numpy(a)[1:], b)


def test_the_cell_in_keras_rnn_bidirectional_and_stateful(rng):
    dim, units, num_heads = 3, 4, 2
    weights = _weights(rng, dim, units, num_heads)
    values = [w.astype("float32") for w in weights.values()]
    x = rng.normal(size=(2, 9, dim)).astype("float32")
    forward, _ = reference.slstm_run(weights, x, num_heads=num_heads)
    backward, _ = reference.slstm_run(
        weights, x, num_heads=num_heads, go_backwards=True
    )
    rnn = keras.layers.RNN(klv.SLSTMCell(units, num_heads=num_heads),
                           return_sequences=True)
    rnn.build((None, None, dim))
    rnn.set_weights(values)
    assert_close(rnn(x), forward)
    both = keras.layers.Bidirectional(klv.SLSTM(units, num_heads=num_heads))
    both.build((None, None, dim))
    both.set_weights(values * 2)
    assert_close(both(x), np.concatenate([forward[:, -1], backward[:, -1]], -1))
    layer = klv.SLSTM(units, num_heads=num_heads, stateful=True,
                      return_sequences=True)
    layer.build((2, None, dim))
    layer.set_weights(values)
    chunks = [to_numpy(layer(x[:, :4])), to_numpy(layer(x[:, 4:]))]
    assert_close(np.concatenate(chunks, 1), forward)
    layer.reset_state()
    assert_close(layer(x[:, :4]), forward[:, :4])


def test_trains_with_dropout_and_zoneout_and_saves(rng, tmp_path):
    # One small model: recurrent dropout (one mask per gate), input dropout
    # and output zoneout in training, a fit step that moves every weight
    # (the zero-initialised recurrent kernels too), then a `.keras` file.
    x = rng.normal(size=(8, 6, 3)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    inputs = keras.Input((6, 3))
    hidden = keras.layers.Bidirectional(klv.SLSTM(
        4, num_heads=2, dropout=0.3, recurrent_dropout=0.3,
        output_zoneout=0.2, seed=1,
    ))(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(keras.optimizers.SGD(0.1), "mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    after = model.get_weights()
    for old, new in zip(before, after, strict=True):
        assert np.isfinite(new).all() and np.abs(new - old).max() > 0
    layer = model.layers[1].forward_layer
    assert_close(layer(x, training=False), layer(x, training=False))
    assert np.abs(to_numpy(layer(x, training=True))
                  - to_numpy(layer(x, training=False))).max() > 1e-4
    model.save(tmp_path / "slstm.keras")
    loaded = keras.saving.load_model(tmp_path / "slstm.keras")
    assert_close(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                 tol=1e-6)


def test_mixed_precision(rng):
    dim, units, num_heads, steps = 3, 8, 2, 200
    weights = _weights(rng, dim, units, num_heads)
    x = rng.normal(size=(2, steps, dim)).astype("float32")
    expected, _ = reference.slstm_run(weights, x, num_heads=num_heads)
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        layer = klv.SLSTM(units, num_heads=num_heads, return_sequences=True)
        layer.build((None, None, dim))
        layer.set_weights([w.astype("float32") for w in weights.values()])
        outputs = layer(x)
    finally:
        keras.config.set_dtype_policy(policy)
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"
    outputs = to_numpy(keras.ops.cast(outputs, "float32"))
    np.testing.assert_allclose(outputs, expected, rtol=5e-2, atol=5e-2)


def _json(config):
    return json.dumps(config, sort_keys=True)


def test_config_round_trip_and_official_initialisation():
    layer = klv.SLSTM(
        8, num_heads=4, bias_initializer=PowerLawForgetBias(4, 1, 3),
        kernel_initializer="he_normal", dropout=0.25, recurrent_dropout=0.1,
        seed=5, output_zoneout=0.1, kernel_regularizer="l2",
        return_sequences=True, return_state=True, go_backwards=True,
        stateful=True, zero_output_for_mask=True, use_cudnn=False,
    )
    config = layer.get_config()
    assert "cell" not in config and config["num_heads"] == 4
    assert set(type(layer).argument_names()) <= set(config)
    assert _json(klv.SLSTM.from_config(config).get_config()) == _json(config)
    cell = klv.SLSTMCell(6, num_heads=3)
    cell_config = cell.get_config()
    assert _json(klv.SLSTMCell.from_config(cell_config).get_config()) == (
        _json(cell_config)
    )
    # The defaults are the official initialisation: a zero recurrent kernel
    # and the power-law forget bias, per head and per block of a stack.
    for heads, block, blocks in ((2, 0, 1), (4, 1, 3), (1, 2, 3)):
        reference_cell = _official_cell(8, heads)
        reference_cell.config._block_idx = block
        reference_cell.config._num_blocks = blocks
        reference_cell.reset_parameters()
        bias = reference_cell.bias[...].numpy()  # (H, 4, d)
        ours = klv.SLSTMCell(
            8, num_heads=heads,
            bias_initializer=PowerLawForgetBias(heads, block, blocks),
        )
        ours.build((None, 3))
        np.testing.assert_allclose(
            to_numpy(ours.bias), bias.transpose(1, 0, 2).reshape(-1),
            rtol=1e-6, atol=1e-6,
        )
        assert not np.any(to_numpy(ours.recurrent_kernel))
    cell = klv.SLSTMCell(8, num_heads=2)
    cell.build((None, 3))
    np.testing.assert_array_equal(
        to_numpy(cell.bias), PowerLawForgetBias(2)((32,))
    )


def test_migrate_from_the_official_cell(rng):
    units, num_heads, dim = 8, 2, 3
    source = _official_cell(units, num_heads)
    x = rng.normal(size=(2, 5, dim)).astype("float32")
    kernel = rng.normal(size=(dim, 4 * units)).astype("float32")
    with torch.no_grad():
        source.recurrent_kernel[...] = torch.tensor(rng.normal(
            size=(num_heads, units // num_heads, 4, units // num_heads)
        ), dtype=torch.float32)
        source.bias[...] = torch.tensor(
            rng.normal(size=(num_heads, 4, units // num_heads)),
            dtype=torch.float32,
        )
        expected, states = source(torch.tensor(x @ kernel))
    cell = migrate.from_xlstm_slstm(source, kernel)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    outputs, *got = layer(x)
    assert_close(outputs, expected.numpy())
    for state, value in zip(got, states.numpy(), strict=True):
        assert_close(state, value)


@pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="JAX has no float64 without jax_enable_x64, which the suite does "
    "not set",
)
def test_migrate_keeps_a_float64_cell_in_float64(rng):
    """The weights of a float64 official cell reach a float64 SLSTMCell
    unrounded (they went through float32)."""
    units, num_heads, dim = 8, 2, 3
    source = _official_cell(units, num_heads).double()
    with torch.no_grad():
        source.recurrent_kernel[...] = torch.tensor(rng.normal(
            size=(num_heads, units // num_heads, 4, units // num_heads)
        ), dtype=torch.float64)
    kernel = rng.normal(size=(dim, 4 * units))
    cell = migrate.from_xlstm_slstm(source, kernel, dtype="float64")
    got_kernel, got_recurrent, _ = cell.get_weights()
    np.testing.assert_array_equal(got_kernel, kernel)
    np.testing.assert_array_equal(
        got_recurrent.reshape(-1),
        source.recurrent_kernel[...].detach().numpy().reshape(-1),
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 6, "num_heads": 4}, "units=6, num_heads=4"),
        ({"num_heads": 0}, "num_heads=0"),
        ({"units": 0}, "units=0"),
        ({"bias_initializer": "powerlaw"}, "bias_initializer='powerlaw'"),
        ({"recurrent_initializer": "powerlaw_blockdependent"},
         "recurrent_initializer='powerlaw_blockdependent'"),
        ({"kernel_initializer": "small"}, "kernel_initializer='small'"),
        ({"projection_units": 2}, "`projection_units`.*projection_units=2"),
        ({"cell_clip": 3.0}, "`cell_clip`.*cell_clip=3.0"),
        ({"cell_zoneout": 0.1}, "`cell_zoneout`.*cell_zoneout=0.1"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    kwargs = {"units": 8, **kwargs}
    for cls in (klv.SLSTM, klv.SLSTMCell):
        with pytest.raises(ValueError, match=message):
            cls(**kwargs)


def test_no_standard_lstm_form_and_four_states(rng):
    cell = klv.SLSTMCell(4)
    cell.build((None, 3))
    assert cell.standard_lstm_form() is None
    assert "not the standard LSTM op" in cell.standard_lstm_form_problem()
    with pytest.raises(ValueError, match="not the standard LSTM op"):
        klv.SLSTM(4, use_cudnn=True)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    with pytest.raises(
        ValueError, match=r"h of .*, c of .*, n of .*, m of shape"
    ):
        klv.SLSTM(4)(x, initial_state=[np.zeros((2, 4), "float32")] * 2)
