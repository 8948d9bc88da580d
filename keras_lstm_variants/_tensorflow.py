"""TensorFlow-only knowledge and fast paths of the layers, in one module.

`in_xla_context`: the portable loop (`_base.LSTMLayerBase._sequence_loop`)
is the same on every backend; on TensorFlow it only needs to know whether
XLA compiles it (`model.compile(jit_compile=True)` or an enclosing
`tf.function(jit_compile=True)`), because the fastest way to compute the
gate pre-activations differs: one fused matmul per step under XLA, two
matmuls in TensorFlow's graph executor (benchmarks/RESULTS.md).

`tf.function` marks the graphs it traces for XLA with a control-flow
context, which TensorFlow's public API does not expose;
``tests/test_package.py`` fails if TensorFlow moves it. Without it the
answer is "no XLA", which is only slower, never wrong.

`with_normalization_gradient`: a layer normalisation with a hand-written
gradient, as `_jax.with_normalization_vjp` (see there); the forward pass is
the portable one, unchanged.
"""


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


def with_normalization_gradient(forward, centred=False):
    """`forward(x) -> (x_hat, inv_std)`, as a function `x -> x_hat` whose
    gradient is the closed form of a normalisation over the last axis:

        dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat)),

    without the `mean(g)` term if `centred` (`forward` only scales `x`).
    """
    import tensorflow as tf

    @tf.custom_gradient
    def normalize(x):
        x_hat, inv_std = forward(x)

        def gradient(g):
            if not centred:
                g = g - tf.reduce_mean(g, axis=-1, keepdims=True)
            mean_gx = tf.reduce_mean(g * x_hat, axis=-1, keepdims=True)
            return inv_std * (g - x_hat * mean_gx)

        return x_hat, gradient

    return normalize
