r"""The base of the minimal RNNs (Feng et al. 2024) and their two routes.

A minimal RNN's gates read only the input, never $h_{t-1}$, so its state
follows a linear recurrence $h_t = a_t \odot h_{t-1} + b_t$ whose
coefficients $a_t \in (0, 1)$, $b_t > 0$ are known for every step before
the recurrence runs. `MinRNNCellBase` holds what the cells share (one
kernel, dropout on the input, the config) and runs one step of it, as any
Keras cell (the cell base, `_cell.RNNCellBase`, with this recipe);
`MinRNNLayerBase` (the layer base with the scan as its whole-sequence
route) runs a whole sequence either by that step in Keras's loop ("step")
or as one parallel scan over time in log space ("scan"), whichever
`SCAN_FROM_STEPS` says is faster for the sequence length, device and
backend. A cell is a subclass that names its gates and writes its
coefficients twice: `coefficients` (linear, for the step) and
`log_coefficients` (for the scan).

The state is `h` alone: these cells have no carry `c` and no recurrent
kernel.
"""

from keras import ops

from keras_lstm_variants._arguments import VariantDefinitionError
from keras_lstm_variants._cell import INPUT_ONLY
from keras_lstm_variants._cell import NO_PROJECTION
from keras_lstm_variants._cell import RNNCellBase
from keras_lstm_variants._layer import RNNLayerBase
from keras_lstm_variants._numerics import LOG_ZERO
from keras_lstm_variants._numerics import masked_outputs
from keras_lstm_variants._numerics import wide_dtype
from keras_lstm_variants._tuning import SCAN_FROM_STEPS
from keras_lstm_variants.backends import Declined

# Arguments of keras.layers.LSTM/GRU (and of this package's LSTM cells) that
# a minimal RNN has no use for, with the reason the error gives.
_REFUSED = {
    **INPUT_ONLY,
    **NO_PROJECTION,
    "activation": "the candidate's activation is g(x), fixed: the scan in "
    "log space needs a positive candidate",
    "recurrent_activation": "the gates are sigmoids, fixed: the scan "
    "computes them in log space",
    "unit_forget_bias": "MinLSTM's forget-gate bias is `forget_bias` (a "
    "number); MinGRU has no forget gate",
    "use_cudnn": "cuDNN has no minimal RNN kernel",
    "projection_units": "the output is the state h (put a Dense after the "
    "layer, as the paper's block does)",
    "cell_clip": "there is no carry to clip",
    "cell_zoneout": "there is no carry",
    "output_zoneout": "zoneout would make the recurrence non-linear in its "
    "inputs, which the scan cannot run",
}


def g(x):
    r"""$g(x) = x + 1/2$ for $x \ge 0$, $\sigma(x)$ otherwise: positive and
    continuous, the paper's activation of the candidate state."""
    return ops.where(x >= 0, ops.relu(x) + 0.5, ops.sigmoid(x))


def log_g(x):
    r"""$\log g(x)$, computed without forming $g(x)$: $\log(x + 1/2)$ for
    $x \ge 0$, $-\mathrm{softplus}(-x) = \log \sigma(x)$ otherwise."""
    return ops.where(x >= 0, ops.log(ops.relu(x) + 0.5), -ops.softplus(-x))


def _combine(earlier, later):
    """Two consecutive segments of h_t = a_t h_{t-1} + b_t as one, in log
    space: a = a1 a2, b = a2 b1 + b2."""
    log_a1, log_b1 = earlier
    log_a2, log_b2 = later
    return log_a1 + log_a2, ops.logaddexp(log_a2 + log_b1, log_b2)


def log_space_scan(log_a, log_b, h0, axis=1):
    r"""Every $h_t$ of $h_t = a_t h_{t-1} + b_t$ from $h_0$, by a parallel
    scan over `axis` in log space.

    The scan composes the affine maps $h \mapsto a_t h + b_t$ pairwise
    (`keras.ops.associative_scan`), each as $(\log a, \log b)$ with a
    log-add-exp, so that $\log A_t = \sum_{s \le t} \log a_s$ and
    $\log B_t = \log \sum_{s \le t} b_s \prod_{s < r \le t} a_r$ come out
    without a division or a difference of large numbers. The initial state
    enters linearly, $h_t = A_t h_0 + B_t$, so it may be zero (the default)
    or negative (a user's `initial_state`).
    """
    log_a_total, log_b_total = ops.associative_scan(
        _combine, (log_a, log_b), axis=axis
    )
    h = ops.exp(log_a_total) * ops.expand_dims(h0, axis) + ops.exp(log_b_total)
    # TensorFlow's associative_scan loses the static shape (Keras 3.15).
    return ops.reshape(h, ops.shape(log_a))




class MinRNNCellBase(RNNCellBase):
    r"""The base of `MinLSTMCell` and `MinGRUCell`: one linear recurrence.

    A subclass sets `gates` (the names of the blocks of `kernel` and `bias`,
    in order) and writes, from the pre-activations `z` (a dict by gate name,
    each `(batch, units)` or `(batch, time, units)`), the coefficients of
    $h_t = a_t \odot h_{t-1} + b_t$ twice: `coefficients(z)` returns
    `(a, b)` for the step, `log_coefficients(z)` returns `(log a, log b)`
    for the scan. Both are always computed in float32 or wider.
    """

    gates = None
    refused_arguments = _REFUSED

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        self.state_size = self.units
        self.output_size = self.units

    @classmethod
    def check_definition(cls):
        if not cls.gates:
            raise VariantDefinitionError(
                f"{cls.__name__} must set `gates`, the names of its kernel "
                "blocks."
            )

    def build(self, input_shape):
        super().build(input_shape)
        width = len(self.gates) * self.units
        self.kernel = self.add_kernel(input_shape[-1], width)
        self.bias = self.add_bias(width, self.initial_bias) if (
            self.use_bias
        ) else None

    def initial_bias(self, shape, dtype=None):
        """`bias_initializer`'s values; a cell adds its gates' offsets."""
        return self.bias_initializer(shape, dtype=dtype)

    def preactivations(self, x):
        """`x W + b`, split into a dict of one block per gate, in float32
        (or the variable dtype, if wider) whatever the compute dtype."""
        z = ops.matmul(x, self.kernel)
        if self.use_bias:
            z = z + self.bias
        z = ops.cast(z, wide_dtype(self.variable_dtype))
        blocks = ops.split(z, len(self.gates), axis=-1)
        return dict(zip(self.gates, blocks, strict=True))

    def coefficients(self, z):
        """`(a, b)` of h_t = a h_{t-1} + b from the pre-activations `z`."""
        raise NotImplementedError

    def log_coefficients(self, z):
        """`(log a, log b)`, computed in log space from `z`."""
        raise NotImplementedError

    def step(self, inputs, states, training=False):
        (h_tm1,) = states
        a, b = self.coefficients(
            self.preactivations(self.dropped(inputs, training))
        )
        h = ops.cast(a * ops.cast(h_tm1, a.dtype) + b, self.compute_dtype)
        return h, [h]


class MinRNNLayerBase(RNNLayerBase):
    """The base of `MinLSTM` and `MinGRU`: the layer base, with a parallel
    scan (`mode="scan"`) beside Keras's loop.

    A layer is a subclass that sets `cell_class`; it takes the cell's
    arguments flat, as `keras.layers.GRU` does, exposes them as read-only
    properties and serialises them in a flat config.
    """

    cell_class = MinRNNCellBase
    whole_sequence_mode = "scan"
    whole_sequence_description = "the parallel scan"
    whole_sequence_from_steps = SCAN_FROM_STEPS

    def whole_sequence(self, sequences, initial_state, mask, training):
        """The whole sequence at once: x W for every step in one matmul, the
        coefficients in log space, then `log_space_scan`; a masked step
        keeps h (a = 1, b = 0)."""
        cell = self.cell
        if sequences.shape[1] is None:
            raise Declined(
                "the scan needs the number of steps known when it is traced "
                "(TensorFlow's associative scan does). Received: "
                f"inputs.shape={tuple(sequences.shape)}; give the input a "
                "fixed length"
            )
        z = cell.preactivations(cell.dropped(sequences, training))
        log_a, log_b = cell.log_coefficients(z)
        if mask is not None:
            step_on = ops.expand_dims(ops.cast(mask, "bool"), -1)
            log_a = ops.where(step_on, log_a, ops.zeros_like(log_a))
            log_b = ops.where(step_on, log_b, ops.full_like(log_b, LOG_ZERO))
        h0 = ops.cast(initial_state[0], log_a.dtype)
        h = ops.cast(log_space_scan(log_a, log_b, h0), cell.compute_dtype)
        last_output, outputs = h[:, -1], h
        if mask is not None:
            last_output, outputs = masked_outputs(
                mask, last_output, outputs, self.return_sequences,
                self.zero_output_for_mask, time_axis=1,
            )
        return last_output, outputs, [h[:, -1]]
