"""The GRU family: `GRU` against `keras.layers.GRU` (both reset modes, same
seed, same weights, every argument), every variant against its NumPy
reference (`reference.py`, written from the papers and haste's source),
gradients against finite differences of the reference, the fused routes
against the loop, zoneout, the refused arguments, and saving."""

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

BACKEND = keras.backend.backend()
B, T, D, U = 3, 7, 5, 4

# name: (layer, its kwargs, reference step(x, h, weights)).
VARIANTS = {
    "gru": (klv.GRU, {}, reference.gru_step),
    "gru_reset_before": (
        klv.GRU, {"reset_after": False},
        functools.partial(reference.gru_step, reset_after=False),
    ),
    "layer_norm_gru": (klv.LayerNormGRU, {}, reference.layer_norm_gru_step),
    "mgu": (klv.MGU, {}, reference.mgu_step),
    "gru1": (klv.GRU1, {}, functools.partial(
        reference.gru_gate_variant_step, name="GRU1")),
    "gru2": (klv.GRU2, {}, functools.partial(
        reference.gru_gate_variant_step, name="GRU2")),
    "gru3": (klv.GRU3, {}, functools.partial(
        reference.gru_gate_variant_step, name="GRU3")),
}


def _mask():
    mask = np.ones((B, T), bool)
    mask[1, 4:] = False  # right-padded
    mask[2, :2] = False  # left-padded
    return mask


def _random_layer(name, rng, **kwargs):
    """The variant's layer, built, with random weights (gains near 1), and
    those weights by name for the reference."""
    layer_class, variant_kwargs, _ = VARIANTS[name]
    layer = layer_class(U, **variant_kwargs, **kwargs)
    layer.build((None, None, D))
    weights = {}
    for variable in layer.weights:
        value = rng.normal(0.0, 0.5, variable.shape)
        if variable.name == "norm_gamma":
            value = 1.0 + 0.2 * value
        variable.assign(value.astype("float32"))
        weights[variable.name] = value.astype("float32").astype("float64")
    return layer, weights


def _reference(name, weights, x, **kwargs):
    step = VARIANTS[name][2]
    return reference.state_run(
        lambda x_t, h: step(x_t, h, weights), x, U, **kwargs
    )


# --- GRU is keras.layers.GRU ------------------------------------------------

# Pairwise over (reset_after, use_bias, go_backwards, mask): each backend
# runs a third of the cases.
KERAS_CASES = [
    (True, True, False, True), (True, False, True, False),
    (False, True, True, True), (False, False, False, False),
    (True, True, True, True), (False, True, False, False),
]


@pytest.mark.parametrize(
    "reset_after, use_bias, go_backwards, masked",
    one_per_backend(KERAS_CASES) + one_per_backend(KERAS_CASES, shift=3),
)
def test_gru_is_keras_gru(rng, reset_after, use_bias, go_backwards, masked):
    """Same seed, same weights; the same outputs and state, initial state,
    mask and go_backwards included."""
    kwargs = dict(
        reset_after=reset_after, use_bias=use_bias, go_backwards=go_backwards,
        return_sequences=True, return_state=True,
    )
    keras.utils.set_random_seed(7)
    theirs = keras.layers.GRU(U, **kwargs)
    theirs.build((None, T, D))
    keras.utils.set_random_seed(7)
    ours = klv.GRU(U, **kwargs)
    ours.build((None, T, D))
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    x = rng.normal(size=(B, T, D)).astype("float32")
    h0 = rng.normal(size=(B, U)).astype("float32")
    mask = _mask() if masked else None
    expected = [to_numpy(e) for e in theirs(x, initial_state=[h0], mask=mask)]
    actual = ours(x, initial_state=[h0], mask=mask)
    if masked:
        # Before a row's first unmasked step (in the order the steps run),
        # our layers output zeros on every backend, as TensorFlow's
        # keras.layers.RNN does; JAX's outputs the initial state there.
        ran = mask[:, ::-1] if go_backwards else mask
        started = np.cumsum(ran, axis=1) > 0
        expected[0] = np.where(started[..., None], expected[0], 0.0)
    for a, e in zip(actual, expected, strict=True):
        assert_close(a, e, tol=1e-6)


def test_gru_cell_is_keras_cell_with_dropout(rng):
    """The cell in `keras.layers.RNN`, training, with input and recurrent
    dropout from the same seed: Keras's masks, so the same numbers."""
    x = rng.normal(size=(B, T, D)).astype("float32")
    outputs = []
    for cell_class in (keras.layers.GRUCell, klv.GRUCell):
        keras.utils.set_random_seed(3)
        cell = cell_class(U, dropout=0.3, recurrent_dropout=0.4, seed=5)
        rnn = keras.layers.RNN(cell, return_sequences=True)
        outputs.append(to_numpy(rnn(x, training=True)))
    assert_close(outputs[1], outputs[0], tol=1e-6)
    assert np.abs(outputs[0]).max() > 0


def test_gru_layer_dropout_is_keras_layers(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    outputs = []
    for layer_class in (keras.layers.GRU, klv.GRU):
        keras.utils.set_random_seed(3)
        layer = layer_class(U, dropout=0.3, recurrent_dropout=0.4, seed=5,
                            return_sequences=True)
        outputs.append(to_numpy(layer(x, training=True)))
    assert_close(outputs[1], outputs[0], tol=1e-6)


def test_gru_stateful_carries_the_state_as_keras_does(rng):
    x = rng.normal(size=(2, T, D)).astype("float32")
    keras.utils.set_random_seed(1)
    theirs = keras.layers.GRU(U, stateful=True)
    theirs.build((2, T, D))
    ours = klv.GRU(U, stateful=True)
    ours.build((2, T, D))
    ours.set_weights(theirs.get_weights())
    for chunk in (x[:, :3], x[:, 3:]):
        expected = theirs(chunk)
        actual = ours(chunk)
    assert_close(actual, expected, tol=1e-6)


# --- Every variant is its reference ----------------------------------------


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_equals_its_reference(name, rng):
    layer, weights = _random_layer(
        name, rng, return_sequences=True, return_state=True,
        go_backwards=name in ("mgu", "gru2"),
    )
    x = rng.normal(size=(B, T, D))
    h0 = rng.normal(size=(B, U))
    outputs, h = layer(
        x.astype("float32"), initial_state=[h0.astype("float32")],
        mask=_mask(),
    )
    ref_outputs, ref_h = _reference(
        name, weights, x, h0=h0, mask=_mask(),
        go_backwards=name in ("mgu", "gru2"),
    )
    assert_close(outputs, ref_outputs)
    assert_close(h, ref_h)


@pytest.mark.parametrize(
    "name", one_per_backend(VARIANTS) + one_per_backend(VARIANTS, shift=3)
    + one_per_backend(VARIANTS, shift=5),
)
def test_variant_gradients_match_finite_differences(name, rng):
    """The layer's input gradient (autodiff, float32) against central
    differences of the float64 reference."""
    layer, weights = _random_layer(name, rng, return_sequences=True)
    x = rng.normal(size=(2, 4, D))
    actual = input_gradient(layer, x.astype("float32"))

    def loss(v):
        return np.sum(_reference(name, weights, v)[0] ** 2)

    expected = np.zeros_like(x)
    eps = 1e-6
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        expected[index] = (loss(x + step) - loss(x - step)) / (2 * eps)
    np.testing.assert_allclose(actual, expected, rtol=2e-3, atol=2e-4)


def test_layer_norm_gru_matches_haste_formulation_with_wide_statistics(rng):
    """A (nearly) constant projection row normalises to zeros, not to
    amplified rounding noise: the statistics are shifted and float32."""
    layer, _ = _random_layer("layer_norm_gru", rng)
    x = np.zeros((2, 3, D), "float32")
    assert np.all(np.isfinite(to_numpy(layer(x))))


# --- Zoneout ----------------------------------------------------------------


def test_zoneout_mixes_at_inference_and_keeps_units_in_training(rng):
    layer, weights = _random_layer(
        "gru", rng, zoneout=0.3, return_sequences=True, seed=4
    )
    x = rng.normal(size=(B, T, D))
    expected, _ = reference.state_run(
        lambda x_t, h: reference.gru_step(x_t, h, weights, zoneout=0.3),
        x, U,
    )
    assert_close(layer(x.astype("float32")), expected)
    big = klv.GRU(64, zoneout=0.6, seed=2, return_sequences=True)
    outputs = to_numpy(big(rng.normal(size=(32, 20, D)).astype("float32"),
                           training=True))
    kept = outputs[:, 1:] == outputs[:, :-1]
    assert abs(kept.mean() - 0.6) < 5 * np.sqrt(0.24 / kept.size)


# --- Routes -----------------------------------------------------------------


def _fused_calls(monkeypatch):
    from keras_lstm_variants import backends

    module = backends._module()
    calls = []
    original = module.fused_gru

    def counted(*args, **kwargs):
        outputs = original(*args, **kwargs)  # raises where it declines
        calls.append(1)
        return outputs

    monkeypatch.setattr(module, "fused_gru", counted)
    return calls


def test_fused_gru_equals_the_loop(rng, monkeypatch):
    """Where a fused GRU kernel runs on this CPU (PyTorch's native op;
    Keras's JAX GRU op, which keras.layers.GRU takes there and
    `use_cudnn=True` asks for), it gives the portable loop's outputs,
    states and gradients on the same weights, `go_backwards` included."""
    if BACKEND not in ("torch", "jax"):
        pytest.skip("no fused GRU kernel runs on this backend's CPU")
    calls = _fused_calls(monkeypatch)
    fused, _ = _random_layer("gru", rng, return_sequences=True,
                             return_state=True, go_backwards=True,
                             use_cudnn=True)
    loop = klv.GRU(U, return_sequences=True, return_state=True,
                   go_backwards=True, use_cudnn=False)
    loop.build((None, None, D))
    loop.set_weights(fused.get_weights())
    x = rng.normal(size=(B, T, D)).astype("float32")
    for a, b in zip(fused(x), loop(x), strict=True):
        assert_close(a, b, tol=1e-5)
    assert calls, "the fused route did not run"
    assert_close(
        input_gradient(lambda v: fused(v)[0], x),
        input_gradient(lambda v: loop(v)[0], x),
        tol=1e-4,
    )
    # The weights' gradients, through a public train step: one step of SGD
    # with learning rate 1 moves each weight by minus its gradient.
    y = rng.normal(size=(B, U)).astype("float32")
    moves = []
    for use_cudnn in (True, False):
        layer = klv.GRU(U, use_cudnn=use_cudnn)
        inputs = keras.Input((T, D))
        model = keras.Model(inputs, layer(inputs))
        model.set_weights(fused.get_weights())
        model.compile(keras.optimizers.SGD(1.0), "mse")
        before = [w.copy() for w in model.get_weights()]
        model.train_on_batch(x, y)
        moves.append([a - b for a, b in zip(model.get_weights(), before,
                                            strict=True)])
    for a, b in zip(*moves, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_routes_decline_what_they_cannot_compute(rng, monkeypatch):
    calls = _fused_calls(monkeypatch)
    x = rng.normal(size=(B, T, D)).astype("float32")
    for name in ("gru_reset_before", "layer_norm_gru", "mgu", "gru1"):
        _random_layer(name, rng)[0](x)
    _random_layer("gru", rng, zoneout=0.2)[0](x)
    _random_layer("gru", rng)[0](x, mask=_mask())  # no kernel takes it here
    assert not calls


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda: klv.LayerNormGRU(4, use_cudnn=True), "redefines"),
        (lambda: klv.MGU(4, use_cudnn=True), "MGUCell redefines"),
        (lambda: klv.GRU2(4, use_cudnn=True), "GRU2Cell redefines"),
        (lambda: klv.GRU(4, reset_after=False, use_cudnn=True),
         "reset_after=False"),
        (lambda: klv.GRU(4, zoneout=0.1, use_cudnn=True), "zoneout=0.1"),
        (lambda: klv.GRU(4, activation="relu", use_cudnn=True),
         "activation='relu'"),
    ],
    ids=["layer_norm", "mgu", "gru2", "reset_before", "zoneout", "relu"],
)
def test_use_cudnn_true_is_refused_with_the_reason(make, problem):
    with pytest.raises(ValueError, match="use_cudnn=True") as error:
        make()
    assert problem in str(error.value)


# --- Arguments --------------------------------------------------------------


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: klv.GRU(4, cell_clip=1.0), "cell_clip"),
        (lambda: klv.GRUCell(4, projection_units=2), "projection_units"),
        (lambda: klv.MGU(4, use_peepholes=True), "use_peepholes"),
        (lambda: klv.GRU(4, unit_forget_bias=True), "unit_forget_bias"),
        (lambda: klv.GRU1(4, reset_after=True), "reset_after"),
        (lambda: klv.LayerNormGRU(4, reset_after=False), "reset_after"),
        (lambda: klv.GRU(4, zoneout=1.5), "zoneout"),
        (lambda: klv.gru_variants.layer("GRU4", 4), "name"),
    ],
    ids=["cell_clip", "projection", "peepholes", "forget_bias", "gru1_reset",
         "ln_reset", "zoneout", "name"],
)
def test_arguments_without_meaning_are_refused_by_name(make, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        make()


def test_gate_variants_are_built_by_name():
    for name in klv.gru_variants.NAMES:
        layer = klv.gru_variants.layer(name, 4, return_sequences=True)
        cell = klv.gru_variants.cell(name, 4)
        assert type(layer).__name__ == name
        assert type(cell).__name__ == f"{name}Cell"


@pytest.mark.parametrize("name", list(VARIANTS))
def test_saved_and_loaded_the_layer_computes_the_same(name, rng, tmp_path):
    layer, _ = _random_layer(name, rng, zoneout=0.1, dropout=0.1)
    inputs = keras.Input((T, D))
    model = keras.Model(inputs, layer(inputs))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = rng.normal(size=(B, T, D)).astype("float32")
    assert_close(loaded(x), model(x), tol=1e-6)
    config = loaded.layers[-1].get_config()
    assert config["zoneout"] == 0.1 and config["dropout"] == 0.1
