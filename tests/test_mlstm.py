"""MLSTM: the parallel form, the step and the official xLSTM code agree.

The truth is the official package's (`xlstm` 2.0.6) pure-PyTorch mLSTM,
`parallel_stabilized_simple` and `recurrent_step_stabilized_simple`, run
here on the q, k, v and gate pre-activations that the layer's weights make
from the input (and the paper's output gate applied to its result); the
layer's two routes (`mode="parallel"`, `mode="step"`) are each checked
against it and against each other, on every backend.
"""

import functools
import json

import keras
import numpy as np
import pytest
from conftest import input_gradient
from conftest import to_numpy

import keras_lstm_variants as klv

torch = pytest.importorskip("torch")
backends = pytest.importorskip("xlstm.blocks.mlstm.backends")


def _weights(rng, dim, units, heads, gate_bias=(0.0, 0.0), input_scale=0.5):
    """Random weights; the gates' pre-activations are `gate_bias` (input,
    forget) plus x times N(0, `input_scale`) (input), N(0, 0.5) (forget)."""
    gate_kernel = rng.normal(0.0, 0.5, (dim, 2 * heads))
    gate_kernel[:, :heads] *= input_scale / 0.5
    return [
        rng.normal(0.0, 0.5, (dim, 4 * units)),
        rng.normal(0.0, 0.5, (4 * units,)),
        gate_kernel,
        np.repeat(np.asarray(gate_bias, float), heads)
        + rng.normal(0.0, 0.5, (2 * heads,)),
    ]


def _layers(weights, heads, dim, **options):
    """The layer built three times, `mode="parallel"`, `"chunkwise"` (with
    chunks of 16 steps: the sequences below end inside a chunk) and
    `"step"`, with the same weights."""
    layers = []
    for mode in ("parallel", "chunkwise", "step"):
        layer = klv.MLSTM(
            weights[1].shape[0] // 4, num_heads=heads, mode=mode,
            chunk_size=16, **options
        )
        layer.build((None, None, dim))
        layer.set_weights([w.astype("float32") for w in weights])
        layers.append(layer)
    return layers


def _float64(x):
    return torch.tensor(x, dtype=torch.float64)


def _run(layer, *args, **kwargs):
    """`layer(*args, **kwargs)`; on JAX compiled as one program (eager JAX
    compiles each op for each new shape: ~50 compilations a call)."""
    if keras.backend.backend() != "jax":
        return layer(*args, **kwargs)
    import jax

    def call(trainable, non_trainable, *args):
        return layer.stateless_call(trainable, non_trainable, *args,
                                    **kwargs)[0]

    return jax.jit(call)(
        [v.value for v in layer.trainable_variables],
        [v.value for v in layer.non_trainable_variables],
        *args,
    )


def _gradient(layer, x):
    """d sum(layer(x)^2) / dx, by the backend's autodiff (on JAX compiled,
    as `_run`)."""
    if keras.backend.backend() != "jax":
        return input_gradient(layer, x)
    import jax

    def loss(x, trainable, non_trainable):
        h = layer.stateless_call(trainable, non_trainable, x)[0]
        return keras.ops.sum(h**2)

    return np.asarray(jax.jit(jax.grad(loss))(
        x,
        [v.value for v in layer.trainable_variables],
        [v.value for v in layer.non_trainable_variables],
    ))


def _official_inputs(weights, x, heads):
    """q, k, v `(B, NH, S, DH)`, the gates' pre-activations `(B, NH, S,
    1)` and the output gate `(B, S, units)`, in torch, from `x`."""
    kernel, bias, gate_kernel, gate_bias = (
        torch.tensor(w, dtype=x.dtype) for w in weights
    )
    batch, steps, _ = x.shape
    z = x @ kernel + bias
    g = x @ gate_kernel + gate_bias
    q, k, v, o = torch.chunk(z, 4, dim=-1)
    i, f = torch.chunk(g, 2, dim=-1)

    def by_head(t):
        return t.reshape(batch, steps, heads, -1).transpose(1, 2)

    def gate(t):
        return t.transpose(1, 2).unsqueeze(-1)

    return by_head(q), by_head(k), by_head(v), gate(i), gate(f), o


def official_parallel(weights, x, heads):
    """The official parallel form, then the output gate: `(B, S, units)`."""
    q, k, v, i, f, o = _official_inputs(weights, x, heads)
    h = backends.parallel_stabilized_simple(q, k, v, i, f)
    return torch.sigmoid(o) * h.transpose(1, 2).reshape(o.shape)


def official_recurrent(weights, x, heads, state=None):
    """The official step, over every step: the outputs and the final
    `(C, n, m)`, in the official shapes, in `x`'s dtype."""
    q, k, v, i, f, o = _official_inputs(weights, x, heads)
    batch, _, steps, d = q.shape
    if state is None:
        state = (
            torch.zeros(batch, heads, d, d, dtype=x.dtype),
            torch.zeros(batch, heads, d, 1, dtype=x.dtype),
            torch.zeros(batch, heads, 1, 1, dtype=x.dtype),
        )
    outputs = []
    for t in range(steps):
        h, state = backends.recurrent_step_stabilized_simple(
            *state, q[:, :, t:t + 1].clone(), k[:, :, t:t + 1].clone(),
            v[:, :, t:t + 1].clone(), i[:, :, t:t + 1], f[:, :, t:t + 1],
        )
        outputs.append(h.reshape(batch, -1))
    h = torch.sigmoid(o) * torch.stack(outputs, 1)
    return h, state


def _official_state(states, heads):
    """Our flat `[C, n, m]` in the official shapes."""
    C, n, m = (to_numpy(s) for s in states)
    batch = C.shape[0]
    d = n.shape[1] // heads
    return (
        C.reshape(batch, heads, d, d),
        n.reshape(batch, heads, d, 1),
        m.reshape(batch, heads, 1, 1),
    )


def _assert_states(ours, official, heads, tol):
    """Each of C, n, m to `tol` relative to its largest entry."""
    for a, b in zip(_official_state(ours, heads), official, strict=True):
        b = b.detach().numpy()
        np.testing.assert_allclose(a, b, atol=tol * max(1.0, np.abs(b).max()))


def official_final_state(weights, x, heads):
    """The official chunkwise form's final `(C, n, m)` (one chunk), in the
    recurrent step's convention: it scales q, not k, by 1 / sqrt(d)."""
    q, k, v, i, f, _ = _official_inputs(weights, x, heads)
    _, (C, n, m) = backends.chunkwise_simple(
        q, k, v, i[..., 0], f[..., 0], chunk_size=q.shape[2],
        return_last_state=True,
    )
    scale = q.shape[-1] ** 0.5
    return C / scale, n[..., None] / scale, m


def _close(actual, expected, tol):
    """Equal to `tol`, relative to each entry or to the largest one."""
    expected = np.asarray(expected)
    np.testing.assert_allclose(
        to_numpy(actual), expected, rtol=tol,
        atol=tol * max(1.0, np.abs(expected).max()),
    )


@pytest.mark.parametrize(
    "heads, steps, gate_bias, input_scale",
    [
        (1, 40, (0.0, 0.0), 0.5),
        # Forget gates of log f ~ -0.7: sum log f reaches -140, where the
        # unstabilised e^{-F_s} overflows float32.
        (4, 200, (0.0, 0.0), 0.5),
        # Input gates of 60 +- 45: e^i overflows float32 without the
        # stabiliser, and h is ill-conditioned (e^{-m} no longer bounds
        # the normaliser |n^T q| away from 0).
        (2, 200, (60.0, 4.0), 30.0),
    ],
)
def test_both_forms_equal_the_official_code(
    rng, heads, steps, gate_bias, input_scale
):
    # The truth is the official code in float64; the layer computes in
    # float32, and is held to float32 precision as the official code's own
    # float32 run attains it here (1e-5, or twice its error if larger).
    dim, units = 3, 8
    weights = _weights(rng, dim, units, heads, gate_bias, input_scale)
    x = rng.normal(size=(2, steps, dim)).astype("float32")
    official = official_parallel(weights, _float64(x), heads).numpy()
    state = official_final_state(weights, _float64(x), heads)
    if steps <= 40:
        # The official forms differ only by where epsilon = 1e-6 is added.
        expected, recurrent_state = official_recurrent(
            weights, _float64(x), heads
        )
        _close(expected, official, 1e-6)
        for a, b in zip(state, recurrent_state, strict=True):
            _close(a, b, 1e-10)
    official32 = official_parallel(weights, torch.tensor(x), heads).numpy()
    tol = max(1e-5, 2 * np.abs(official32 - official).max())
    # The final states by the same yardstick: how far the official float32
    # code's lands, relative to each state's largest entry (four times:
    # one draw of rounding; a fixed 1e-5 had no stated margin).
    state32 = official_final_state(weights, torch.tensor(x), heads)
    state_tol = max(1e-5, 4 * max(
        np.abs(a.detach().numpy() - b.detach().numpy()).max()
        / max(1.0, np.abs(b.detach().numpy()).max())
        for a, b in zip(state32, state, strict=True)
    ))
    for layer in _layers(weights, heads, dim, return_sequences=True,
                         return_state=True):
        h, *states = _run(layer, x)
        np.testing.assert_allclose(to_numpy(h), official, rtol=1e-4,
                                   atol=tol)
        _assert_states(states, state, heads, tol=state_tol)


def test_gradients_equal_the_official_code(rng):
    # d sum(h^2) / dx, through the official parallel form (float64 the
    # truth, float32 the yardstick of precision, as above).
    dim, units, heads, steps = 3, 8, 2, 48
    weights = _weights(rng, dim, units, heads, gate_bias=(2.0, 3.0))
    x = rng.normal(size=(2, steps, dim)).astype("float32")
    gradients = []
    for x_torch in (_float64(x), torch.tensor(x)):
        x_torch.requires_grad_()
        torch.sum(official_parallel(weights, x_torch, heads) ** 2).backward()
        gradients.append(x_torch.grad.numpy())
    expected, official32 = gradients
    scale = np.abs(expected).max()
    tol = max(1e-5, 2 * np.abs(official32 - expected).max() / scale)
    for layer in _layers(weights, heads, dim, return_sequences=True):
        np.testing.assert_allclose(
            _gradient(layer, x), expected, atol=tol * scale
        )


def test_prompt_then_continue_equals_the_whole_sequence(rng):
    # Generation: the prompt's final states, then the rest from them, by
    # each route and by the cell one step at a time; the official step
    # continues from the same states.
    dim, units, heads, steps, prompt = 3, 8, 2, 30, 17
    weights = _weights(rng, dim, units, heads, gate_bias=(1.0, 2.0))
    x = rng.normal(size=(2, steps, dim)).astype("float32")
    whole, _ = official_recurrent(weights, _float64(x), heads)
    whole = whole.numpy()
    for layer in _layers(weights, heads, dim, return_sequences=True,
                         return_state=True):
        _, *states = _run(layer, x[:, :prompt])
        h, *_ = _run(layer, x[:, prompt:], initial_state=states)
        np.testing.assert_allclose(to_numpy(h), whole[:, prompt:],
                                   rtol=1e-4, atol=1e-5)
        official, _ = official_recurrent(
            weights, _float64(x[:, prompt:]), heads,
            tuple(_float64(s) for s in _official_state(states, heads)),
        )
        np.testing.assert_allclose(official.numpy(), whole[:, prompt:],
                                   rtol=1e-4, atol=1e-5)
    cell = layer.cell
    for t in range(prompt, prompt + 2):
        h, states = cell(x[:, t], states)
        np.testing.assert_allclose(to_numpy(h), whole[:, t], rtol=1e-4,
                                   atol=1e-5)


def test_masks_direction_and_dropout(rng):
    dim, units, heads, steps = 3, 8, 2, 20
    weights = _weights(rng, dim, units, heads, gate_bias=(1.0, 2.0))
    x = rng.normal(size=(3, steps, dim)).astype("float32")
    lengths = (20, 13, 5)
    mask = np.arange(steps)[None, :] < np.array(lengths)[:, None]
    for layer in _layers(weights, heads, dim, return_sequences=True,
                         return_state=True):
        h, *states = _run(layer, x, mask=mask)
        h = to_numpy(h)
        for row, length in enumerate(lengths):
            # Right-padded: the padding changes no state, and repeats the
            # last real output.
            expected, state = official_recurrent(
                weights, _float64(x[row:row + 1, :length]), heads
            )
            np.testing.assert_allclose(h[row, :length], expected[0].numpy(),
                                       rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(
                h[row, length:],
                np.broadcast_to(h[row, length - 1], h[row, length:].shape),
            )
            _assert_states([s[row:row + 1] for s in states], state, heads,
                           tol=1e-4)
    # Left padding, a hole, backwards, zero outputs for the mask, dropout:
    # the two routes agree.
    mask = np.ones((3, steps), bool)
    mask[0, :4] = mask[1, 5:9] = False
    options = dict(go_backwards=True, zero_output_for_mask=True,
                   dropout=0.5, seed=3)
    outputs = [
        _run(layer, x, mask=mask, training=True)
        for layer in _layers(weights, heads, dim, return_sequences=True,
                             return_state=True, **options)
    ]
    first, *others = outputs
    for other in others:
        for a, b in zip(first, other, strict=True):
            _close(to_numpy(a), to_numpy(b), 1e-4)


def test_chunkwise_form_equals_the_official_chunkwise_code(rng):
    # The official `chunkwise_simple` (float64, the truth) from a random
    # initial state, against our form in float32 on the same operands; the
    # official float32 run is the yardstick of precision. Its C and n are
    # sqrt(d) times ours (it scales q where the step scales k).
    from keras_lstm_variants._mlstm_forms import mlstm_chunkwise

    batch, heads, steps, d, chunk = 2, 2, 96, 4, 32
    q, k, v = (rng.normal(size=(batch, heads, steps, d)) for _ in "qkv")
    i_pre = rng.normal(2.0, 3.0, (batch, heads, steps))
    f_pre = rng.normal(3.0, 1.0, (batch, heads, steps))
    C0 = rng.normal(size=(batch, heads, d, d))
    n0 = rng.normal(size=(batch, heads, d))
    m0 = rng.normal(size=(batch, heads))
    root = np.sqrt(d)

    def official(dtype):
        as_torch = functools.partial(torch.tensor, dtype=dtype)
        h, (C, n, m) = backends.chunkwise_simple(
            *map(as_torch, (q, k, v, i_pre, f_pre)),
            initial_C=as_torch(root * C0), initial_n=as_torch(root * n0),
            initial_m=as_torch(m0), chunk_size=chunk, return_last_state=True,
        )
        return [x.numpy() for x in (h, C / root, n / root, m[..., 0, 0])]

    expected = official(torch.float64)
    official32 = official(torch.float32)
    log_f = np.log(1.0 / (1.0 + np.exp(-f_pre)))
    as_f32 = functools.partial(keras.ops.convert_to_tensor, dtype="float32")
    h, state = mlstm_chunkwise(
        *map(as_f32, (q, k, v, i_pre, log_f, C0, n0, m0)), chunk_size=chunk
    )
    for actual, truth, yardstick in zip(
        [h, *state], expected, official32, strict=True
    ):
        scale = max(1.0, np.abs(truth).max())
        tol = max(1e-5, 4 * np.abs(yardstick - truth).max() / scale)
        np.testing.assert_allclose(
            to_numpy(actual), truth, rtol=0, atol=tol * scale
        )


def test_mixed_precision_computes_in_float32(rng):
    # Small input gates: the normaliser is e^{-m} (h = C q), and h is as
    # well-conditioned as the bfloat16 rounding of x W allows.
    dim, units, heads, steps = 3, 8, 2, 64
    weights = _weights(rng, dim, units, heads, gate_bias=(-3.0, 3.0))
    x = rng.normal(size=(2, steps, dim)).astype("float32")
    expected = official_parallel(weights, _float64(x), heads)
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        layer = klv.MLSTM(units, num_heads=heads, return_sequences=True)
        layer.build((None, None, dim))
        layer.set_weights([w.astype("float32") for w in weights])
        outputs = _run(layer, x)
    finally:
        keras.config.set_dtype_policy(policy)
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"
    # bfloat16 rounding of x W and of the output, not an error that grows.
    np.testing.assert_allclose(
        to_numpy(keras.ops.cast(outputs, "float32")), expected.numpy(),
        rtol=3e-2, atol=3e-2,
    )


def test_official_gate_initialisation():
    cell = klv.MLSTMCell(8, num_heads=4, seed=0)
    cell.build((None, 3))
    np.testing.assert_array_equal(to_numpy(cell.gate_kernel), 0.0)
    gate_bias = to_numpy(cell.gate_bias)
    np.testing.assert_allclose(gate_bias[4:], [3.0, 4.0, 5.0, 6.0])
    assert 0.0 < np.abs(gate_bias[:4]).max() < 0.5  # N(0, 0.1)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"units": 6, "num_heads": 4}, "units=6, num_heads=4"),
        ({"units": 0}, "units=0"),
        ({"units": 8, "num_heads": 0}, "num_heads=0"),
        ({"units": 8, "gate_bias_initializer": "xlstn"},
         "gate_bias_initializer='xlstn'"),
        ({"units": 8, "kernel_initializer": "glorot"},
         "kernel_initializer='glorot'"),
        ({"units": 8, "dropout": 1.5}, "dropout=1.5"),
        ({"units": 8, "recurrent_dropout": 0.1}, "`recurrent_dropout`"),
        ({"units": 8, "cell_zoneout": 0.1}, "`cell_zoneout`"),
    ],
)
def test_bad_arguments_are_named(arguments, message):
    for cls in (klv.MLSTM, klv.MLSTMCell):
        with pytest.raises(ValueError, match=message):
            cls(**arguments)


def test_auto_mode_orders_the_measured_crossovers(monkeypatch):
    # The step loop below the parallel form's threshold, the parallel form
    # from it, the chunkwise form from its own; the block (no loop) the
    # parallel form below the chunkwise threshold.
    from keras_lstm_variants import _tuning
    from keras_lstm_variants import backends

    backend = keras.backend.backend()
    device = "accelerator" if backends.on_accelerator() else "cpu"
    monkeypatch.setitem(_tuning.PARALLEL_FROM_STEPS[device], backend, 50)
    monkeypatch.setitem(_tuning.CHUNKWISE_FROM_STEPS[device], backend, 200)
    layer = klv.MLSTM(8)
    assert [layer.route(t) for t in (49, 50, 199, 200, None)] == [
        "step", "parallel", "parallel", "chunkwise", "step"
    ]
    assert klv.MLSTM(8, mode="chunkwise").route(5) == "chunkwise"
    assert klv.MLSTM(8, unroll=True).route(10_000) == "step"
    block = klv.MLSTMBlock()
    assert [block._chunkwise(t) for t in (199, 200, None)] == [
        False, True, False
    ]


def test_bad_mode_and_initial_state_are_named(rng):
    with pytest.raises(ValueError, match="mode='scan'"):
        klv.MLSTM(8, mode="scan")
    with pytest.raises(ValueError, match="unroll=True, mode='parallel'"):
        klv.MLSTM(8, mode="parallel", unroll=True)
    with pytest.raises(ValueError, match="unroll=True, mode='chunkwise'"):
        klv.MLSTM(8, mode="chunkwise", unroll=True)
    with pytest.raises(ValueError, match="chunk_size=0"):
        klv.MLSTM(8, chunk_size=0)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    with pytest.raises(ValueError, match=r"initial_state.*C of shape"):
        klv.MLSTM(8)(x, initial_state=[np.zeros((2, 8))])


def _json(config):
    return json.dumps(config, sort_keys=True)


def test_config_and_keras_file_round_trip(rng, tmp_path):
    layer = klv.MLSTM(
        8, num_heads=2, mode="step", use_bias=False,
        kernel_initializer="he_normal", gate_bias_initializer="ones",
        dropout=0.25, seed=5, kernel_regularizer="l2",
        bias_constraint="non_neg", return_sequences=True, return_state=True,
        go_backwards=True, stateful=True, zero_output_for_mask=True,
        activity_regularizer="l1",
    )
    config = layer.get_config()
    assert "cell" not in config
    assert set(type(layer).argument_names()) <= set(config)
    assert _json(klv.MLSTM.from_config(config).get_config()) == _json(config)
    cell_config = klv.MLSTMCell(8, seed=1).get_config()
    assert _json(klv.MLSTMCell.from_config(cell_config).get_config()) == (
        _json(cell_config)
    )
    # Each route (one in Bidirectional), and the cell in keras.layers.RNN.
    inputs = keras.Input((6, 3))
    branches = [
        klv.MLSTM(8, num_heads=2, mode="parallel")(inputs),
        keras.layers.Bidirectional(
            klv.MLSTM(4, num_heads=1, mode="step")
        )(inputs),
        keras.layers.RNN(klv.MLSTMCell(4, num_heads=2))(inputs),
    ]
    model = keras.Model(inputs, keras.layers.Concatenate()(branches))
    model.set_weights(
        [rng.normal(0.0, 0.5, w.shape) for w in model.get_weights()]
    )
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    model.save(tmp_path / "mlstm.keras")
    loaded = keras.saving.load_model(tmp_path / "mlstm.keras")
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )
