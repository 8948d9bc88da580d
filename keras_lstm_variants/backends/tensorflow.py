"""TensorFlow: its graph executor or XLA, custom gradients by
`tf.custom_gradient`, and cuDNN's LSTM through Keras's backend `lstm`.

`loop_context`: the portable loop is the same on every backend; on
TensorFlow it only needs to know whether XLA compiles it
(`model.compile(jit_compile=True)` or an enclosing
`tf.function(jit_compile=True)`), because the fastest way to compute the
gate pre-activations differs (`_tuning.LOOP_STRATEGY`). `tf.function` marks
the graphs it traces for XLA with a control-flow context, which
TensorFlow's public API does not expose; ``tests/test_package.py`` fails if
TensorFlow moves it. Without it the answer is "no XLA", which is only
slower, never wrong.
"""

from keras_lstm_variants.backends import _cudnn


def loop_context():
    return "xla" if in_xla_context() else "tensorflow"


def in_xla_context():
    """Whether the graph being traced now is compiled by XLA."""
    try:
        from tensorflow.python.framework import ops
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - TensorFlow moved them
        return False
    return bool(
        control_flow_util.GraphOrParentsInXlaContext(ops.get_default_graph())
    )


def with_gradient(forward, backward):
    """`forward(x) -> (y, *residuals)` as a function `x -> y` whose gradient
    is `backward(g, *residuals)`, as `backends.jax.with_gradient`; the
    forward pass is `forward`'s, unchanged.
    """
    import tensorflow as tf

    @tf.custom_gradient
    def function(x):
        outputs = forward(x)
        return outputs[0], lambda g: backward(g, *outputs)

    return function


def fused_lstm(sequences, h_0, c_0, mask, form, return_sequences, training):
    return _cudnn.lstm(
        sequences, h_0, c_0, mask, form, return_sequences,
        mask_refused="TensorFlow's cuDNN kernel takes only right-padded "
        "masks",
    )


def fused_gru(sequences, h_0, mask, form, return_sequences, training):
    return _cudnn.gru(
        sequences, h_0, mask, form, return_sequences,
        mask_refused="TensorFlow's cuDNN kernel takes only right-padded "
        "masks",
    )
