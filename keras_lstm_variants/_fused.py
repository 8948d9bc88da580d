"""The fused routes of the layers: a whole sequence in one backend kernel.

A cell whose step is the standard LSTM op with some operands says so once,
in `LSTMCellBase.standard_lstm_form` (`LSTM`, `CoupledLSTM`, `PeepholeLSTM`
and any variant that declares `standard_lstm_gates`). Every fused route
reads that form, and none asks what class a cell is:

- cuDNN, through Keras's backend `lstm` (the kernel and the conditions of
  `keras.layers.LSTM`: a GPU, `use_bias`, no unroll; on JAX no mask, on
  TensorFlow a right-padded one) on TensorFlow and JAX, for forms without
  peepholes, projection or clips;
- on PyTorch, its native LSTM op (`_torch.native_lstm`: cuDNN on a GPU,
  ATen's kernel on CPU), for forms without peepholes or clips, projection
  included, without a mask.

Input dropout is applied to the sequence before the kernel (one mask for
all gates, as `keras.layers.LSTM` does); recurrent dropout, one input mask
per gate (`implementation=1`) and `unroll` leave the sequence to the loop.
`fused_loop` returns None where no route applies; `_layer.py`'s loop then
runs it.
"""

import random

import keras
from keras import ops

from keras_lstm_variants._keras_internal import backend_lstm
from keras_lstm_variants._keras_internal import cudnn_ok

# On PyTorch and a CPU, the native op runs where it measured faster than
# the loop (benchmarks/bench_layers.py on torch, benchmarks/RESULTS.md).
TORCH_NATIVE_ON_CPU = True


def cudnn_problem(cell):
    """Why cuDNN can never run `cell`'s layer, or None: its form (on a
    probe of the same configuration where `cell` is not built yet) has
    peepholes, a projection or clips, or it has none."""
    problem = cell.standard_lstm_form_problem()
    if problem is not None:
        return problem
    options = {
        "projection_units": cell.projection_units,
        "cell_clip": cell.cell_clip,
        "projection_clip": cell.projection_clip,
    }
    if any(value is not None for value in options.values()):
        return "cuDNN computes neither a projection nor clipping; received " + (
            ", ".join(f"{name}={value!r}" for name, value in options.items())
        )
    try:
        form = cell.standard_lstm_form() if cell.built else _probe_form(cell)
    except Exception:  # a user's cell that its config cannot rebuild:
        return None  # the call decides (`fused_loop` raises there)
    if form is None:
        return f"{type(cell).__name__} has no standard LSTM form here"
    if form.peepholes is not None:
        return (
            f"the standard LSTM form of {type(cell).__name__} has peepholes, "
            "which cuDNN does not compute"
        )
    return None


def _probe_form(cell):
    """The standard form of a cell configured as `cell` (built for one
    feature, zero weights), drawing nothing from the global seed stream."""
    config = cell.get_config()
    for key in config:
        if key.endswith("_initializer"):
            config[key] = "zeros"
    state = random.getstate()
    try:
        probe = type(cell).from_config(config)
        probe.build((None, 1))
        return probe.standard_lstm_form()
    finally:
        random.setstate(state)


def takes_cudnn(layer):
    """Whether `keras.layers.LSTM`'s cuDNN kernel runs `layer` here: as
    Keras does, the TensorFlow layer then keeps `jit_compile="auto"` from
    compiling the model (cuDNN ops are not XLA's). Call it on a built
    layer."""
    cell = layer.cell
    return (
        bool(layer.use_cudnn)
        and cudnn_problem(cell) is None
        and cudnn_ok(
            cell.activation, cell.recurrent_activation, layer.unroll,
            cell.use_bias,
        )
    )


def fused_loop(layer, sequences, initial_state, mask, training):
    """`(last_output, outputs, states)` from a fused kernel, or None where
    no route runs `layer` here (the loop does). With `use_cudnn=True`, a
    configuration that cuDNN cannot run raises."""
    cell = layer.cell
    if layer.use_cudnn is False:
        return None
    if (
        layer.unroll
        or training and 0.0 < cell.recurrent_dropout < 1.0
        or cell.standard_lstm_form_problem() is not None
    ):
        return _declined(layer)
    if keras.backend.backend() == "torch":
        return _torch_native(layer, sequences, initial_state, mask, training)
    return _cudnn(layer, sequences, initial_state, mask, training)


def _cudnn(layer, sequences, initial_state, mask, training):
    cell = layer.cell
    if not cudnn_ok(
        cell.activation, cell.recurrent_activation, layer.unroll, cell.use_bias
    ):
        return _declined(layer)
    operands = _operands(
        layer, sequences, training,
        takes=lambda form: form.peepholes is None
        and form.projection_kernel is None
        and form.cell_clip is None,
    )
    if operands is None:
        return _declined(layer)
    form, sequences = operands
    try:
        return backend_lstm(
            sequences,
            initial_state[0],
            initial_state[1],
            mask,
            kernel=form.kernel,
            recurrent_kernel=form.recurrent_kernel,
            bias=form.bias,
            activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            return_sequences=layer.return_sequences,
            go_backwards=layer.go_backwards,
            unroll=layer.unroll,
        )
    except NotImplementedError:
        return _declined(layer)


def _torch_native(layer, sequences, initial_state, mask, training):
    from keras_lstm_variants import _torch

    if mask is not None or not _torch.native_lstm_runs_here(
        sequences, on_cpu=TORCH_NATIVE_ON_CPU
    ):
        return _declined(layer)
    operands = _operands(
        layer, sequences, training,
        takes=lambda form: form.peepholes is None
        and form.cell_clip is None
        and form.projection_clip is None,
    )
    if operands is None:
        return _declined(layer)
    form, sequences = operands
    return _torch.native_lstm(
        sequences, initial_state[0], initial_state[1], form,
        layer.go_backwards, training,
    )


def _operands(layer, sequences, training, takes):
    """`(form, sequences)` for a route that `takes` the cell's standard
    form: the form, and the sequence with the input dropout mask applied;
    None where the cell has no form, the route does not take it, or the
    dropout mask is one per gate."""
    form = layer.cell.standard_lstm_form()
    if form is None or not takes(form):
        return None
    sequences = _with_input_dropout(layer.cell, sequences, training)
    return None if sequences is None else (form, sequences)


def _with_input_dropout(cell, sequences, training):
    """The sequence with the input dropout mask applied, or None where the
    mask is one per gate (no fused kernel takes that)."""
    if not (training and 0.0 < cell.dropout < 1.0):
        return sequences
    dp_mask = cell.get_dropout_mask(sequences[:, 0, :])
    if isinstance(dp_mask, (list, tuple)):
        return None
    return sequences * ops.expand_dims(dp_mask, axis=1)


def _declined(layer):
    if layer.use_cudnn is True:
        raise ValueError(
            "use_cudnn=True, but the backend's fused kernel cannot run this "
            "configuration here (it needs a GPU, a standard LSTM form without "
            "peepholes, projection or clips, tanh/sigmoid, use_bias, no "
            "recurrent dropout, no unroll and a right-padded mask). Pass "
            "use_cudnn='auto' to fall back to the loop."
        )
    return None
