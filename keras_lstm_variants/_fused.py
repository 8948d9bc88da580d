"""The LSTM family's fused route: a whole sequence in one backend kernel.

A cell whose step is the standard LSTM op with some operands says so once,
in `LSTMCellBase.standard_lstm_form` (`LSTM`, `CoupledLSTM`, `PeepholeLSTM`
and any variant that declares `standard_lstm_gates`). Every fused route
reads that form, and none asks what class a cell is:

- cuDNN, through Keras's backend `lstm` (the kernel and the conditions of
  `keras.layers.LSTM`: a GPU, `use_bias`, no unroll; on JAX no mask, on
  TensorFlow a right-padded one) on TensorFlow and JAX, for forms without
  peepholes, projection or clips;
- on PyTorch, its native LSTM op (`torch.lstm`: cuDNN on a GPU,
  ATen's kernel on CPU), for forms without peepholes or clips, projection
  included, without a mask;
- on OpenVINO (inference), its LSTM sequence op, through Keras's backend
  `lstm` as `keras.layers.LSTM` takes it (tanh/sigmoid, `use_bias`, no
  mask), for the forms cuDNN takes.

Input dropout is applied to the sequence before the kernel (one mask for
all gates, as `keras.layers.LSTM` does); recurrent dropout, one input mask
per gate (`implementation=1`) and `unroll` leave the sequence to the loop.
`fused_sequence` is the LSTM layers' `whole_sequence`: it checks what the
form and the call allow, and each backend's module (`backends/`) what its
kernel takes; a route that cannot run raises `backends.Declined`, and the
layer base then runs the loop (or, with `use_cudnn=True`, raises).
"""

import random

from keras import ops

from keras_lstm_variants import backends
from keras_lstm_variants._keras_internal import cudnn_ok
from keras_lstm_variants.backends import Declined


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
        return None  # the call decides (`fused_sequence` declines there)
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


def fused_sequence(layer, sequences, initial_state, mask, training):
    """`(last_output, outputs, states)` of the layer's standard LSTM form in
    the backend's fused kernel, or `Declined` naming the condition that
    fails: the call's, the form's, then the kernel's (`backends`)."""
    cell = layer.cell
    if training and 0.0 < cell.recurrent_dropout < 1.0:
        raise Declined(
            f"recurrent_dropout={cell.recurrent_dropout} while training "
            "(no fused kernel drops from h)"
        )
    problem = cell.standard_lstm_form_problem()
    if problem is not None:
        raise Declined(problem)
    form = cell.standard_lstm_form()
    if form is None:
        raise Declined(f"{type(cell).__name__} has no standard form here")
    if training and 0.0 < cell.dropout < 1.0:
        dropout_mask = cell.get_dropout_mask(sequences[:, 0, :])
        if isinstance(dropout_mask, (list, tuple)):
            raise Declined(
                "one input dropout mask per gate (implementation=1), which "
                "no fused kernel takes"
            )
        sequences = sequences * ops.expand_dims(dropout_mask, axis=1)
    return backends.fused_lstm(
        sequences, initial_state[0], initial_state[1], mask, form,
        layer.return_sequences, training,
    )
