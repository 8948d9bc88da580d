"""Numerical helpers shared by the cells: the precision a computation runs
in, and the log-space quantities of the exponentially gated and minimal
recurrences."""

from keras import ops

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
