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
