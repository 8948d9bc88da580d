"""Every cell and layer against the NumPy reference of its equations."""

import keras
import numpy as np
import pytest
import reference
from conftest import assert_close

import keras_lstm_variants

SHAPES = [(3, 7, 5, 4), (1, 1, 2, 3), (4, 12, 6, 8)]  # batch, time, dim, units


def test_weight_names_follow_documented_layout(variant):
    cell = variant.cell(4, **variant.kwargs)
    cell.build((None, 3))
    assert [(w.name, tuple(w.shape)) for w in cell.weights] == variant.layout(
        3, 4
    )


@pytest.mark.parametrize("use_bias", [True, False])
def test_cell_step(variant, rng, use_bias):
    cell = variant.cell(5, use_bias=use_bias, **variant.kwargs)
    cell.build((None, 3))
    weights = variant.random_weights(rng, 3, 5, use_bias)
    variant.set_weights(cell, weights)
    x, c = rng.normal(size=(2, 3)), rng.normal(size=(2, 5))
    h = rng.normal(size=(2, variant.output_size(5)))
    out, (h1, c1) = cell(
        x.astype("float32"), [h.astype("float32"), c.astype("float32")]
    )
    h_ref, c_ref = variant.step(x, h, c, weights)
    assert_close(out, h_ref)
    assert_close(h1, h_ref)
    assert_close(c1, c_ref)


def _block_diagonal(kernel, gates):
    """`kernel` (n, gates * u) as (gates * n, gates * u), gate k's block on
    the diagonal: `[x_1, ..., x_k] @ it` projects x_k through gate k only."""
    blocks = np.split(kernel, gates, axis=1)
    n, u = blocks[0].shape
    out = np.zeros((gates * n, gates * u))
    for k, block in enumerate(blocks):
        out[k * n:(k + 1) * n, k * u:(k + 1) * u] = block
    return out


@pytest.mark.parametrize("per_gate", [False, True])
@pytest.mark.parametrize("in_a_layer", [False, True])
def test_cell_step_with_dropout_masks(variant, rng, per_gate, in_a_layer):
    # The two forms of dropout mask a step takes, against the reference of
    # the masked x and h: one mask for all gates, or a different one per gate
    # (implementation=1), whose reference projects [x m_1, ..., x m_k]
    # through a block-diagonal kernel. A step in a layer's loop gets the
    # kernels the layer derived once per sequence (LayerNormLSTMCell centres
    # them, with one mask); a step on its own (`call`) gets None. Inputs far
    # from zero make the projections' means large.
    cell = variant.cell(5, **variant.kwargs)
    cell.build((None, 3))
    weights = variant.random_weights(rng, 3, 5)
    variant.set_weights(cell, weights)
    gates = len(cell.gates)
    x = rng.normal(4.0, 1.0, size=(2, 3))
    h = rng.normal(2.0, 1.0, size=(2, variant.output_size(5)))
    c = rng.normal(size=(2, 5))
    count = gates if per_gate else 1
    x_masks = [(rng.random(x.shape) > 0.3) / 0.7 for _ in range(count)]
    h_masks = [(rng.random(h.shape) > 0.3) / 0.7 for _ in range(count)]
    if per_gate:
        dp_mask = [m.astype("float32") for m in x_masks]
        rec_dp_mask = [m.astype("float32") for m in h_masks]
        x_ref = np.concatenate([x * m for m in x_masks], axis=-1)
        h_ref_in = np.concatenate([h * m for m in h_masks], axis=-1)
        ref_weights = dict(weights)
        ref_weights["kernel"] = _block_diagonal(weights["kernel"], gates)
        ref_weights["recurrent_kernel"] = _block_diagonal(
            weights["recurrent_kernel"], gates
        )
    else:
        dp_mask = x_masks[0].astype("float32")
        rec_dp_mask = h_masks[0].astype("float32")
        x_ref, h_ref_in = x * x_masks[0], h * h_masks[0]
        ref_weights = weights
    kernel, recurrent_kernel = (
        cell.sequence_kernels(dp_mask, rec_dp_mask) if in_a_layer
        else (None, None)
    )
    x32, h32, c32 = (
        keras.ops.convert_to_tensor(a, "float32") for a in (x, h, c)
    )
    out, (h1, c1) = cell._step(
        cell.input_part(x32, dp_mask, kernel), [h32, c32], rec_dp_mask,
        recurrent_kernel, zoneout=cell.zoneout_keep(2, False),
    )
    # Zoneout mixes the new state with the previous one unmasked.
    h_ref, c_ref = variant.step(x_ref, h_ref_in, c, ref_weights, zoneout=(0, 0))
    r_h, r_c = getattr(variant.step, "keywords", {}).get("zoneout", (0, 0))
    h_ref, c_ref = r_h * h + (1 - r_h) * h_ref, r_c * c + (1 - r_c) * c_ref
    assert_close(out, h_ref)
    assert_close(h1, h_ref)
    assert_close(c1, c_ref)


# Each shape once, reversed or not (the masking tests below reverse too).
@pytest.mark.parametrize(
    "shape, go_backwards",
    list(zip(SHAPES, [False, True, False], strict=True)),
    ids=str,
)
def test_layer_sequences_and_states(variant, rng, shape, go_backwards):
    batch, time, dim, units = shape
    layer, weights = variant.built_layer(
        rng, dim, units,
        return_sequences=True, return_state=True, go_backwards=go_backwards,
    )
    x = rng.normal(size=(batch, time, dim))
    outputs, h, c = layer(x.astype("float32"))
    ref_out, ref_h, ref_c = reference.run(
        variant.step, weights, x, go_backwards=go_backwards
    )
    assert_close(outputs, ref_out)
    assert_close(h, ref_h)
    assert_close(c, ref_c)


# Each batch holds right-, left- and randomly padded rows together.
@pytest.mark.parametrize(
    "go_backwards, zero_output_for_mask",
    [(False, False), (False, True), (True, False), (True, True)],
    ids=str,
)
def test_layer_masking(variant, rng, go_backwards, zero_output_for_mask):
    batch, time, dim, units = 8, 6, 3, 5
    lengths = np.array([6, 3, 1, 4])
    steps = np.arange(time)[None, :]
    mask = np.concatenate([
        steps < lengths[:, None],  # right-padded (one row unpadded)
        steps >= time - lengths[:2, None],  # left-padded
        rng.random((2, time)) < 0.6,  # anywhere
    ])
    layer, weights = variant.built_layer(
        rng, dim, units,
        return_sequences=True, return_state=True, go_backwards=go_backwards,
        zero_output_for_mask=zero_output_for_mask,
    )
    x = rng.normal(size=(batch, time, dim))
    outputs, h, c = layer(x.astype("float32"), mask=mask)
    ref_out, ref_h, ref_c = reference.run(
        variant.step, weights, x, mask=mask, go_backwards=go_backwards,
        zero_output_for_mask=zero_output_for_mask,
    )
    assert_close(outputs, ref_out)
    assert_close(h, ref_h)
    assert_close(c, ref_c)


def test_embedding_mask_zero_reaches_the_layer(variant, rng):
    units = 4
    tokens = np.array([[3, 1, 2, 0, 0], [1, 0, 0, 0, 0]])
    embedding = keras.layers.Embedding(5, 3, mask_zero=True)
    layer, weights = variant.built_layer(rng, 3, units)
    output = layer(embedding(tokens))
    vectors = keras.ops.convert_to_numpy(embedding.embeddings)[tokens]
    _, ref_h, _ = reference.run(
        variant.step, weights, vectors, mask=tokens != 0
    )
    assert_close(output, ref_h)


def test_initial_state(variant, rng):
    layer, weights = variant.built_layer(rng, 3, 4, return_state=True)
    x = rng.normal(size=(2, 5, 3))
    h0 = rng.normal(size=(2, variant.output_size(4)))
    c0 = rng.normal(size=(2, 4))
    out, h, c = layer(
        x.astype("float32"),
        initial_state=[h0.astype("float32"), c0.astype("float32")],
    )
    _, ref_h, ref_c = reference.run(variant.step, weights, x, h0, c0)
    assert_close(out, ref_h)
    assert_close(c, ref_c)


def test_stateful_continues_and_resets(variant, rng):
    layer, weights = variant.built_layer(rng, 3, 4, batch=2, stateful=True)
    x = rng.normal(size=(2, 8, 3))
    layer(x[:, :5].astype("float32"))
    second = layer(x[:, 5:].astype("float32"))
    _, ref_h, _ = reference.run(variant.step, weights, x)
    assert_close(second, ref_h)
    layer.reset_state()
    fresh = layer(x[:, 5:].astype("float32"))
    _, ref_fresh, _ = reference.run(variant.step, weights, x[:, 5:])
    assert_close(fresh, ref_fresh)


def test_unrolled_cell_in_rnn(variant, rng):
    cell = variant.cell(4, **variant.kwargs)
    rnn = keras.layers.RNN(cell, unroll=True, return_sequences=True)
    rnn.build((None, 6, 3))
    weights = variant.random_weights(rng, 3, 4)
    variant.set_weights(rnn, weights)
    x = rng.normal(size=(2, 6, 3))
    ref_out, _, _ = reference.run(variant.step, weights, x)
    assert_close(rnn(x.astype("float32")), ref_out)


def test_cells_stacked(variant, rng):
    cells = [
        variant.cell(4, **variant.kwargs),
        variant.cell(2, **variant.kwargs),
    ]
    rnn = keras.layers.RNN(keras.layers.StackedRNNCells(cells))
    rnn.build((None, None, 3))
    first = variant.random_weights(rng, 3, 4)
    second = variant.random_weights(rng, variant.output_size(4), 2)
    variant.set_weights(cells[0], first)
    variant.set_weights(cells[1], second)
    x = rng.normal(size=(2, 5, 3))
    hidden, _, _ = reference.run(variant.step, first, x)
    _, ref_h, _ = reference.run(variant.step, second, hidden)
    assert_close(rnn(x.astype("float32")), ref_h)


def test_bidirectional_layer(variant, rng):
    layer = keras.layers.Bidirectional(
        variant.layer(4, return_sequences=True, **variant.kwargs)
    )
    layer.build((None, 5, 3))
    forward = variant.random_weights(rng, 3, 4)
    backward = variant.random_weights(rng, 3, 4)
    variant.set_weights(layer.forward_layer, forward)
    variant.set_weights(layer.backward_layer, backward)
    x = rng.normal(size=(2, 5, 3))
    ref_forward, _, _ = reference.run(variant.step, forward, x)
    ref_backward, _, _ = reference.run(
        variant.step, backward, x, go_backwards=True
    )
    expected = np.concatenate([ref_forward, ref_backward[:, ::-1]], axis=-1)
    assert_close(layer(x.astype("float32")), expected)


@pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="JAX has no float64 without jax_enable_x64, which the suite does "
    "not set (it would change every other test's dtypes)",
)
def test_float64_layer_norm_lstm_normalises_in_float64(rng):
    """A float64 LayerNormLSTM computes its statistics in float64 (they were
    computed in float32 whatever the layer's dtype: 2.1e-7 off on
    TensorFlow). On PyTorch Keras itself computes `keras.ops.mean` of a
    float64 tensor in float32: there the bound is float32's."""
    layer = keras_lstm_variants.LayerNormLSTM(
        5, return_sequences=True, dtype="float64"
    )
    x = rng.normal(size=(3, 6, 4))
    layer.build(x.shape)
    names = [w.path.split("/")[-1] for w in layer.weights]
    weights = {
        name: np.asarray(w, np.float64) + 0.3 * rng.normal(size=w.shape)
        for name, w in zip(names, layer.get_weights(), strict=True)
    }
    layer.set_weights(list(weights.values()))
    expected, _, _ = reference.run(reference.layer_norm_step, weights, x)
    error = np.abs(keras.ops.convert_to_numpy(layer(x)) - expected).max()
    assert error < (1e-12 if keras.backend.backend() == "tensorflow" else 1e-5)
