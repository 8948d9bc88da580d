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
  included, without a mask;
- on OpenVINO (inference), its LSTM sequence op, through Keras's backend
  `lstm` as `keras.layers.LSTM` takes it (tanh/sigmoid, `use_bias`, no
  mask), for the forms cuDNN takes.

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
from keras_lstm_variants._tuning import TORCH_NATIVE_ON_CPU


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


class _Declined(Exception):
    """A route cannot run the layer here; the message says why."""


def fused_loop(layer, sequences, initial_state, mask, training):
    """`(last_output, outputs, states)` from a fused kernel, or None where
    no route runs `layer` here (the loop does). With `use_cudnn=True`, a
    configuration that the route cannot run raises, naming the condition
    that failed."""
    cell = layer.cell
    if layer.use_cudnn is False:
        return None
    try:
        if layer.unroll:
            raise _Declined("unroll=True (the kernel runs a whole sequence)")
        if training and 0.0 < cell.recurrent_dropout < 1.0:
            raise _Declined(
                f"recurrent_dropout={cell.recurrent_dropout} while training "
                "(no fused kernel drops from h)"
            )
        problem = cell.standard_lstm_form_problem()
        if problem is not None:
            raise _Declined(problem)
        if keras.backend.backend() == "torch":
            return _torch_native(
                layer, sequences, initial_state, mask, training
            )
        return _backend_kernel(
            layer, sequences, initial_state, mask, training
        )
    except _Declined as declined:
        if layer.use_cudnn is True:
            raise ValueError(
                "use_cudnn=True, but the backend's fused kernel cannot run "
                f"this layer here: {declined}. Pass use_cudnn='auto' to fall "
                "back to the loop."
            ) from None
        return None


def _cudnn_arguments_problem(layer):
    """Which of `keras.layers.LSTM`'s cuDNN conditions fails (`cudnn_ok`):
    an argument, else the device."""
    cell = layer.cell
    for name, value, wanted in (
        ("activation", cell.activation, "tanh"),
        ("recurrent_activation", cell.recurrent_activation, "sigmoid"),
    ):
        received = keras.activations.serialize(value)
        if received != wanted:
            return f"{name}={received!r} (cuDNN computes {wanted} only)"
    if not cell.use_bias:
        return "use_bias=False (cuDNN's kernel has a bias)"
    return (
        f"no GPU is visible to {keras.backend.backend()} (cuDNN runs on an "
        "NVIDIA GPU)"
    )


def _backend_kernel(layer, sequences, initial_state, mask, training):
    """Keras's backend `lstm`: cuDNN on TensorFlow and JAX where
    `cudnn_ok`; OpenVINO's LSTM sequence op, whose `cudnn_ok` is always
    False and whose `lstm` itself refuses what it does not take (as
    `keras.layers.LSTM` calls it)."""
    cell = layer.cell
    openvino = keras.backend.backend() == "openvino"
    if not openvino and not cudnn_ok(
        cell.activation, cell.recurrent_activation, layer.unroll, cell.use_bias
    ):
        raise _Declined(_cudnn_arguments_problem(layer))
    form, sequences = _operands(
        layer, sequences, training,
        refuses=lambda form: _present(
            form, ("peepholes", "projection_kernel", "cell_clip"),
            "OpenVINO's LSTM sequence op" if openvino else "cuDNN",
        ),
    )
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
        if openvino:
            raise _Declined(
                "OpenVINO's LSTM sequence op takes tanh and sigmoid, a bias "
                "and no mask"
            ) from None
        raise _Declined(
            "the backend's cuDNN kernel declined the mask (JAX's takes no "
            "mask, TensorFlow's only right-padded ones)"
        ) from None


def _torch_native(layer, sequences, initial_state, mask, training):
    from keras_lstm_variants import _torch

    if mask is not None:
        raise _Declined("PyTorch's native LSTM op takes no mask")
    if not _torch.native_lstm_runs_here(sequences, on_cpu=TORCH_NATIVE_ON_CPU):
        raise _Declined(
            "PyTorch's native LSTM op does not run here (on CPU where "
            "TORCH_NATIVE_ON_CPU is off, or while torch.jit traces)"
        )
    form, sequences = _operands(
        layer, sequences, training,
        refuses=lambda form: _present(
            form, ("peepholes", "cell_clip", "projection_clip"),
            "PyTorch's native LSTM op",
        ),
    )
    return _torch.native_lstm(
        sequences, initial_state[0], initial_state[1], form,
        layer.go_backwards, training,
    )


def _present(form, parts, route):
    """Why `route` cannot take `form`: the first of `parts` it has, or
    None."""
    for part in parts:
        if getattr(form, part) is not None:
            return f"its standard LSTM form has {part}, which {route} lacks"
    return None


def _operands(layer, sequences, training, refuses):
    """`(form, sequences)` for a route that does not refuse the cell's
    standard form (`refuses(form)`: a reason, or None): the form, and the
    sequence with the input dropout mask applied."""
    form = layer.cell.standard_lstm_form()
    if form is None:
        raise _Declined(f"{type(layer.cell).__name__} has no standard form")
    reason = refuses(form)
    if reason is not None:
        raise _Declined(reason)
    sequences = _with_input_dropout(layer.cell, sequences, training)
    if sequences is None:
        raise _Declined(
            "one input dropout mask per gate (implementation=1), which no "
            "fused kernel takes"
        )
    return form, sequences


def _with_input_dropout(cell, sequences, training):
    """The sequence with the input dropout mask applied, or None where the
    mask is one per gate (no fused kernel takes that)."""
    if not (training and 0.0 < cell.dropout < 1.0):
        return sequences
    dp_mask = cell.get_dropout_mask(sequences[:, 0, :])
    if isinstance(dp_mask, (list, tuple)):
        return None
    return sequences * ops.expand_dims(dp_mask, axis=1)
