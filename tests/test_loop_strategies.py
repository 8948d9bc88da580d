"""Every loop strategy of the layers computes the same numbers.

The layers' loop can compute the gate pre-activations three ways
(`keras_lstm_variants._tuning.LOOP_STRATEGY`); each way of running the loop
(XLA, TensorFlow's graph executor, eager PyTorch) uses the one that measured
fastest there. Each must match the NumPy reference, with masks, reversed
sequences and gradients, whichever is picked. So must LayerNormLSTM's two
ways of centring its projections (`_tuning.CENTRE_KERNELS`).
"""

import keras
import numpy as np
import pytest
import reference
from conftest import CORE_VARIANTS
from conftest import VARIANTS
from conftest import assert_close
from conftest import input_gradient

import keras_lstm_variants as klv
from keras_lstm_variants import _lstm_layer
from keras_lstm_variants import layer_norm_lstm
from keras_lstm_variants._lstm_layer import LOOP_STRATEGIES
from keras_lstm_variants._tuning import CENTRE_KERNELS
from keras_lstm_variants._tuning import LOOP_STRATEGY
from keras_lstm_variants._tuning import STACKED_KERNEL_LIMIT


def test_every_way_of_running_has_a_valid_strategy():
    assert set(LOOP_STRATEGY) == {"xla", "tensorflow", "torch"}
    assert set(LOOP_STRATEGY.values()) <= set(LOOP_STRATEGIES)
    assert set(STACKED_KERNEL_LIMIT) == {"jax", "tensorflow"}


# The choice depends on where the loop runs and on whether the cell can
# fuse: two cells that can (four and three gates), one that cannot. These
# three fit here under XLA and not; test_training fits the other three.
CHOOSERS = [v for v in CORE_VARIANTS
            if v.name in ("peephole", "coupled_peepholes", "layer_norm_tfa")]


@pytest.mark.parametrize("variant", CHOOSERS, ids=lambda v: v.name)
@pytest.mark.parametrize("over_limit", [False, True])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_the_loop_takes_the_strategy_of_where_it_runs(
    variant, rng, monkeypatch, jit_compile, over_limit
):
    # (The strategy does not depend on the shared options: the core
    # variants; the options' variants run every strategy below.)
    # A model compiled with XLA (on JAX always) runs LOOP_STRATEGY["xla"],
    # "stacked", while the stacked kernel [W; U] has at most
    # STACKED_KERNEL_LIMIT[backend] elements, and "step" past it; TensorFlow's
    # graph executor and PyTorch run their own entry. Seen by which step
    # function the layer's loop calls while fit traces it (without the
    # backend's fused LSTM kernel, which torch runs even on CPU).
    backend = keras.backend.backend()
    if backend == "torch" and jit_compile:
        pytest.skip("torch.compile is not XLA; torch has one strategy")
    if over_limit and not (backend == "jax" or jit_compile):
        pytest.skip("the size limit applies only to a loop XLA compiles")
    layer, _ = variant.built_layer(rng, 3, 4, use_cudnn=False)
    stacked_size = (3 + layer.cell.recurrent_kernel.shape[0]) * (
        layer.cell.kernel.shape[1]
    )
    limit = stacked_size - 1 if over_limit else stacked_size
    monkeypatch.setitem(STACKED_KERNEL_LIMIT, backend, limit)
    expected = LOOP_STRATEGY[
        "xla" if backend == "jax" or jit_compile else backend
    ]
    if expected == "stacked" and over_limit:
        expected = "step"
    seen = set()
    cell = layer.cell

    def spy(function, name):
        def spied(*args):
            seen.add(name)
            return function(*args)
        return spied

    monkeypatch.setattr(
        _lstm_layer, "_stacked_step", spy(_lstm_layer._stacked_step, "stacked")
    )
    monkeypatch.setattr(cell, "_step", spy(cell._step, "step"))
    model = keras.Sequential([keras.Input((5, 3)), layer])
    model.compile("sgd", "mse", jit_compile=jit_compile)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    y = np.zeros((2, variant.output_size(4)), "float32")
    model.fit(x, y, epochs=1, verbose=0)
    stackable = _lstm_layer._can_stack(cell, None, None)
    assert seen == {expected if stackable else "step"}


def _layer(variant, rng, strategy, dim, units, **kwargs):
    layer, weights = variant.built_layer(rng, dim, units, **kwargs)
    layer._loop_strategy = strategy
    return layer, weights


@pytest.mark.parametrize(
    "strategy, go_backwards",
    list(zip(LOOP_STRATEGIES, [False, True, True], strict=True)),
    ids=str,
)
def test_strategy_matches_reference(variant, rng, strategy, go_backwards):
    layer, weights = _layer(
        variant, rng, strategy, 5, 4,
        return_sequences=True, return_state=True, go_backwards=go_backwards,
    )
    x = rng.normal(size=(3, 7, 5))
    mask = np.ones((3, 7), bool)
    mask[1, 4:] = False  # right-padded
    mask[2, :3] = False  # left-padded
    outputs, h, c = layer(x.astype("float32"), mask=mask)
    ref_out, ref_h, ref_c = reference.run(
        variant.step, weights, x, mask=mask, go_backwards=go_backwards
    )
    assert_close(outputs, ref_out)
    assert_close(h, ref_h)
    assert_close(c, ref_c)


# Each variant's gradient through two of the three strategies, the one left
# out rotating, so that each strategy is differentiated for two thirds of
# the variants (each is compared with the reference for all, above).
GRADIENT_CASES = [
    (variant, strategy)
    for k, variant in enumerate(VARIANTS)
    for j, strategy in enumerate(LOOP_STRATEGIES)
    if j != k % len(LOOP_STRATEGIES)
]


@pytest.mark.parametrize(
    "variant, strategy", GRADIENT_CASES,
    ids=[f"{v.name}-{s}" for v, s in GRADIENT_CASES],
)
def test_strategy_gradients_match_unrolled_cell(variant, rng, strategy):
    # The gradient of the loop equals that of the cell stepped by hand in
    # Python, which shares no loop code with the layer.
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    layer, _ = _layer(variant, rng, strategy, 3, 4)
    cell = variant.cell(4, **variant.kwargs)
    cell.build((None, 3))
    cell.set_weights(layer.get_weights())

    def by_hand(inputs):
        h = keras.ops.zeros((2, variant.output_size(4)))
        c = keras.ops.zeros((2, 4))
        for t in range(inputs.shape[1]):
            h, (h, c) = cell(inputs[:, t], [h, c])
        return h

    expected = input_gradient(by_hand, x)
    assert_close(input_gradient(layer, x), expected, tol=1e-4)


# Every variant with every strategy, recurrent dropout on for every other
# pair: each (strategy, recurrent dropout) pair with five or six variants.
DROPOUT_CASES = [
    (variant, strategy, 0.2 if (k + j) % 2 else 0.0)
    for k, variant in enumerate(VARIANTS)
    for j, strategy in enumerate(LOOP_STRATEGIES)
]


@pytest.mark.parametrize(
    "variant, strategy, recurrent_dropout", DROPOUT_CASES,
    ids=[f"{v.name}-{s}-{r}" for v, s, r in DROPOUT_CASES],
)
def test_strategy_dropout_masks_are_keras_masks(
    variant, rng, strategy, recurrent_dropout
):
    # With the same seed, every strategy draws and applies the same masks as
    # the cell stepped by keras.layers.RNN (Keras's own loop). Recurrent
    # dropout means one mask per gate, which "stacked" hands to "step".
    if variant.kwargs.get("cell_zoneout") or variant.kwargs.get(
        "output_zoneout"
    ):
        pytest.skip("zoneout's draws differ between the two loops by design "
                    "(test_options.py)")
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    kwargs = dict(dropout=0.3, recurrent_dropout=recurrent_dropout, seed=3)
    layer, _ = _layer(variant, rng, strategy, 4, 6, **kwargs)
    rnn = keras.layers.RNN(variant.cell(6, **variant.kwargs, **kwargs))
    rnn.build((None, None, 4))
    rnn.set_weights(layer.get_weights())
    assert_close(layer(x, training=True), rnn(x, training=True))


LAYER_NORM = [v for v in CORE_VARIANTS if v.cell is klv.LayerNormLSTMCell]


def test_every_way_of_running_decides_the_kernel_centring():
    assert set(CENTRE_KERNELS) == set(LOOP_STRATEGY)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_layer_norm_centres_the_kernels_where_it_pays(
    rng, monkeypatch, jit_compile
):
    # LayerNormLSTM's loop centres its kernels once per sequence where
    # CENTRE_KERNELS says so for the way it runs (seen by whether fit calls
    # the centring), else its normalisations centre x W and h U.
    backend = keras.backend.backend()
    if backend == "torch" and jit_compile:
        pytest.skip("torch.compile is not XLA")
    context = "xla" if backend == "jax" or jit_compile else backend
    calls = []
    centred_kernel = layer_norm_lstm._centred_kernel

    def spy(kernel, dtype):
        calls.append(kernel.shape)
        return centred_kernel(kernel, dtype)

    monkeypatch.setattr(layer_norm_lstm, "_centred_kernel", spy)
    layer, _ = LAYER_NORM[0].built_layer(rng, 3, 4)
    model = keras.Sequential([keras.Input((5, 3)), layer])
    model.compile("sgd", "mse", jit_compile=jit_compile)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    model.fit(x, np.zeros((2, 4), "float32"), epochs=1, verbose=0)
    assert bool(calls) == CENTRE_KERNELS[context]


@pytest.mark.parametrize("variant", LAYER_NORM, ids=lambda v: v.name)
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_centred_kernels_train_as_centred_projections(variant, rng, dropout):
    # The two ways of centring LN_x(x W) and LN_h(h U) give the same outputs
    # and the same SGD step (every weight's gradient flows through the
    # centring of the kernels in one, through the normalisation in the
    # other), with masks on both sides and dropout.
    x = rng.normal(2.0, 3.0, size=(4, 7, 5)).astype("float32")
    x[1, 5:] = 0.0  # masked: right padding
    x[2, :2] = 0.0  # masked: left padding
    y = rng.normal(size=(4, 7, 6)).astype("float32")
    results = []
    for centre in (True, False):
        cell_class = type("Cell", (variant.cell,), {"_centre_kernels": centre})
        layer_class = type(
            "Layer", (variant.layer,), {"cell_class": cell_class}
        )
        layer = layer_class(
            6, return_sequences=True, dropout=dropout, seed=5, **variant.kwargs
        )
        inputs = keras.Input(x.shape[1:])
        model = keras.Model(inputs, layer(keras.layers.Masking()(inputs)))
        variant.set_weights(
            layer, variant.random_weights(np.random.default_rng(7), 5, 6)
        )
        model.compile(keras.optimizers.SGD(1.0), "mse")
        before = [np.array(w) for w in model.get_weights()]
        outputs = keras.ops.convert_to_numpy(model(x))
        model.train_on_batch(x, y)
        steps = [
            b - np.array(a)
            for b, a in zip(before, model.get_weights(), strict=True)
        ]
        results.append((outputs, steps))
    (centred_out, centred_steps), (plain_out, plain_steps) = results
    assert_close(centred_out, plain_out)
    for centred, plain in zip(centred_steps, plain_steps, strict=True):
        assert np.abs(plain).max() > 0
        assert_close(centred, plain, tol=1e-5 * max(1.0, np.abs(plain).max()))
