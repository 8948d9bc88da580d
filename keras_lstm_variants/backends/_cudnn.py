"""cuDNN's LSTM and GRU kernels as TensorFlow and JAX reach them: Keras's
backend `lstm` and `gru`, under `keras.layers.LSTM`'s and `GRU`'s
conditions (`cudnn_ok`: a visible NVIDIA GPU, tanh and sigmoid, a bias), for
an LSTM form without peepholes, projection or clips."""

import keras
from keras import activations

from keras_lstm_variants._keras_internal import cudnn_ok
from keras_lstm_variants.backends._common import Declined
from keras_lstm_variants.backends._common import keras_gru
from keras_lstm_variants.backends._common import keras_lstm
from keras_lstm_variants.backends._common import refuse_parts


def lstm(sequences, h_0, c_0, mask, form, return_sequences, mask_refused):
    """The fused kernel's outputs, or `Declined` naming the first condition
    of `keras.layers.LSTM`'s that fails (the bias, then the device, then the
    form's parts, then the mask: `mask_refused`)."""
    _check_device(form, reset_after=None)
    refuse_parts(form, ("peepholes", "projection_kernel", "cell_clip"), "cuDNN")
    return keras_lstm(
        sequences, h_0, c_0, mask, form, return_sequences, mask_refused
    )


def gru(sequences, h_0, mask, form, return_sequences, mask_refused):
    """As `lstm`, for the standard GRU form (`reset_after=True`), on
    TensorFlow."""
    _check_device(form, reset_after=True)
    return keras_gru(
        sequences, h_0, mask, form, return_sequences, mask_refused
    )


def _check_device(form, reset_after):
    use_bias = form.bias is not None
    # JAX's `cudnn_ok` has no `reset_after` (its GRU needs no cuDNN).
    gru = {} if reset_after is None else {"reset_after": reset_after}
    if not cudnn_ok(
        activations.tanh, activations.sigmoid, False, use_bias, **gru
    ):
        if not use_bias:
            raise Declined("use_bias=False (cuDNN's kernel has a bias)")
        raise Declined(
            f"no GPU is visible to {keras.backend.backend()} (cuDNN runs on "
            "an NVIDIA GPU)"
        )
