"""The standard LSTM, numerically identical to `keras.layers.LSTM`."""

from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._lstm import LSTMCellBase
from keras_lstm_variants._lstm_layer import LSTMLayerBase
from keras_lstm_variants._standard_form import StandardLSTMForm


@serializable
class LSTMCell(LSTMCellBase):
    r"""The standard LSTM cell (Hochreiter & Schmidhuber 1997, with forget
    gate).

    A drop-in replacement for `keras.layers.LSTMCell`: same arguments, same
    weights, same numbers. It is the reference the other variants of this
    package differ from.

    $$
    \begin{aligned}
    [z_i, z_f, z_c, z_o] &= x_t W + h_{t-1} U + b \\
    i_t = \sigma(z_i), \quad f_t &= \sigma(z_f), \quad o_t = \sigma(z_o) \\
    c_t &= f_t \odot c_{t-1} + i_t \odot \tanh(z_c) \\
    h_t &= o_t \odot \tanh(c_t)
    \end{aligned}
    $$

    with $\sigma$ = `recurrent_activation` and $\tanh$ = `activation`.

    Weights, in `get_weights()` order (the layout of `keras.layers.LSTMCell`,
    so `set_weights` works both ways): `kernel` $(D, 4U)$,
    `recurrent_kernel` $(U, 4U)$, `bias` $(4U,)$ if `use_bias`; the gate
    blocks along the last axis are in the order $i, f, c, o$. With
    `projection_units` $P$, `recurrent_kernel` is $(P, 4U)$ and
    `projection_kernel` $(U, P)$ comes last.

    Every cell of the package takes the options of this base class:
    projection, clipping and zoneout (the guide "Projection, clipping and
    zoneout" has their equations).

    Args:
        units: Positive integer, dimensionality of the output and the state.
        activation: Activation of the candidate and of the output squashing.
            Defaults to `"tanh"`.
        recurrent_activation: Activation of the gates. Defaults to
            `"sigmoid"`.
        use_bias: Whether the cell has a bias vector. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`. Defaults to
            `"glorot_uniform"`.
        recurrent_initializer: Initializer of `recurrent_kernel`. Defaults to
            `"orthogonal"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        unit_forget_bias: If `True`, the forget-gate block of `bias` is
            initialised to ones (Jozefowicz et al. 2015), the rest by
            `bias_initializer`. Defaults to `True`.
        kernel_regularizer: Regularizer of `kernel`. Defaults to `None`.
        recurrent_regularizer: Regularizer of `recurrent_kernel`. Defaults to
            `None`.
        bias_regularizer: Regularizer of `bias`. Defaults to `None`.
        kernel_constraint: Constraint on `kernel`. Defaults to `None`.
        recurrent_constraint: Constraint on `recurrent_kernel`. Defaults to
            `None`.
        bias_constraint: Constraint on `bias`. Defaults to `None`.
        dropout: Float in [0, 1], fraction of the input units dropped, one
            mask for the whole sequence. Defaults to `0.0`.
        recurrent_dropout: Float in [0, 1], fraction of the units of $h$
            dropped, one mask per gate for the whole sequence. Defaults to
            `0.0`.
        seed: Random seed of the dropout masks. Defaults to `None`.
        implementation: `2` draws one input-dropout mask for all gates, `1`
            one per gate; `recurrent_dropout > 0` implies `1`, as in Keras.
            Defaults to `2`.
        projection_units: Positive integer $P$: the output $h$ is projected
            to $P$ features, $h_t = (o_t \odot \tanh(c_t)) W_{proj}$ (LSTMP;
            PyTorch's `proj_size`, `tf.compat.v1`'s `num_proj`); the state
            is then `[h (P), c (units)]`. Defaults to `None` (no projection).
        projection_initializer: Initializer of `projection_kernel`. Defaults
            to `"glorot_uniform"`.
        projection_regularizer: Regularizer of `projection_kernel`. Defaults
            to `None`.
        projection_constraint: Constraint on `projection_kernel`. Defaults
            to `None`.
        cell_clip: Positive float: the new carry is clipped to
            `[-cell_clip, cell_clip]` before the output reads it
            (`tf.compat.v1`'s meaning). Defaults to `None` (no clipping).
        projection_clip: Positive float: the projected output is clipped to
            `[-projection_clip, projection_clip]`; needs
            `projection_units`. Defaults to `None`.
        cell_zoneout: Float in [0, 1], the probability that a unit of the
            carry keeps its previous value at a training step, drawn afresh
            at every step (Krueger et al. 2017); at inference the carry is
            the expectation. Defaults to `0.0`.
        output_zoneout: Float in [0, 1], the same for the output $h$.
            Defaults to `0.0`.
        **kwargs: Base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        - `inputs`: Tensor of shape `(batch, features)`.
        - `states`: List `[h, c]`, each of shape `(batch, units)`.
        - `training`: Whether dropout is applied.

    Examples:
        >>> import numpy as np, keras
        >>> from keras_lstm_variants import LSTMCell
        >>> layer = keras.layers.RNN(LSTMCell(4))
        >>> tuple(layer(np.ones((2, 10, 8), "float32")).shape)
        (2, 4)

    References:
        - Hochreiter & Schmidhuber, "Long Short-Term Memory", 1997.
        - Gers, Schmidhuber & Cummins, "Learning to Forget: Continual
          Prediction with LSTM", 2000.
        - Sak, Senior & Beaufays, "Long Short-Term Memory Recurrent Neural
          Network Architectures for Large Scale Acoustic Modeling", 2014.
        - Krueger et al., "Zoneout: Regularizing RNNs by Randomly
          Preserving Hidden Activations", ICLR 2017.
    """

    gates = ("i", "f", "c", "o")

    def standard_lstm_gates(self):
        return StandardLSTMForm(self.kernel, self.recurrent_kernel, self.bias)

    def carry(self, z, c_tm1):
        z_i, z_f, z_c, _ = z
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        return f * c_tm1 + i * self.activation(z_c)

    def hidden(self, z, c):
        o = self.recurrent_activation(z[3])
        return o * self.activation(c)


@serializable
class LSTM(LSTMLayerBase):
    r"""The standard LSTM layer, a drop-in replacement for `keras.layers.LSTM`.

    It runs `LSTMCell` over a sequence and takes every argument of
    `keras.layers.LSTM`. Where `keras.layers.LSTM` would use the backend's
    fused kernel (cuDNN on a GPU: `tanh`/`sigmoid`, no recurrent dropout, no
    unroll, `use_bias`, right-padded mask), so does this layer, unless a
    projection, clipping or zoneout is on (cuDNN computes none of them); on
    PyTorch it runs in `torch.nn.LSTM`'s native op (projection included)
    where there is no mask; otherwise it runs the portable loop. The routes
    read the cell's `standard_lstm_form()`. The weights are those of
    `LSTMCell`.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        return_sequences: Whether to return the whole output sequence rather
            than the last output. Defaults to `False`.
        return_state: Whether to return the final states `h, c` after the
            output. Defaults to `False`.
        go_backwards: Whether to process the sequence backwards (the output
            sequence is then reversed too). Defaults to `False`.
        stateful: Whether the final states of a batch are the initial states
            of the next. Defaults to `False`.
        unroll: Whether to unroll the loop (faster for short sequences, more
            memory). Defaults to `False`.
        zero_output_for_mask: Whether masked steps output zeros rather than
            the previous output (with `return_sequences`). Defaults to
            `False`.
        use_cudnn: `"auto"` uses the fused backend kernel when possible,
            `True` requires it, `False` never uses it. Defaults to `"auto"`.
        activity_regularizer: Regularizer of the layer's output. Defaults to
            `None`.
        **kwargs: Every argument of `LSTMCell` (`activation`, `dropout`, ...),
            and the base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        - `sequences`: Tensor of shape `(batch, timesteps, features)`.
        - `initial_state`: Optional list `[h, c]`, each `(batch, units)`.
        - `mask`: Optional boolean tensor `(batch, timesteps)`; `False` skips a
              step (the state is carried over).
        - `training`: Whether dropout is applied.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import LSTM
        >>> output, h, c = LSTM(4, return_sequences=True, return_state=True)(
        ...     np.ones((2, 10, 8), "float32"))
        >>> tuple(output.shape), tuple(h.shape), tuple(c.shape)
        ((2, 10, 4), (2, 4), (2, 4))

    References:
        - Hochreiter & Schmidhuber, "Long Short-Term Memory", 1997.
    """

    cell_class = LSTMCell
