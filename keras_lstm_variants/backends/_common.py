"""What the backend modules share: the exception a fused kernel declines
with, and Keras's own backend `lstm` and `gru` (the kernels
`keras.layers.LSTM` and `GRU` take: cuDNN on TensorFlow and JAX, OpenVINO's
sequence ops)."""

from keras_lstm_variants._keras_internal import backend_gru
from keras_lstm_variants._keras_internal import backend_lstm


class Declined(Exception):
    """A backend's fused kernel cannot run a layer here; the message says
    why (the layer's `use_cudnn=True` error quotes it)."""


def refuse_parts(form, parts, kernel):
    """Declines a standard LSTM form that has any of `parts` (names of
    `StandardLSTMForm` fields) that `kernel` (its name) lacks."""
    for part in parts:
        if getattr(form, part) is not None:
            raise Declined(
                f"its standard LSTM form has {part}, which {kernel} lacks"
            )


def keras_lstm(sequences, h_0, c_0, mask, form, return_sequences, refused):
    """`(last_output, outputs, [h, c])` from Keras's backend `lstm`, called
    as `keras.layers.LSTM` calls it; `refused`: the reason to decline with
    where that `lstm` refuses the call (`NotImplementedError`)."""
    return _keras_op(
        backend_lstm, refused, sequences, h_0, c_0, mask, form,
        return_sequences,
    )


def keras_gru(sequences, h_0, mask, form, return_sequences, refused):
    """`(last_output, outputs, [h])` from Keras's backend `gru`, called as
    `keras.layers.GRU` calls it (the `reset_after=True` form); `refused`:
    the reason to decline with where that `gru` refuses the call."""
    return _keras_op(
        backend_gru, refused, sequences, h_0, mask, form, return_sequences,
        reset_after=True,
    )


def _keras_op(op, refused, *states_and_mask, **reset):
    """`op(sequences, *states, mask, ...)` with the form's operands and the
    standard activations, as Keras's layers call their backend ops."""
    from keras import activations

    *leading, form, return_sequences = states_and_mask
    try:
        last_output, outputs, states = op(
            *leading,
            kernel=form.kernel,
            recurrent_kernel=form.recurrent_kernel,
            bias=form.bias,
            activation=activations.tanh,
            recurrent_activation=activations.sigmoid,
            return_sequences=return_sequences,
            go_backwards=False,
            unroll=False,
            **reset,
        )
    except NotImplementedError:
        raise Declined(refused) from None
    if not isinstance(states, (list, tuple)):
        states = [states]
    return last_output, outputs, list(states)
