r"""xLSTM's mLSTM (Beck et al. 2024): a matrix memory, parallel over time.

`MLSTMCell` is one step of the recurrence, a Keras RNN cell for streaming
and generation; `MLSTM` runs a whole sequence by the stabilised parallel
form (`mode="parallel"`, as the official `parallel_stabilized_simple`),
the chunkwise form (`mode="chunkwise"`, as `chunkwise_simple`) or the
cell's step in Keras's loop (`mode="step"`, as
`recurrent_step_stabilized_simple`). The three compute the same thing (up
to float rounding), initial state and masks included
(`_mlstm_forms.py`).
"""

import numpy as np
from keras import initializers
from keras import ops

from keras_lstm_variants._arguments import check_positive_int
from keras_lstm_variants._arguments import checked_initializer as _initializer
from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._cell import INPUT_ONLY
from keras_lstm_variants._cell import NO_PROJECTION
from keras_lstm_variants._cell import RNNCellBase
from keras_lstm_variants._layer import RNNLayerBase
from keras_lstm_variants._layer import at_least
from keras_lstm_variants._mlstm_forms import mlstm_sequence
from keras_lstm_variants._mlstm_forms import mlstm_step
from keras_lstm_variants._numerics import masked_outputs
from keras_lstm_variants._numerics import wide_dtype
from keras_lstm_variants._tuning import CHUNKWISE_FROM_STEPS
from keras_lstm_variants._tuning import PARALLEL_FROM_STEPS
from keras_lstm_variants.backends import Declined

# The official initialisation of the gates' bias (`mLSTMCell.
# reset_parameters`): the input gate's ~ N(0, 0.1), the forget gate's
# linearly spaced from 3 to 6 over the heads.
XLSTM_GATE_BIAS = "xlstm"

_REFUSED = {
    **INPUT_ONLY,
    **NO_PROJECTION,
    "activation": "the memory is linear in v: there is no candidate "
    "activation",
    "recurrent_activation": "the gates are fixed by the stabilised form "
    "(exponential input gate, sigmoid forget gate and output gate)",
    "unit_forget_bias": "the forget gate's bias is "
    "`gate_bias_initializer`'s ('xlstm': 3 ... 6 over the heads)",
    "use_cudnn": "cuDNN has no mLSTM kernel",
    "projection_units": "the output is h (put a Dense after the layer, as "
    "the paper's block does)",
    "cell_clip": "the memory is kept in range by the stabiliser m",
    "cell_zoneout": "zoneout would make the memory's update non-linear, "
    "which the parallel form cannot run",
    "output_zoneout": "zoneout would make the memory's update non-linear, "
    "which the parallel form cannot run",
}


def official_gate_bias(input_gate_initializer, heads, dtype=None):
    """The official initialisation of the mLSTM gates' bias, blocks $i, f$
    (`mLSTMCell.reset_parameters`): the input gate's drawn by
    `input_gate_initializer` ($N(0, 0.1)$), the forget gate's linearly
    spaced from 3 to 6 over the heads."""
    input_gate = input_gate_initializer((heads,), dtype=dtype)
    forget_gate = np.linspace(3.0, 6.0, heads)
    return ops.concatenate([input_gate, ops.cast(forget_gate, dtype)])


@serializable
class MLSTMCell(RNNCellBase):
    r"""Cell of xLSTM's mLSTM: a matrix memory per head, exponential gating.

    Per head (of `num_heads`, each of size $d$ = `units / num_heads`), from
    the input alone (there is no recurrent kernel):

    $$
    \begin{aligned}
    [q_t, k_t, v_t, \tilde o_t] &= x_t W + b, \qquad
    [\tilde i_t, \tilde f_t] = x_t W_g + b_g \\
    m_t &= \max(\log \sigma(\tilde f_t) + m_{t-1},\ \tilde i_t) \\
    i_t &= e^{\tilde i_t - m_t}, \qquad
    f_t = e^{\log \sigma(\tilde f_t) + m_{t-1} - m_t} \\
    C_t &= f_t C_{t-1} + i_t\, \tfrac{k_t}{\sqrt d} v_t^\top, \qquad
    n_t = f_t n_{t-1} + i_t\, \tfrac{k_t}{\sqrt d} \\
    h_t &= \sigma(\tilde o_t) \odot
        \frac{C_t^\top q_t}{\max(|n_t^\top q_t|,\ e^{-m_t}) + \epsilon}
    \end{aligned}
    $$

    with $\epsilon = 10^{-6}$: the official `recurrent_step_stabilized_simple`
    (which this step equals), then the paper's output gate. The stabiliser
    $m$ cancels out of $h$ (up to $\epsilon$); it keeps the exponentials in
    range. The state is `[C, n, m]`, flat for Keras: `C` of shape
    `(batch, units * d)` (reshaped `(batch, heads, d, d)`, key index then
    value index, the official `c_state`), `n` `(batch, units)` (the
    official `n_state`, `(batch, heads, d)`), `m` `(batch, heads)`.

    Weights, in `get_weights()` order: `kernel` $W$ `(features, 4 units)`,
    blocks $q, k, v, o$, each block's columns head by head; `bias` $b$
    `(4 units,)` if `use_bias`; `gate_kernel` $W_g$ `(features, 2 heads)`
    and `gate_bias` $b_g$ `(2 heads,)`, blocks $i, f$ (one column per
    head). The gates always have a bias, as the official ones.

    Differences from the official code (`xlstm` 2.0.6): its `mLSTMCell`
    takes q, k, v as inputs (its block makes them with an up-projection, a
    causal convolution and head-wise projections) and computes the gates
    from `concat(q, k, v)`; this cell is the paper's plain mLSTM, which
    makes q, k, v and the gates from $x_t$ (for q, k, v made linearly from
    x the two are the same map: $W_g$ = `[W_q W_k W_v] @ igate.weight.T`).
    Its cell normalises $\tilde h$ per head (`MultiHeadLayerNorm`) and its
    block gates it with SiLU of a second branch; this cell applies the
    paper's output gate $\sigma(\tilde o_t)$ instead, and has no norm (put
    a `LayerNormalization` after the layer if wanted). The gates'
    initialisation is the official one by default (`gate_kernel` zeros,
    `gate_bias_initializer="xlstm"`); q, k, v and o take Keras's
    (`glorot_uniform`, zero bias) rather than the block's "small init".

    Args:
        units: Positive integer, dimensionality of the output and of q, k,
            v (all heads together).
        num_heads: Positive integer dividing `units`, the number of heads.
            Defaults to `4` (the official default).
        use_bias: Whether q, k, v and o have a bias. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`. Defaults to
            `"glorot_uniform"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        gate_kernel_initializer: Initializer of `gate_kernel`. Defaults to
            `"zeros"` (the official).
        gate_bias_initializer: `"xlstm"`, the official initialisation (the
            input gate's bias $\sim N(0, 0.1)$, the forget gate's linearly
            spaced from 3 to 6 over the heads), or a Keras initializer of
            all of `gate_bias`. Defaults to `"xlstm"`.
        kernel_regularizer: Regularizer of `kernel` and `gate_kernel`.
            Defaults to `None`.
        bias_regularizer: Regularizer of `bias` and `gate_bias`. Defaults
            to `None`.
        kernel_constraint: Constraint on `kernel` and `gate_kernel`.
            Defaults to `None`.
        bias_constraint: Constraint on `bias` and `gate_bias`. Defaults to
            `None`.
        dropout: Float in [0, 1], the fraction of input units dropped (one
            mask per sequence, as Keras's cells). Defaults to `0.0`.
        seed: Seed of the dropout mask and of the `"xlstm"` bias draw.
            Defaults to `None`.
        **kwargs: Base layer arguments. Arguments of `keras.layers.LSTMCell`
            with no meaning here (`recurrent_dropout`, `activation`,
            `unit_forget_bias`, ...) raise a `ValueError` that names them.

    Call arguments:
        - `inputs`: Tensor of shape `(batch, features)`.
        - `states`: List `[C, n, m]`, of shapes `(batch, units * d)`,
          `(batch, units)`, `(batch, heads)`.
        - `training`: Whether dropout is applied.

    Examples:
        >>> import numpy as np, keras
        >>> from keras_lstm_variants import MLSTMCell
        >>> cell = MLSTMCell(8, num_heads=2)
        >>> tuple(keras.layers.RNN(cell)(np.ones((2, 10, 3), "float32")).shape)
        (2, 8)
        >>> [tuple(w.shape) for w in cell.weights]
        [(3, 32), (32,), (3, 4), (4,)]
        >>> cell.state_size
        [32, 8, 2]

    References:
        - Beck, Pöppel, Spanring, Auer, Prudnikova, Kopp, Klambauer,
          Brandstetter & Hochreiter, "xLSTM: Extended Long Short-Term
          Memory", NeurIPS 2024, arXiv:2405.04517.
    """

    output_is_first_state = False
    refused_arguments = _REFUSED

    def __init__(
        self,
        units,
        num_heads=4,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        gate_kernel_initializer="zeros",
        gate_bias_initializer=XLSTM_GATE_BIAS,
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        seed=None,
        **kwargs,
    ):
        units = check_positive_int("units", units)
        num_heads = check_positive_int("num_heads", num_heads)
        if units % num_heads:
            raise ValueError(
                "Argument `units` must be divisible by `num_heads` (each "
                f"head has units / num_heads units). Received: "
                f"units={units}, num_heads={num_heads}."
            )
        # Created in this order (an unseeded initializer draws its seed when
        # created), the base's two first.
        kernel_initializer = _initializer(
            "kernel_initializer", kernel_initializer
        )
        bias_initializer = _initializer("bias_initializer", bias_initializer)
        gate_kernel_initializer = _initializer(
            "gate_kernel_initializer", gate_kernel_initializer
        )
        input_gate_bias = None
        if gate_bias_initializer == XLSTM_GATE_BIAS:
            input_gate_bias = initializers.RandomNormal(stddev=0.1, seed=seed)
        else:
            gate_bias_initializer = _initializer(
                "gate_bias_initializer", gate_bias_initializer
            )
        super().__init__(
            units,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            seed=seed,
            **kwargs,
        )
        self.num_heads = num_heads
        self.head_size = units // num_heads
        self.gate_kernel_initializer = gate_kernel_initializer
        self.gate_bias_initializer = gate_bias_initializer
        self._input_gate_bias = input_gate_bias
        self.state_size = [units * self.head_size, units, num_heads]
        self.output_size = units

    def state_names(self):
        return ["C", "n", "m"]

    def build(self, input_shape):
        super().build(input_shape)
        features = input_shape[-1]
        self.kernel = self.add_kernel(features, 4 * self.units)
        self.bias = self.add_bias(4 * self.units) if self.use_bias else None
        self.gate_kernel = self.add_kernel(
            features, 2 * self.num_heads, self.gate_kernel_initializer,
            name="gate_kernel",
        )
        self.gate_bias = self.add_bias(
            2 * self.num_heads,
            self._xlstm_gate_bias
            if self.gate_bias_initializer == XLSTM_GATE_BIAS
            else self.gate_bias_initializer,
            name="gate_bias",
        )

    def _xlstm_gate_bias(self, shape, dtype=None):
        return official_gate_bias(self._input_gate_bias, self.num_heads, dtype)

    def projections(self, x):
        """q, k, v, the output gate's and the gates' pre-activations from
        `x` (`(..., features)`), a dict by name, in float32 (or the variable
        dtype, if wider) whatever the compute dtype."""
        z = ops.matmul(x, self.kernel)
        if self.use_bias:
            z = z + self.bias
        g = ops.matmul(x, self.gate_kernel) + self.gate_bias
        dtype = wide_dtype(self.variable_dtype)
        q, k, v, o = ops.split(ops.cast(z, dtype), 4, axis=-1)
        i, f = ops.split(ops.cast(g, dtype), 2, axis=-1)
        return {"q": q, "k": k, "v": v, "o": o, "i": i, "f": f}

    def heads(self, x):
        """`(..., units)` as `(..., heads, d)`."""
        return ops.reshape(
            x, (*ops.shape(x)[:-1], self.num_heads, self.head_size)
        )

    def step(self, inputs, states, training=False):
        inputs = self.dropped(inputs, training)
        z = self.projections(inputs)
        dtype = z["q"].dtype
        C_tm1, n_tm1, m_tm1 = (ops.cast(s, dtype) for s in states)
        d = self.head_size
        h, (C, n, m) = mlstm_step(
            self.heads(z["q"]), self.heads(z["k"]), self.heads(z["v"]),
            z["i"], z["f"],
            ops.reshape(C_tm1, (-1, self.num_heads, d, d)),
            self.heads(n_tm1),
            m_tm1,
        )
        h = ops.sigmoid(z["o"]) * ops.reshape(h, (-1, self.units))
        states = [
            ops.reshape(C, (-1, self.units * d)),
            ops.reshape(n, (-1, self.units)),
            m,
        ]
        h = ops.cast(h, self.compute_dtype)
        return h, [ops.cast(s, self.compute_dtype) for s in states]


@serializable
class MLSTM(RNNLayerBase):
    r"""xLSTM's mLSTM layer: trained in parallel over time, run step by step.

    A `keras.layers.RNN` over `MLSTMCell` that runs a sequence by one of
    three forms, which compute the same outputs and final states from any
    initial state, masks included:

    - `mode="parallel"`: the stabilised parallel form (the gate decay
      matrix $D$ of every pair of steps, then two matrix products per head,
      as the official `parallel_stabilized_simple`): time and memory grow
      as $T^2$;
    - `mode="chunkwise"`: the recurrence over chunks of `chunk_size` steps
      and the parallel form inside each (as the official
      `chunkwise_simple`, for any number of steps): memory close to
      linear in $T$ ($T L + (T / L) d^2 + (T / L)^2$ per head);
    - `mode="step"`: the cell's step in Keras's loop.

    `mode="auto"` picks the one measured fastest for the sequence length
    on the backend and device (`_tuning.PARALLEL_FROM_STEPS`,
    `CHUNKWISE_FROM_STEPS`; the "xLSTM" page has the measurements). For
    generation, run the prompt with `return_state=True`, then continue
    from its states (`initial_state`, or the cell one step at a time).

    Args:
        units: Positive integer, dimensionality of the output.
        mode: `"auto"`, `"parallel"`, `"chunkwise"` or `"step"`. Defaults
            to `"auto"`.
        chunk_size: Positive integer, the chunkwise form's number of steps
            per chunk (the official default). Defaults to `64`.
        **kwargs: Every argument of `MLSTMCell` (`num_heads`, the
            initializers, ...), and of `keras.layers.RNN`:
            `return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll` (the step loop only), `zero_output_for_mask`,
            `activity_regularizer`, and the base layer arguments.

    Call arguments:
        - `inputs`: Tensor of shape `(batch, timesteps, features)`.
        - `mask`: Boolean tensor `(batch, timesteps)`: a masked step keeps
          the state (in the parallel forms, $f_t = 1$, $i_t = 0$) and
          repeats the previous output.
        - `training`: Whether dropout is applied.
        - `initial_state`: `[C, n, m]`, as the cell's states.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import MLSTM
        >>> x = np.ones((2, 100, 3), "float32")
        >>> layer = MLSTM(8, num_heads=2, return_sequences=True,
        ...               return_state=True)
        >>> h, C, n, m = layer(x)
        >>> tuple(h.shape), tuple(C.shape), tuple(n.shape), tuple(m.shape)
        ((2, 100, 8), (2, 32), (2, 8), (2, 2))
        >>> h2, *_ = layer(x[:, :10], initial_state=[C, n, m])

    References:
        - Beck, Pöppel, Spanring, Auer, Prudnikova, Kopp, Klambauer,
          Brandstetter & Hochreiter, "xLSTM: Extended Long Short-Term
          Memory", NeurIPS 2024, arXiv:2405.04517.
    """

    cell_class = MLSTMCell
    whole_sequence_mode = ("parallel", "chunkwise")
    whole_sequence_description = "the stabilised parallel and chunkwise forms"
    whole_sequence_from_steps = PARALLEL_FROM_STEPS

    def __init__(self, units, mode="auto", chunk_size=64, **kwargs):
        chunk_size = check_positive_int("chunk_size", chunk_size)
        super().__init__(units, mode=mode, **kwargs)
        self.chunk_size = chunk_size

    def auto_mode(self, steps):
        """The chunkwise form from `CHUNKWISE_FROM_STEPS` on, else the
        parallel form from `PARALLEL_FROM_STEPS` on, else the loop."""
        if at_least(CHUNKWISE_FROM_STEPS, steps):
            return "chunkwise"
        return super().auto_mode(steps)

    def own_config(self):
        return {**super().own_config(), "chunk_size": self.chunk_size}

    def whole_sequence(self, sequences, initial_state, mask, training):
        cell = self.cell
        steps = sequences.shape[1]
        chunkwise = self.route(steps) == "chunkwise"
        if chunkwise and steps is None:
            raise Declined(
                "the chunkwise form needs the number of steps when traced "
                "(build the model with it: keras.Input((steps, features)))"
            )
        z = cell.projections(cell.dropped(sequences, training))
        dtype = z["q"].dtype
        d, heads = cell.head_size, cell.num_heads
        C0, n0, m0 = (ops.cast(s, dtype) for s in initial_state)
        h, (C, n, m) = mlstm_sequence(
            z["q"], z["k"], z["v"], z["i"], z["f"],
            (ops.reshape(C0, (-1, heads, d, d)), cell.heads(n0), m0),
            heads, chunk_size=self.chunk_size if chunkwise else None,
            mask=mask,
        )
        h = ops.sigmoid(z["o"]) * h
        if mask is not None:
            h = _repeat_last_unmasked(h, mask)
        h = ops.cast(h, cell.compute_dtype)
        states = [
            ops.reshape(C, (-1, cell.units * d)),
            ops.reshape(n, (-1, cell.units)),
            m,
        ]
        last_output, outputs = h[:, -1], h
        if mask is not None:
            last_output, outputs = masked_outputs(
                mask, last_output, outputs, self.return_sequences,
                self.zero_output_for_mask, time_axis=1,
            )
        states = [ops.cast(s, cell.compute_dtype) for s in states]
        return last_output, outputs, states


def _repeat_last_unmasked(outputs, mask):
    """`outputs` with each masked step's replaced by the last unmasked
    step's before it (the step loop's output there), by index."""
    steps = ops.shape(outputs)[1]
    t = ops.arange(steps)
    causal = t[:, None] >= t[None, :]
    unmasked_at = ops.where(ops.cast(mask, "bool"), t[None, :], 0)
    last = ops.max(
        ops.where(causal[None], unmasked_at[:, None, :], 0), axis=-1
    )
    return ops.take_along_axis(outputs, last[..., None], axis=1)
