"""What the package knows of each Keras backend, in one package.

Every module here answers the same questions for its backend (the layers
ask them through the functions below, never by naming a backend):

- `loop_context()`: how a loop built now will run ("xla" for any loop XLA
  compiles, else the backend's name), for the measured loop strategies;
- `with_gradient(forward, backward)`: a function with a hand-written
  backward pass, or None where the backend has no way to give one;
- `fused_lstm(sequences, h_0, c_0, mask, form, return_sequences,
  training)` and `fused_gru(sequences, h_0, mask, form, return_sequences,
  training)`: a whole sequence of a standard LSTM or GRU form in the
  backend's fused kernel (cuDNN, PyTorch's native op, OpenVINO's sequence
  op), or `Declined` with the reason.

The modules import their backend, so this package imports one only when
asked about it: importing `keras_lstm_variants` imports no backend beyond
Keras's own. `on_accelerator` is the one question answered here for all.
"""

import importlib

import keras
from keras import ops

from keras_lstm_variants.backends._common import Declined

__all__ = [
    "Declined", "fused_gru", "fused_lstm", "loop_context", "on_accelerator",
    "with_gradient",
]


def _module():
    """The module of the backend Keras runs on."""
    return importlib.import_module(
        f"{__name__}.{keras.backend.backend()}"
    )


def loop_context():
    """How the loop being built now will run: "xla" (JAX, or TensorFlow
    under XLA), else the backend's name ("tensorflow" is its graph
    executor)."""
    return _module().loop_context()


def with_gradient(forward, backward):
    """`forward(x) -> (y, *residuals)` as a function `x -> y` whose
    gradient is `backward(g, *residuals)`, or None where the backend gives
    a function no gradient of its own."""
    return _module().with_gradient(forward, backward)


def fused_lstm(sequences, h_0, c_0, mask, form, return_sequences, training):
    """`(last_output, outputs, [h, c])` of `form` (a `StandardLSTMForm`)
    over `sequences` in the backend's fused kernel; raises `Declined`,
    naming the condition, where that kernel cannot run it here."""
    return _module().fused_lstm(
        sequences, h_0, c_0, mask, form, return_sequences, training
    )


def fused_gru(sequences, h_0, mask, form, return_sequences, training):
    """`(last_output, outputs, [h])` of `form` (a `StandardGRUForm`) over
    `sequences` in the backend's fused kernel, or `Declined`."""
    return _module().fused_gru(
        sequences, h_0, mask, form, return_sequences, training
    )


# The answer of `on_accelerator`, once asked (a list, not functools.cache:
# torch.compile traces a cached function's body again, probe included).
_ON_ACCELERATOR = []


def on_accelerator():
    """Whether Keras computes on a GPU or TPU here. The layer base asks when
    a layer is made, so that the answer is known before any trace."""
    if not _ON_ACCELERATOR:
        try:
            devices = keras.distribution.list_devices()
        except (AttributeError, NotImplementedError):
            # The torch backend has no distribution API; nor have the
            # inference backends, whose tensors may not say where they are
            # (OpenVINO's): they compute on the CPU here.
            devices = [str(getattr(ops.zeros(()), "device", "cpu"))]
        _ON_ACCELERATOR.append(
            any(not device.lower().startswith("cpu") for device in devices)
        )
    return _ON_ACCELERATOR[0]
