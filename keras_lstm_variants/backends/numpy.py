"""NumPy (inference): Keras's loop, and no fused kernel."""

from keras_lstm_variants.backends._common import Declined


def loop_context():
    return "numpy"


def with_gradient(forward, backward):
    """None: NumPy runs inference only."""
    return None


def fused_lstm(sequences, h_0, c_0, mask, form, return_sequences, training):
    raise Declined("Keras's NumPy backend has no fused LSTM kernel")


def fused_gru(sequences, h_0, mask, form, return_sequences, training):
    raise Declined("Keras's NumPy backend has no fused GRU kernel")
