"""JAX-only fast paths of the layers, in one module.

`with_gradient` gives a function a hand-written backward pass through
`jax.custom_vjp`; `LayerNormLSTMCell` uses it for its normalisations, whose
closed-form gradient (`layer_norm_lstm._normalization_gradient`) needs about
half the reductions and elementwise passes of autodiff. XLA's CPU backend
runs each of those as a separate loop, and inside a recurrence they cost
more than the h U matmul (benchmarks/RESULTS.md).
"""

import jax


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
