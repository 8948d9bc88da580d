"""JAX-only fast paths of the layers, in one module.

`with_normalization_vjp` gives a layer normalisation a hand-written
backward pass. Autodiff of the normalisation's forward (shift, centre,
variance, scale) produces about twice the reductions and elementwise passes
that the closed form below needs; XLA's CPU backend runs each of them as a
separate loop, and inside a recurrence they cost more than the h U matmul
(benchmarks/RESULTS.md). The forward pass is the portable one, unchanged.
"""

import jax
import jax.numpy as jnp


def with_normalization_vjp(forward, centred=False):
    """`forward(x) -> (x_hat, inv_std)`, as a function `x -> x_hat` whose
    gradient is the closed form of a normalisation over the last axis:

        dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat)),

    without the `mean(g)` term if `centred` (`forward` only scales `x`).
    """

    @jax.custom_vjp
    def normalize(x):
        return forward(x)[0]

    def normalize_forward(x):
        x_hat, inv_std = forward(x)
        return x_hat, (x_hat, inv_std)

    def normalize_backward(residuals, g):
        x_hat, inv_std = residuals
        if not centred:
            g = g - jnp.mean(g, axis=-1, keepdims=True)
        mean_gx = jnp.mean(g * x_hat, axis=-1, keepdims=True)
        return (inv_std * (g - x_hat * mean_gx),)

    normalize.defvjp(normalize_forward, normalize_backward)
    return normalize
