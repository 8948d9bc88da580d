"""cuDNN's LSTM kernel as TensorFlow and JAX reach it: Keras's backend
`lstm`, under `keras.layers.LSTM`'s conditions (`cudnn_ok`: a visible
NVIDIA GPU, tanh and sigmoid, a bias), for a form without peepholes,
projection or clips."""

import keras
from keras import activations

from keras_lstm_variants._keras_internal import cudnn_ok
from keras_lstm_variants.backends._common import Declined
from keras_lstm_variants.backends._common import keras_lstm
from keras_lstm_variants.backends._common import refuse_parts


def lstm(sequences, h_0, c_0, mask, form, return_sequences, mask_refused):
    """The fused kernel's outputs, or `Declined` naming the first condition
    of `keras.layers.LSTM`'s that fails (the bias, then the device, then the
    form's parts, then the mask: `mask_refused`)."""
    use_bias = form.bias is not None
    if not cudnn_ok(activations.tanh, activations.sigmoid, False, use_bias):
        if not use_bias:
            raise Declined("use_bias=False (cuDNN's kernel has a bias)")
        raise Declined(
            f"no GPU is visible to {keras.backend.backend()} (cuDNN runs on "
            "an NVIDIA GPU)"
        )
    refuse_parts(form, ("peepholes", "projection_kernel", "cell_clip"), "cuDNN")
    return keras_lstm(
        sequences, h_0, c_0, mask, form, return_sequences, mask_refused
    )
