"""The minimal GRU, minGRU (Feng et al. 2024): a GRU trainable in parallel."""

from keras import ops

from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._min_rnn import MinRNNCellBase
from keras_lstm_variants._min_rnn import MinRNNLayerBase
from keras_lstm_variants._min_rnn import g
from keras_lstm_variants._min_rnn import log_g
from keras_lstm_variants._numerics import log_sigmoid


@serializable
class MinGRUCell(MinRNNCellBase):
    r"""Cell of the minimal GRU (minGRU): gates that read only the input.

    The GRU, except that the update gate and the candidate see only $x_t$
    (no $h_{t-1}$, hence no reset gate and no recurrent kernel), and the
    candidate's activation is $g$, which keeps it positive:

    $$
    \begin{aligned}
    [z_h, z_z] &= x_t W + b \\
    z_t &= \sigma(z_z), \qquad \tilde h_t = g(z_h) \\
    h_t &= (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t
    \end{aligned}
    $$

    with $g(x) = x + \tfrac12$ for $x \ge 0$ and $\sigma(x)$ otherwise. The
    state is $h$ alone, and $h_t = a_t \odot h_{t-1} + b_t$ is linear in
    $h$ with $a_t = 1 - z_t$, $b_t = z_t \odot \tilde h_t$ known from the
    inputs: `MinGRU` runs a whole sequence as one parallel scan over time
    in log space ($\log a_t = -\mathrm{softplus}(z_z)$, $\log b_t =
    -\mathrm{softplus}(-z_z) + \log g(z_h)$). This cell is one step of it,
    for `keras.layers.RNN` and for streaming one step at a time.

    Weights, in `get_weights()` order: `kernel` $(D, 2U)$ and `bias`
    $(2U,)$ if `use_bias`, blocks in the order $h, z$ (the official code's
    `to_hidden_and_gate`).

    Differences from the official code (BorealisAI/minRNNs): no
    `expansion_factor` and no output projection `to_out` (they belong to
    the paper's block: put a `Dense` after the layer); no learned initial
    state (pass `initial_state`); Keras's initializers (Glorot kernel, zero
    bias) rather than PyTorch's `Linear` defaults.

    Args:
        units: Positive integer, dimensionality of the state and output.
        use_bias: Whether the gates have a bias. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`. Defaults to
            `"glorot_uniform"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        kernel_regularizer: Regularizer of `kernel`. Defaults to `None`.
        bias_regularizer: Regularizer of `bias`. Defaults to `None`.
        kernel_constraint: Constraint on `kernel`. Defaults to `None`.
        bias_constraint: Constraint on `bias`. Defaults to `None`.
        dropout: Float in [0, 1], the fraction of input units dropped (one
            mask per sequence, as Keras's cells). Defaults to `0.0`.
        seed: Seed of the dropout mask. Defaults to `None`.
        **kwargs: Base layer arguments. Arguments of `keras.layers.GRUCell`
            with no meaning here (`recurrent_dropout`,
            `recurrent_initializer`, `activation`, `reset_after`, ...) raise
            a `ValueError` that names them.

    Call arguments:
        - `inputs`: Tensor of shape `(batch, features)`.
        - `states`: List `[h]`, of shape `(batch, units)`.
        - `training`: Whether dropout is applied.

    Examples:
        >>> import numpy as np, keras
        >>> from keras_lstm_variants import MinGRUCell
        >>> cell = MinGRUCell(4)
        >>> tuple(keras.layers.RNN(cell)(np.ones((2, 10, 8), "float32")).shape)
        (2, 4)
        >>> [tuple(w.shape) for w in cell.weights]
        [(8, 8), (8,)]

    References:
        - Feng, Tung, Ahmed, Bengio & Hajimirsadeghi, "Were RNNs All We
          Needed?", arXiv:2410.01201, 2024.
    """

    gates = ("h", "z")

    def coefficients(self, z):
        z_t = ops.sigmoid(z["z"])
        return ops.sigmoid(-z["z"]), z_t * g(z["h"])  # 1 - z_t, exactly

    def log_coefficients(self, z):
        log_a = log_sigmoid(-z["z"])
        log_b = log_sigmoid(z["z"]) + log_g(z["h"])
        return log_a, log_b


@serializable
class MinGRU(MinRNNLayerBase):
    r"""Minimal GRU layer (minGRU), trained with a parallel scan over time.

    A `keras.layers.RNN` over `MinGRUCell` that runs a sequence either as
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
        **kwargs: Every argument of `MinGRUCell`, and of `keras.layers.RNN`:
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
        >>> from keras_lstm_variants import MinGRU
        >>> x = np.ones((2, 100, 8), "float32")
        >>> tuple(MinGRU(4, return_sequences=True)(x).shape)
        (2, 100, 4)

    References:
        - Feng, Tung, Ahmed, Bengio & Hajimirsadeghi, "Were RNNs All We
          Needed?", arXiv:2410.01201, 2024.
    """

    cell_class = MinGRUCell
