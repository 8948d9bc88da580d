"""The only module of this package that imports Keras-internal names.

Keras 3 does not export these, but every built-in recurrent layer relies on
them. Keeping them here means a Keras release that moves one breaks exactly
one import, and ``tests/test_package.py``
(``test_keras_internal_names_still_exist``) says which.

- ``DropoutRNNCell``: the mixin whose masks ``keras.layers.RNN`` creates
  before the sequence loop, which keeps JAX's ``lax.scan`` stateless.
- ``backend_rnn``: the backend's loop over time (``lax.scan``,
  ``tf.while_loop``, a Python loop on torch) with Keras's masking semantics.
- ``backend_lstm`` / ``backend_gru`` / ``cudnn_ok``: the backend's fused LSTM
  and GRU kernels (cuDNN on GPU, OpenVINO's sequence ops) and their
  applicability check, the ones ``keras.layers.LSTM`` and ``GRU`` use.
- ``flatten_layers``: every layer inside a model, nested ones (the two
  copies inside ``Bidirectional``) included.
"""

from keras.src.backend import cudnn_ok
from keras.src.backend import gru as backend_gru
from keras.src.backend import lstm as backend_lstm
from keras.src.backend import rnn as backend_rnn
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell


def flatten_layers(model):
    """Every layer of `model`, itself and nested ones included."""
    return list(model._flatten_layers(include_self=True, recursive=True))


__all__ = [
    "DropoutRNNCell",
    "backend_gru",
    "backend_lstm",
    "backend_rnn",
    "cudnn_ok",
    "flatten_layers",
]
