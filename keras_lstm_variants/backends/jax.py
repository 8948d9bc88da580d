"""JAX: every loop is XLA's, custom gradients by `jax.custom_vjp`, cuDNN's
LSTM through Keras's backend `lstm` (on an NVIDIA GPU), and Keras's backend
`gru` (one `lax.scan` with $xW$ computed for every step first, on any
device), as `keras.layers.LSTM` and `GRU` take them.

`with_gradient` serves `LayerNormLSTMCell`'s normalisations, whose
closed-form gradient needs about half the reductions and elementwise passes
of autodiff: XLA's CPU backend runs each as a separate loop, and inside a
recurrence they cost more than the h U matmul (benchmarks/RESULTS.md).
"""

import jax

from keras_lstm_variants.backends import _cudnn
from keras_lstm_variants.backends._common import keras_gru


def loop_context():
    return "xla"


def with_gradient(forward, backward):
    """`forward(x) -> (y, *residuals)` as a function `x -> y` whose gradient
    is `backward(g, *residuals)`; the forward pass is `forward`'s, unchanged.
    """

    @jax.custom_vjp
    def function(x):
        return forward(x)[0]

    def function_forward(x):
        outputs = forward(x)
        return outputs[0], outputs

    def function_backward(outputs, g):
        return (backward(g, *outputs),)

    function.defvjp(function_forward, function_backward)
    return function


def fused_lstm(sequences, h_0, c_0, mask, form, return_sequences, training):
    return _cudnn.lstm(
        sequences, h_0, c_0, mask, form, return_sequences,
        mask_refused="JAX's cuDNN kernel takes no mask",
    )


def fused_gru(sequences, h_0, mask, form, return_sequences, training):
    return keras_gru(
        sequences, h_0, mask, form, return_sequences,
        refused="Keras's JAX GRU op takes no mask",
    )
