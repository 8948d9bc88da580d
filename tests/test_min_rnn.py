"""MinLSTM and MinGRU: the scan, the step and the paper's equations agree.

The truth is `reference.py`'s NumPy float64 sequential recurrence, written
from the paper; the layer's two routes (`mode="scan"`, the parallel scan in
log space, and `mode="step"`, Keras's loop over the cell) are each checked
against it and against each other, on every backend.
"""

import functools

import keras
import numpy as np
import pytest
import reference
from conftest import assert_close
from conftest import input_gradient
from conftest import one_per_backend
from conftest import to_numpy

import keras_lstm_variants as klv
from keras_lstm_variants import _tuning
from keras_lstm_variants import backends

MIN_RNNS = {
    "min_gru": (klv.MinGRU, {}, reference.min_gru_step, 2),
    "min_lstm": (klv.MinLSTM, {}, reference.min_lstm_step, 3),
    "min_lstm_unnormalized": (
        klv.MinLSTM, {"normalize_gates": False},
        functools.partial(reference.min_lstm_step, normalize_gates=False), 3,
    ),
}


# The long-sequence checks cost ~10-25 s a variant on JAX: each backend runs
# one variant (a different one for each check), the three backends all.


def _weights(rng, dim, units, gates, scale=0.5):
    return {
        "kernel": rng.normal(0.0, scale, (dim, gates * units)),
        "bias": rng.normal(0.0, scale, (gates * units,)),
    }


def _pair(layer_class, kwargs, weights, dim, **options):
    """The layer built twice, `mode="scan"` and `mode="step"`, with the
    same weights."""
    layers = []
    for mode in ("scan", "step"):
        layer = layer_class(
            weights["bias"].shape[0] // (len(layer_class.cell_class.gates)),
            mode=mode, **kwargs, **options,
        )
        layer.build((None, None, dim))
        layer.set_weights([w.astype("float32") for w in weights.values()])
        layers.append(layer)
    return layers


@pytest.mark.parametrize("name", one_per_backend(MIN_RNNS))
def test_scan_and_step_equal_the_reference(name, rng):
    layer_class, kwargs, step, gates = MIN_RNNS[name]
    dim, units, steps = 3, 4, 4096
    weights = _weights(rng, dim, units, gates)
    x = rng.normal(size=(2, steps, dim)).astype("float32")
    h0 = rng.normal(size=(2, units)).astype("float32")  # any sign
    expected, h_last = reference.min_run(step, weights, x, h0=h0)
    scan, step_layer = _pair(layer_class, kwargs, weights, dim,
                             return_sequences=True, return_state=True)
    outputs, h = scan(x, initial_state=[h0])
    assert_close(outputs, expected, tol=2e-5)
    assert_close(h, h_last, tol=2e-5)
    # The step's float32 error does not grow with T (|a_t| < 1 contracts
    # it); its first 512 steps, as eager PyTorch runs ~1 ms per step.
    outputs, _ = step_layer(x[:, :512], initial_state=[h0])
    assert_close(outputs, expected[:, :512], tol=2e-5)


@pytest.mark.parametrize("name", one_per_backend(MIN_RNNS, shift=1))
def test_the_scan_stays_finite_and_exact_with_large_preactivations(
    name, rng
):
    # Pre-activations of +-1e3..1e4: the sigmoids saturate and log a, log b
    # reach -1e4, where the sequential recurrence is still finite.
    layer_class, kwargs, step, gates = MIN_RNNS[name]
    dim, units = 3, 4
    weights = _weights(rng, dim, units, gates, scale=300.0)
    x = rng.normal(size=(2, 64, dim)).astype("float32") * 10.0
    mask = np.ones((2, 64), bool)
    mask[1, :5] = False
    expected, _ = reference.min_run(step, weights, x, mask=mask)
    scan, step_layer = _pair(
        layer_class, kwargs, weights, dim, return_sequences=True
    )
    for layer in (scan, step_layer):
        outputs = to_numpy(layer(x, mask=mask))
        assert np.isfinite(outputs).all()
        np.testing.assert_allclose(outputs, expected, rtol=1e-4, atol=1e-6)
    gradient = input_gradient(lambda v: scan(v, mask=mask), x)
    assert np.isfinite(gradient).all()


@pytest.mark.parametrize("name", ["min_gru", "min_lstm"])
def test_scan_gradients_equal_step_gradients(name, rng):
    layer_class, kwargs, _, gates = MIN_RNNS[name]
    dim, units, steps = 3, 4, 64
    weights = _weights(rng, dim, units, gates)
    x = rng.normal(size=(2, steps, dim)).astype("float32")
    mask = np.ones((2, steps), bool)
    mask[0, 50:] = False
    scan, step = _pair(layer_class, kwargs, weights, dim)
    assert_close(
        input_gradient(lambda v: scan(v, mask=mask), x),
        input_gradient(lambda v: step(v, mask=mask), x),
        tol=1e-4,
    )
    if name != "min_lstm":
        return  # a compiled train step costs ~10 s: one variant checks it
    # The weights' gradients, through a public train step: one step of SGD
    # with learning rate 1 moves each weight by minus its gradient.
    y = rng.normal(size=(2, units)).astype("float32")
    moves = []
    for layer in (scan, step):
        inputs = keras.Input((steps, dim))
        model = keras.Model(inputs, layer(inputs))
        model.compile(keras.optimizers.SGD(1.0), "mse")
        before = [w.copy() for w in model.get_weights()]
        model.train_on_batch(x, y)
        moves.append(
            [a - b for a, b in zip(model.get_weights(), before, strict=True)]
        )
    for scan_move, step_move in zip(*moves, strict=True):
        assert np.abs(step_move).max() > 0
        np.testing.assert_allclose(scan_move, step_move, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "name, go_backwards, zero_output_for_mask",
    [("min_gru", False, False), ("min_lstm", True, True)],
)
def test_masks_initial_state_and_direction(
    name, rng, go_backwards, zero_output_for_mask
):
    layer_class, kwargs, step, gates = MIN_RNNS[name]
    dim, units, steps = 3, 4, 12
    weights = _weights(rng, dim, units, gates)
    x = rng.normal(size=(4, steps, dim)).astype("float32")
    mask = np.ones((4, steps), bool)
    mask[0, 7:] = False  # right-padded
    mask[1, :5] = False  # left-padded
    mask[2, 3:6] = False  # a hole
    mask[3, :] = False  # nothing: the state stays the initial one
    h0 = rng.normal(size=(4, units)).astype("float32")
    expected, h_last = reference.min_run(
        step, weights, x, h0=h0, mask=mask, go_backwards=go_backwards,
        zero_output_for_mask=zero_output_for_mask,
    )
    for layer in _pair(
        layer_class, kwargs, weights, dim, return_sequences=True,
        return_state=True, go_backwards=go_backwards,
        zero_output_for_mask=zero_output_for_mask,
    ):
        outputs, h = layer(x, mask=mask, initial_state=[h0])
        assert_close(outputs, expected)
        assert_close(h, h_last)


def test_the_cell_runs_in_keras_rnn_and_bidirectional(rng):
    dim, units = 3, 4
    weights = _weights(rng, dim, units, 3)
    x = rng.normal(size=(2, 10, dim)).astype("float32")
    forward, _ = reference.min_run(reference.min_lstm_step, weights, x)
    backward, _ = reference.min_run(
        reference.min_lstm_step, weights, x, go_backwards=True
    )
    rnn = keras.layers.RNN(klv.MinLSTMCell(units), return_sequences=True)
    rnn.build((None, None, dim))
    rnn.set_weights([w.astype("float32") for w in weights.values()])
    assert_close(rnn(x), forward)
    both = keras.layers.Bidirectional(klv.MinLSTM(units, mode="scan"))
    both.build((None, None, dim))
    both.set_weights([w.astype("float32") for w in weights.values()] * 2)
    assert_close(
        both(x), np.concatenate([forward[:, -1], backward[:, -1]], -1)
    )


@pytest.mark.parametrize("mode", ["scan", "step"])
def test_stateful_chunks_equal_the_whole_sequence(rng, mode):
    dim, units = 3, 4
    weights = _weights(rng, dim, units, 2)
    x = rng.normal(size=(2, 12, dim)).astype("float32")
    expected, _ = reference.min_run(reference.min_gru_step, weights, x)
    layer = klv.MinGRU(units, mode=mode, stateful=True, return_sequences=True)
    layer.build((2, None, dim))
    layer.set_weights([w.astype("float32") for w in weights.values()])
    first, second = layer(x[:, :5]), layer(x[:, 5:])
    assert_close(np.concatenate([to_numpy(first), to_numpy(second)], 1),
                 expected)
    layer.reset_state()
    assert_close(layer(x[:, :5]), expected[:, :5])


def test_input_dropout_is_the_same_mask_on_both_routes(rng):
    dim, units = 6, 4
    weights = _weights(rng, dim, units, 3)
    x = rng.normal(size=(2, 20, dim)).astype("float32")
    scan, step = _pair(klv.MinLSTM, {}, weights, dim, dropout=0.5, seed=3)
    trained = to_numpy(scan(x, training=True))
    assert_close(trained, step(x, training=True))
    expected, _ = reference.min_run(reference.min_lstm_step, weights, x)
    assert_close(scan(x), expected[:, -1])  # inference: no dropout
    assert np.abs(trained - expected[:, -1]).max() > 1e-3
    # One mask per sequence, as Keras's cells: some reference run on x with
    # a fixed subset of features zeroed (scaled by 2) reproduces it.
    matches = 0
    for kept in range(2 ** dim):
        keep = np.array([(kept >> k) & 1 for k in range(dim)], "float64")
        row = reference.min_run(
            reference.min_lstm_step, weights, x[:1] * keep * 2.0
        )[0][:, -1]
        matches += np.allclose(row, trained[:1], atol=1e-5)
    assert matches == 1


def test_mixed_precision_runs_the_scan_in_float32(rng):
    dim, units, steps = 3, 4, 1000
    weights = _weights(rng, dim, units, 2)
    x = rng.normal(size=(2, steps, dim)).astype("float32")
    expected, _ = reference.min_run(reference.min_gru_step, weights, x)
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        layer = klv.MinGRU(units, mode="scan", return_sequences=True)
        layer.build((None, None, dim))
        layer.set_weights([w.astype("float32") for w in weights.values()])
        outputs = layer(x)
    finally:
        keras.config.set_dtype_policy(policy)
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"
    outputs = to_numpy(keras.ops.cast(outputs, "float32"))
    # bfloat16 rounding of x W and of the output (8 bits of mantissa), not
    # an error that grows with the 1000 steps.
    np.testing.assert_allclose(outputs, expected, rtol=3e-2, atol=3e-2)


def test_auto_mode_follows_the_measured_crossover(monkeypatch):
    layer = klv.MinGRU(4)
    backend = keras.backend.backend()
    device = "accelerator" if backends.on_accelerator() else "cpu"
    monkeypatch.setitem(_tuning.SCAN_FROM_STEPS[device], backend, 100)
    assert [layer.route(t) for t in (99, 100, None)] == [
        "step", "scan", "step"
    ]
    assert klv.MinGRU(4, mode="scan").route(5) == "scan"
    assert klv.MinGRU(4, mode="step").route(10_000) == "step"
    assert klv.MinGRU(4, unroll=True).route(10_000) == "step"


@pytest.mark.parametrize(
    "argument, value",
    [
        ("recurrent_dropout", 0.1),
        ("recurrent_initializer", "orthogonal"),
        ("activation", "tanh"),
        ("recurrent_activation", "sigmoid"),
        ("unit_forget_bias", True),
        ("reset_after", True),
        ("use_cudnn", "auto"),
        ("projection_units", 2),
        ("cell_zoneout", 0.1),
    ],
)
def test_meaningless_arguments_are_named(argument, value):
    for cls in (klv.MinGRU, klv.MinLSTM, klv.MinGRUCell, klv.MinLSTMCell):
        with pytest.raises(ValueError, match=f"`{argument}`.*{value!r}"):
            cls(4, **{argument: value})


def test_bad_arguments_are_named(rng):
    with pytest.raises(ValueError, match="mode='parallel'"):
        klv.MinGRU(4, mode="parallel")
    with pytest.raises(ValueError, match="unroll=True, mode='scan'"):
        klv.MinGRU(4, mode="scan", unroll=True)
    with pytest.raises(ValueError, match="forget_bias='3'"):
        klv.MinLSTM(4, forget_bias="3")
    with pytest.raises(ValueError, match="dropout=1.5"):
        klv.MinLSTM(4, dropout=1.5)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    with pytest.raises(ValueError, match=r"initial_state.*\(2, 4\)"):
        klv.MinGRU(4)(x, initial_state=[np.zeros((2, 4)), np.zeros((2, 4))])


def test_forget_bias_is_added_to_the_forget_block():
    cell = klv.MinLSTMCell(2, forget_bias=3.0, bias_initializer="ones")
    cell.build((None, 5))
    np.testing.assert_array_equal(
        to_numpy(cell.bias), [1.0, 1.0, 4.0, 4.0, 1.0, 1.0]
    )


def _json(config):
    import json

    return json.dumps(config, sort_keys=True)


def test_config_round_trip():
    layer = klv.MinLSTM(
        3, mode="step", normalize_gates=False, forget_bias=1.0,
        use_bias=False, kernel_initializer="he_normal", dropout=0.25,
        seed=5, kernel_regularizer="l2", bias_constraint="non_neg",
        return_sequences=True, return_state=True, go_backwards=True,
        stateful=True, zero_output_for_mask=True, activity_regularizer="l1",
    )
    config = layer.get_config()
    assert "cell" not in config
    assert set(type(layer).argument_names()) <= set(config)
    assert _json(klv.MinLSTM.from_config(config).get_config()) == _json(config)
    cell = klv.MinGRUCell(3, dropout=0.5, seed=1)
    cell_config = cell.get_config()
    assert _json(klv.MinGRUCell.from_config(cell_config).get_config()) == (
        _json(cell_config)
    )
    with pytest.raises(ValueError, match="recurrent_dropout"):
        klv.MinGRU.from_config({"units": 3, "recurrent_dropout": 0.5})
