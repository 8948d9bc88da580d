"""The minimal LSTM, minLSTM (Feng et al. 2024): an LSTM trainable in
parallel."""

import numbers

from keras import ops

from keras_lstm_variants._arguments import check_bool
from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._min_rnn import MinRNNCellBase
from keras_lstm_variants._min_rnn import MinRNNLayerBase
from keras_lstm_variants._min_rnn import g
from keras_lstm_variants._min_rnn import log_g
from keras_lstm_variants._numerics import log_sigmoid


@serializable
class MinLSTMCell(MinRNNCellBase):
    r"""Cell of the minimal LSTM (minLSTM): gates that read only the input.

    The LSTM, except that the gates and the candidate see only $x_t$ (no
    $h_{t-1}$, no recurrent kernel), there is no output gate and no carry
    apart from $h$, the candidate's activation is $g$ (positive), and the
    forget and input gates are normalised to sum to one:

    $$
    \begin{aligned}
    [z_h, z_f, z_i] &= x_t W + b \\
    f_t &= \sigma(z_f), \qquad i_t = \sigma(z_i), \qquad
        \tilde h_t = g(z_h) \\
    f'_t &= \frac{f_t}{f_t + i_t}, \qquad i'_t = \frac{i_t}{f_t + i_t} \\
    h_t &= f'_t \odot h_{t-1} + i'_t \odot \tilde h_t
    \end{aligned}
    $$

    with $g(x) = x + \tfrac12$ for $x \ge 0$ and $\sigma(x)$ otherwise.
    With `normalize_gates=False`, $f'_t = f_t$ and $i'_t = i_t$. The
    recurrence is linear in $h$, $h_t = a_t \odot h_{t-1} + b_t$, with
    coefficients known from the inputs: `MinLSTM` runs a whole sequence as
    one parallel scan over time in log space, where the normalised gates
    are $\log f'_t = -\mathrm{softplus}(d_t)$, $\log i'_t =
    -\mathrm{softplus}(-d_t)$, $d_t = \mathrm{softplus}(-z_f) -
    \mathrm{softplus}(-z_i)$ (the official code's form). This cell is one
    step of it, for `keras.layers.RNN` and for streaming; it computes
    $f'_t = \sigma(-d_t)$, $i'_t = \sigma(d_t)$, equal to the quotients and
    finite where both sigmoids underflow (the official sequential mode
    divides, and gives NaN there).

    Weights, in `get_weights()` order: `kernel` $(D, 3U)$ and `bias`
    $(3U,)$ if `use_bias`, blocks in the order $h, f, i$ (the official
    code's `to_hidden_and_gate`); `forget_bias` is added to the initial $f$
    block of `bias`.

    Differences from the official code (BorealisAI/minRNNs): no
    `expansion_factor` and no output projection `to_out` (they belong to
    the paper's block: put a `Dense` after the layer); no learned initial
    state (pass `initial_state`); Keras's initializers (Glorot kernel, zero
    bias, then `forget_bias`) rather than PyTorch's `Linear` defaults. The
    normalisation is on by default, as in the paper's equations; the
    official configuration files turn it off (`use_coeff_norm: False`).

    Args:
        units: Positive integer, dimensionality of the state and output.
        normalize_gates: Whether $f$ and $i$ are divided by their sum, which
            keeps the scale of $h$ independent of time. Defaults to `True`.
        forget_bias: Number added to the forget gate's initial bias (the
            official code's `forget_bias_init_scale`, 3 in its default
            configuration). Defaults to `3.0`.
        **kwargs: Every argument of `MinGRUCell`, with the same meaning
            (`use_bias`, `kernel_initializer`, `bias_initializer` (before
            `forget_bias`), `kernel_regularizer`, `bias_regularizer`,
            `kernel_constraint`, `bias_constraint`, `dropout`, `seed`), and
            the base layer arguments. Arguments of `keras.layers.LSTMCell`
            with no meaning here (`recurrent_dropout`,
            `recurrent_initializer`, `activation`, `unit_forget_bias`, ...)
            raise a `ValueError` that names them.

    Call arguments:
        - `inputs`: Tensor of shape `(batch, features)`.
        - `states`: List `[h]`, of shape `(batch, units)`.
        - `training`: Whether dropout is applied.

    Examples:
        >>> import numpy as np, keras
        >>> from keras_lstm_variants import MinLSTMCell
        >>> cell = MinLSTMCell(4)
        >>> tuple(keras.layers.RNN(cell)(np.ones((2, 10, 8), "float32")).shape)
        (2, 4)
        >>> [tuple(w.shape) for w in cell.weights]
        [(8, 12), (12,)]

    References:
        - Feng, Tung, Ahmed, Bengio & Hajimirsadeghi, "Were RNNs All We
          Needed?", arXiv:2410.01201, 2024.
    """

    gates = ("h", "f", "i")

    def __init__(self, units, normalize_gates=True, forget_bias=3.0, **kwargs):
        if isinstance(forget_bias, bool) or not isinstance(
            forget_bias, numbers.Real
        ):
            raise ValueError(
                "Argument `forget_bias` must be a number. "
                f"Received: forget_bias={forget_bias!r}."
            )
        super().__init__(units, **kwargs)
        self.normalize_gates = check_bool("normalize_gates", normalize_gates)
        self.forget_bias = float(forget_bias)

    def initial_bias(self, shape, dtype=None):
        bias = super().initial_bias(shape, dtype=dtype)
        offset = ops.concatenate([
            ops.zeros((self.units,), dtype=bias.dtype),
            ops.full((self.units,), self.forget_bias, dtype=bias.dtype),
            ops.zeros((self.units,), dtype=bias.dtype),
        ])
        return bias + offset

    def coefficients(self, z):
        if self.normalize_gates:
            # f / (f + i) = sigmoid(log f - log i): finite even where both
            # sigmoids underflow to 0 (pre-activations below about -88).
            d = self._log_gate_ratio(z)
            return ops.sigmoid(-d), ops.sigmoid(d) * g(z["h"])
        return ops.sigmoid(z["f"]), ops.sigmoid(z["i"]) * g(z["h"])

    def log_coefficients(self, z):
        if self.normalize_gates:
            d = self._log_gate_ratio(z)
            log_f, log_i = log_sigmoid(-d), log_sigmoid(d)
        else:
            log_f, log_i = log_sigmoid(z["f"]), log_sigmoid(z["i"])
        return log_f, log_i + log_g(z["h"])

    def _log_gate_ratio(self, z):
        """d = log i - log f = softplus(-z_f) - softplus(-z_i)."""
        return ops.softplus(-z["f"]) - ops.softplus(-z["i"])


@serializable
class MinLSTM(MinRNNLayerBase):
    r"""Minimal LSTM layer (minLSTM), trained with a parallel scan over time.

    A `keras.layers.RNN` over `MinLSTMCell` that runs a sequence either as
    one parallel scan in log space (`mode="scan"`, about $\log_2 T$ rounds
    of elementwise work instead of $T$ dependent steps) or step by step in
    Keras's loop (`mode="step"`); both compute the same outputs.
    `mode="auto"` picks the one measured faster for the sequence length on
    the backend and device: on CPU the scan on PyTorch from 64 steps and the
    step loop on JAX and TensorFlow, on a GPU the scan from 64 steps (the
    "Minimal RNNs" page has the measurements).

    Args:
        units: Positive integer, dimensionality of the state and output.
        mode: `"auto"`, `"scan"` or `"step"`. Defaults to `"auto"`.
        **kwargs: Every argument of `MinLSTMCell`, and of `keras.layers.RNN`:
            `return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll` (the step loop only), `zero_output_for_mask`,
            `activity_regularizer`, and the base layer arguments.

    Call arguments:
        - `inputs`: Tensor of shape `(batch, timesteps, features)`.
        - `mask`: Boolean tensor `(batch, timesteps)`: a masked step keeps
          the state (in the scan, $a_t = 1$, $b_t = 0$).
        - `training`: Whether dropout is applied.
        - `initial_state`: `[h]`, of shape `(batch, units)`; any sign.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import MinLSTM
        >>> x = np.ones((2, 100, 8), "float32")
        >>> tuple(MinLSTM(4, return_sequences=True)(x).shape)
        (2, 100, 4)

    References:
        - Feng, Tung, Ahmed, Bengio & Hajimirsadeghi, "Were RNNs All We
          Needed?", arXiv:2410.01201, 2024.
    """

    cell_class = MinLSTMCell
