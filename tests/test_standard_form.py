"""Each cell's standard LSTM form, the one declaration every fused route
reads (cuDNN, PyTorch's native op, LiteRT).

The truths: `keras.layers.LSTM` given the form's operands (exactly what
cuDNN receives) for forms without peepholes or projection; `torch.nn.LSTM`
(`proj_size`) for projected forms; the NumPy reference of the standard op
with peepholes for the rest. Outputs and weight gradients, the latter
mapped back through the form by hand (CoupledLSTM's tied input gate)."""


import keras
import numpy as np
import pytest
import reference
from conftest import to_numpy

import keras_lstm_variants as klv

B, T, D, U = 3, 6, 3, 4


def _layer(cls, rng, **kwargs):
    layer = cls(U, return_sequences=True, return_state=True, **kwargs)
    layer.build((None, T, D))
    layer.set_weights(
        [rng.normal(0, 0.5, w.shape).astype("float32") for w in layer.weights]
    )
    return layer


def _form_numpy(cell):
    form = cell.standard_lstm_form()
    assert form is not None
    return form._replace(
        kernel=to_numpy(form.kernel),
        recurrent_kernel=to_numpy(form.recurrent_kernel),
        bias=None if form.bias is None else to_numpy(form.bias),
        peepholes=None if form.peepholes is None
        else tuple(to_numpy(p) for p in form.peepholes),
        projection_kernel=None if form.projection_kernel is None
        else to_numpy(form.projection_kernel),
    )


def _loss(outputs):
    sequence, h, c = outputs
    return (
        keras.ops.sum(sequence**2) + keras.ops.sum(h * 0.5)
        + keras.ops.sum(c**2 * 0.25)
    )


def weight_gradients(layer, x, mask=None, **call):
    """d _loss(layer(x)) / d each trainable weight, by the backend's own
    autodiff, as NumPy (and the outputs)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        fixed = [v.value for v in layer.non_trainable_variables]

        def loss(values):
            outputs, _ = layer.stateless_call(
                values, fixed, x, mask=mask, **call
            )
            return _loss(outputs), outputs

        (_, outputs), grads = jax.value_and_grad(loss, has_aux=True)(trainable)
        return [np.asarray(g) for g in grads], [to_numpy(o) for o in outputs]
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            outputs = layer(x, mask=mask, **call)
            loss = _loss(outputs)
        grads = tape.gradient(loss, layer.trainable_variables)
        return [g.numpy() for g in grads], [to_numpy(o) for o in outputs]
    for v in layer.trainable_variables:
        v.value.grad = None
    outputs = layer(x, mask=mask, **call)
    _loss(outputs).backward()
    return (
        [v.value.grad.numpy() for v in layer.trainable_variables],
        [to_numpy(o) for o in outputs],
    )


def _to_cell_gradients(cls, form_grads):
    """The gradients of the form's kernel, recurrent kernel and bias mapped
    back to the cell's own weights: the identity for LSTM; for CoupledLSTM,
    whose form is [-W_f, W_f, W_c, W_o], d/dW_f = g_f - g_i."""
    if cls is klv.LSTM:
        return form_grads
    mapped = []
    for g in form_grads:
        g_i, g_f, g_c, g_o = np.split(g, 4, axis=-1)
        mapped.append(np.concatenate([g_f - g_i, g_c, g_o], axis=-1))
    return mapped


@pytest.mark.parametrize(
    "cls, masked, go_backwards",
    [(klv.LSTM, True, True), (klv.CoupledLSTM, False, False),
     (klv.CoupledLSTM, True, True)],
    ids=["LSTM-masked_backwards", "CoupledLSTM-plain",
         "CoupledLSTM-masked_backwards"],
)
def test_keras_lstm_on_the_form_is_the_variant(rng, cls, masked, go_backwards):
    """keras.layers.LSTM given the form's operands reproduces the layer and,
    mapped back through the form, its weight gradients: the operands cuDNN
    receives are right, and gradients reach the cell's own weights."""
    ours = _layer(cls, rng, go_backwards=go_backwards)
    form = _form_numpy(ours.cell)
    assert form.peepholes is None and form.projection_kernel is None
    theirs = keras.layers.LSTM(
        U, return_sequences=True, return_state=True, go_backwards=go_backwards
    )
    theirs.build((None, T, D))
    theirs.set_weights([form.kernel, form.recurrent_kernel, form.bias])
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = (np.arange(T)[None] < np.array([[T], [2], [4]])) if masked else None
    our_grads, our_outputs = weight_gradients(ours, x, mask)
    their_grads, their_outputs = weight_gradients(theirs, x, mask)
    for actual, expected in zip(our_outputs, their_outputs, strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
    for actual, expected in zip(
        our_grads, _to_cell_gradients(cls, their_grads), strict=True
    ):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "cls, kwargs",
    [(klv.LSTM, {}), (klv.CoupledLSTM, {})],
    ids=["lstm", "coupled"],
)
def test_torch_lstm_on_the_projected_form_is_the_variant(rng, cls, kwargs):
    """torch.nn.LSTM(proj_size=P) given the projected form's operands: the
    operands of PyTorch's native route."""
    import torch

    ours = _layer(cls, rng, projection_units=2, **kwargs)
    form = _form_numpy(ours.cell)
    module = torch.nn.LSTM(D, U, batch_first=True, proj_size=2)
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.tensor(form.kernel.T))
        module.weight_hh_l0.copy_(torch.tensor(form.recurrent_kernel.T))
        module.bias_ih_l0.copy_(torch.tensor(form.bias))
        module.bias_hh_l0.zero_()
        module.weight_hr_l0.copy_(torch.tensor(form.projection_kernel.T))
    x = rng.normal(size=(B, T, D)).astype("float32")
    sequence, (h, c) = module(torch.tensor(x))
    loss = (torch.sum(sequence**2) + torch.sum(h[0] * 0.5)
            + torch.sum(c[0] ** 2 * 0.25))  # _loss, in torch
    loss.backward()
    our_grads, our_outputs = weight_gradients(ours, x)
    expected = [sequence.detach().numpy(), h[0].detach().numpy(),
                c[0].detach().numpy()]
    for actual, want in zip(our_outputs, expected, strict=True):
        np.testing.assert_allclose(actual, want, rtol=1e-5, atol=1e-5)
    their_grads = _to_cell_gradients(cls, [
        module.weight_ih_l0.grad.numpy().T,
        module.weight_hh_l0.grad.numpy().T,
        module.bias_ih_l0.grad.numpy(),
    ]) + [module.weight_hr_l0.grad.numpy().T]
    for actual, want in zip(our_grads, their_grads, strict=True):
        np.testing.assert_allclose(actual, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (klv.PeepholeLSTM, {"projection_units": 3, "cell_clip": 0.6,
                            "projection_clip": 0.5}),
        (klv.CoupledLSTM, {"use_peepholes": True, "projection_units": 2,
                           "cell_clip": 0.7}),
    ],
    ids=["peephole", "coupled_peepholes"],
)
def test_standard_op_with_peepholes_on_the_form_is_the_variant(
    rng, cls, kwargs
):
    """The NumPy standard op with peepholes, projection and clips (LiteRT's
    fused op) on the form's operands reproduces the layer."""
    ours = _layer(cls, rng, **kwargs)
    form = _form_numpy(ours.cell)
    p_i, p_f, p_o = form.peepholes
    weights = {
        "kernel": form.kernel,
        "recurrent_kernel": form.recurrent_kernel,
        "bias": form.bias,
        "input_gate_peephole_weights": p_i,
        "forget_gate_peephole_weights": p_f,
        "output_gate_peephole_weights": p_o,
        "projection_kernel": form.projection_kernel,
    }
    x = rng.normal(size=(B, T, D)).astype("float32")

    def step(x_t, h, c, w):
        return reference.peephole_step(
            x_t, h, c, w, cell_clip=form.cell_clip,
            projection_clip=form.projection_clip,
        )

    expected = reference.run(step, weights, x)
    for actual, want in zip(ours(x), expected, strict=True):
        np.testing.assert_allclose(to_numpy(actual), want, rtol=1e-5, atol=1e-5)


class PeepholeCellInLSTM(klv.LSTM):
    """The defect of a class flag: a subclass of LSTM over a peephole cell
    inherited the cuDNN route and would have dropped its peepholes."""

    cell_class = klv.PeepholeLSTMCell


def test_a_subclass_over_another_cell_keeps_its_equations(rng):
    ours = _layer(PeepholeCellInLSTM, rng)
    truth = _layer(klv.PeepholeLSTM, rng)
    truth.set_weights(ours.get_weights())
    x = rng.normal(size=(B, T, D)).astype("float32")
    for actual, expected in zip(ours(x), truth(x), strict=True):
        np.testing.assert_allclose(to_numpy(actual), to_numpy(expected),
                                   rtol=1e-6, atol=1e-6)
    assert _form_numpy(ours.cell).peepholes is not None


@pytest.mark.parametrize(
    "make",
    [
        lambda: klv.LayerNormLSTMCell(U),
        lambda: klv.search_space.cell("NIG", U),
        lambda: klv.search_space.cell("FGR", U),
        lambda: klv.LSTMCell(U, activation="relu"),
        lambda: klv.CoupledLSTMCell(U, output_zoneout=0.1),
    ],
    ids=["layer_norm", "NIG", "FGR", "relu", "zoneout"],
)
def test_cells_without_the_form_say_why(make):
    cell = make()
    cell.build((None, D))
    assert cell.standard_lstm_form() is None
    assert cell.standard_lstm_form_problem()


def _native_calls(monkeypatch):
    from keras_lstm_variants.backends import torch as torch_backend

    calls = []
    native = torch_backend.fused_lstm

    def counted(*args, **kwargs):
        outputs = native(*args, **kwargs)  # raises where it declines
        calls.append(1)
        return outputs

    monkeypatch.setattr(torch_backend, "fused_lstm", counted)
    return calls


@pytest.mark.parametrize(
    "cls, kwargs, call",
    [
        (klv.LSTM, {"go_backwards": True}, {}),
        (klv.CoupledLSTM, {"dropout": 0.3, "seed": 2}, {"training": True}),
        (klv.LSTM, {"projection_units": 2}, {"initial_state": "random"}),
    ],
    ids=["lstm_backwards", "coupled_dropout", "projected_initial_state"],
)
def test_torch_native_route_equals_the_loop(
    rng, monkeypatch, cls, kwargs, call
):
    """PyTorch's native op (ATen on CPU; cuDNN on a GPU) against the
    portable loop on the same weights: outputs and weight gradients."""
    if keras.backend.backend() != "torch":
        pytest.skip("PyTorch's native LSTM op is the torch backend's route")
    calls = _native_calls(monkeypatch)
    native = _layer(cls, rng, **kwargs)
    loop = _layer(cls, rng, use_cudnn=False, **kwargs)
    loop.set_weights(native.get_weights())
    x = rng.normal(size=(B, T, D)).astype("float32")
    if call.get("initial_state") == "random":
        call = {"initial_state": [
            rng.normal(size=(B, size)).astype("float32")
            for size in native.cell.state_size
        ]}
    results = []
    for layer in (native, loop):  # one `seed`: the same dropout mask
        results.append(weight_gradients(layer, x, **call))
    assert calls, "the native route did not run"
    (native_grads, native_outputs), (loop_grads, loop_outputs) = results
    for actual, expected in zip(native_outputs, loop_outputs, strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
    for actual, expected in zip(native_grads, loop_grads, strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)


def test_torch_native_route_declines_what_it_cannot_compute(rng, monkeypatch):
    if keras.backend.backend() != "torch":
        pytest.skip("PyTorch's native LSTM op is the torch backend's route")
    calls = _native_calls(monkeypatch)
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = np.arange(T)[None] < np.array([[T], [2], [4]])
    _layer(klv.PeepholeLSTM, rng)(x)
    _layer(klv.LSTM, rng, cell_clip=0.5)(x)
    _layer(klv.LSTM, rng, recurrent_dropout=0.2)(x, training=True)
    _layer(klv.LSTM, rng)(x, mask=mask)
    assert not calls
