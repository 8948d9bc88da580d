"""OpenVINO (inference): Keras's loop, and OpenVINO's LSTM and GRU sequence
ops as the fused kernels, reached as `keras.layers.LSTM` and `GRU` reach
them (Keras's backend `lstm` and `gru`), for an LSTM form without
peepholes, projection or clips."""

from keras_lstm_variants.backends._common import keras_gru
from keras_lstm_variants.backends._common import keras_lstm
from keras_lstm_variants.backends._common import refuse_parts


def loop_context():
    return "openvino"


def with_gradient(forward, backward):
    """None: OpenVINO runs inference only."""
    return None


def fused_lstm(sequences, h_0, c_0, mask, form, return_sequences, training):
    kernel = "OpenVINO's LSTM sequence op"
    refuse_parts(form, ("peepholes", "projection_kernel", "cell_clip"), kernel)
    return keras_lstm(
        sequences, h_0, c_0, mask, form, return_sequences,
        refused=f"{kernel} takes a bias and no mask",
    )


def fused_gru(sequences, h_0, mask, form, return_sequences, training):
    return keras_gru(
        sequences, h_0, mask, form, return_sequences,
        refused="OpenVINO's GRU sequence op takes a bias and no mask",
    )
