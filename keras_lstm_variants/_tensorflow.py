"""TensorFlow-only knowledge and fast paths of the layers, in one module.

`in_xla_context`: the portable loop (`_layer.LSTMLayerBase._sequence_loop`)
is the same on every backend; on TensorFlow it only needs to know whether
XLA compiles it (`model.compile(jit_compile=True)` or an enclosing
`tf.function(jit_compile=True)`), because the fastest way to compute the
gate pre-activations differs: one fused matmul per step under XLA, two
matmuls in TensorFlow's graph executor (benchmarks/RESULTS.md).

`tf.function` marks the graphs it traces for XLA with a control-flow
context, which TensorFlow's public API does not expose;
``tests/test_package.py`` fails if TensorFlow moves it. Without it the
answer is "no XLA", which is only slower, never wrong.

`with_gradient`: a function with a hand-written backward pass, as
`_jax.with_gradient` (see there), through `tf.custom_gradient`.
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


def with_gradient(forward, backward):
    """`forward(x) -> (y, *residuals)` as a function `x -> y` whose gradient
    is `backward(g, *residuals)`, as `_jax.with_gradient`; the forward pass
    is `forward`'s, unchanged.
    """
    import tensorflow as tf

    @tf.custom_gradient
    def function(x):
        outputs = forward(x)
        return outputs[0], lambda g: backward(g, *outputs)

    return function
