"""Numerical helpers shared by the cells: the precision a computation runs
in, the log-space quantities of the exponentially gated and minimal
recurrences, Keras's masking semantics, and layer normalisation with its
closed-form gradient (the layer-normalised LSTM's and GRU's)."""

from keras import ops

from keras_lstm_variants import backends

# The log of an exactly-zero coefficient (a masked step, a causal mask):
# exp() of it is exactly 0, and it stays finite, so that a log-add-exp or
# its gradient never meets inf - inf.
LOG_ZERO = -1e30


def wide_dtype(dtype):
    """float32 for a half-precision dtype, else `dtype` itself: statistics
    and log-space sums run in at least float32, and in float64 for a float64
    layer."""
    return "float32" if dtype in ("float16", "bfloat16") else dtype


def log_sigmoid(x):
    r"""$\log \sigma(x) = -\mathrm{softplus}(-x)$, finite for any finite x."""
    return -ops.softplus(-x)


def zoneout_mix(keep, previous, new):
    """`keep * previous + (1 - keep) * new`: exactly `previous` or `new` for
    a 0/1 draw (training), the expectation for a rate (inference)."""
    return keep * previous + (1.0 - keep) * new


def masked_outputs(
    mask, last_output, outputs, all_outputs, zero_for_mask, time_axis
):
    """Keras's masking semantics for outputs, the same on every backend and
    route: a masked step outputs zeros with `zero_output_for_mask`, else
    repeats the previous output, and zeros before a row's first unmasked
    step (the state there is still the initial one). `outputs` must already
    repeat the previous output at a masked step; `mask` and `outputs` have
    time on `time_axis` (0: time-major, 1: batch-major). The backends' loops
    differ at the edges (JAX's outputs the initial `h` before the first
    step, and its unrolled loop ignores `zero_output_for_mask`); this is a
    no-op where they already agree."""
    mask = ops.cast(mask, "bool")
    started = ops.cumsum(ops.cast(mask, "int32"), time_axis) > 0
    keep = mask if zero_for_mask else started
    if all_outputs:
        outputs = ops.where(keep[..., None], outputs, ops.zeros_like(outputs))
    last_kept = keep[-1] if time_axis == 0 else keep[:, -1]
    last_output = ops.where(
        last_kept[:, None], last_output, ops.zeros_like(last_output)
    )
    return last_output, outputs


def normalize(a, epsilon, centred=False):
    """`(a - mean) / sqrt(var + epsilon)` over the last axis, and the factor
    `1 / sqrt(var + epsilon)`.

    Two-pass statistics on data shifted by its first element: the same
    maths, but a (nearly) constant row stays exactly centred instead of
    amplifying rounding errors of the mean by `1 / sqrt(epsilon)`. With
    `centred`, `a` is already centred (a projection by a centred kernel)
    and only its scale is computed.
    """
    if not centred:
        shifted = a - a[..., :1]
        a = shifted - ops.mean(shifted, axis=-1, keepdims=True)
    variance = ops.mean(ops.square(a), axis=-1, keepdims=True)
    inv_std = ops.rsqrt(variance + epsilon)
    return a * inv_std, inv_std


def normalization_gradient(g, x_hat, inv_std, centred=False):
    """The closed form of `normalize`'s gradient, from its outputs:

        dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat)),

    without the `mean(g)` term if `centred` (`normalize` only scaled).
    Autodiff of the forward yields about twice these reductions and
    elementwise passes (benchmarks/RESULTS.md).
    """
    if not centred:
        g = g - ops.mean(g, axis=-1, keepdims=True)
    mean_gx = ops.mean(g * x_hat, axis=-1, keepdims=True)
    return inv_std * (g - x_hat * mean_gx)


def normalization(epsilon, fast, centred=False):
    """`normalize` as a function of one tensor: with the gradient
    `normalization_gradient` where the backend lets a function have its own
    (`fast`: JAX, TensorFlow), else autodiff of the same forward."""

    def forward(a):
        return normalize(a, epsilon, centred)

    def backward(g, x_hat, inv_std):
        return normalization_gradient(g, x_hat, inv_std, centred)

    function = backends.with_gradient(forward, backward) if fast else None
    return function or (lambda a: forward(a)[0])
