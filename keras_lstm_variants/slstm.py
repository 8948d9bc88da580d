"""xLSTM's sLSTM (Beck et al. 2024): exponential gating, a normaliser and a
stabiliser state, and a recurrence that is block-diagonal over heads."""

import numbers

import numpy as np
from keras import initializers
from keras import ops

from keras_lstm_variants._arguments import check_positive_int
from keras_lstm_variants._arguments import checked_initializer
from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._lstm import LSTMCellBase
from keras_lstm_variants._lstm_layer import LSTMLayerBase

# The official bias initialisation, by the name the xlstm package gives it.
POWERLAW_BLOCKDEPENDENT = "powerlaw_blockdependent"


@serializable
class PowerLawForgetBias(initializers.Initializer):
    r"""The official sLSTM bias: zero, except the forget gate's, which falls
    along each head as a power law ("powerlaw_blockdependent").

    For unit $k$ of a head of $d$ units, in block $b$ of $B$ stacked blocks,

    $$
    b_f[k] = 5 - 12 \left(\frac{k}{d - 1}\right)^{0.3 + 1.3\, b / (B - 1)}
    $$

    ($b / (B - 1) = 0$ for one block), from $+5$ (forget slowly) down to
    $-7$ in every head; the $i$, $z$ and $o$ blocks are zero. As
    `xlstm.blocks.slstm.cell.sLSTMCellBase.reset_parameters`; with one unit
    per head, where the official formula divides 0 by 0, the unit gets
    $+5$. The shape is that of `SLSTMCell`'s `bias`, $(4U,)$.

    Args:
        num_heads: Positive integer, the cell's `num_heads`. Defaults to 1.
        block_index: Index of the block in a stack of `num_blocks` (the
            official `_block_idx`). Defaults to 0.
        num_blocks: Number of blocks in the stack (`_num_blocks`). Defaults
            to 1.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants.slstm import PowerLawForgetBias
        >>> bias = PowerLawForgetBias(num_heads=1)((12,))
        >>> [round(float(b), 3) for b in np.asarray(bias)[3:6]]
        [5.0, -4.747, -7.0]
    """

    def __init__(self, num_heads=1, block_index=0, num_blocks=1):
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.num_blocks = check_positive_int("num_blocks", num_blocks)
        if (
            isinstance(block_index, bool)
            or not isinstance(block_index, numbers.Integral)
            or not 0 <= block_index < num_blocks
        ):
            raise ValueError(
                "Argument `block_index` must be an integer in "
                f"[0, num_blocks). Received: block_index={block_index!r}, "
                f"num_blocks={num_blocks!r}."
            )
        self.block_index = int(block_index)

    def __call__(self, shape, dtype=None):
        width = int(np.prod(shape))
        if len(shape) != 1 or width % (4 * self.num_heads):
            raise ValueError(
                "PowerLawForgetBias initialises an sLSTM bias of shape "
                f"(4 * units,) with units divisible by num_heads="
                f"{self.num_heads}. Received: shape={tuple(shape)}."
            )
        head_dim = width // (4 * self.num_heads)
        ratio = (
            self.block_index / (self.num_blocks - 1)
            if self.num_blocks > 1 else 0.0
        )
        position = np.arange(head_dim) / max(head_dim - 1, 1)
        forget = 5.0 - 12.0 * position ** (0.3 + 1.3 * ratio)
        units = width // 4
        bias = np.zeros(width)
        bias[units:2 * units] = np.tile(forget, self.num_heads)
        return ops.convert_to_tensor(bias, dtype=dtype or "float32")

    def get_config(self):
        return {
            "num_heads": self.num_heads,
            "block_index": self.block_index,
            "num_blocks": self.num_blocks,
        }


def _initializer(name, identifier, num_heads):
    """`initializers.get(identifier)`, or the official bias by its name; a
    name that neither knows is a ValueError naming the argument."""
    if identifier == POWERLAW_BLOCKDEPENDENT:
        if name != "bias_initializer":
            raise ValueError(
                f"Argument `{name}`: {POWERLAW_BLOCKDEPENDENT!r} initialises "
                f"the bias only. Received: {name}={identifier!r}."
            )
        return PowerLawForgetBias(num_heads=num_heads)
    also = (POWERLAW_BLOCKDEPENDENT,) if name == "bias_initializer" else ()
    return checked_initializer(name, identifier, also)


# Options of the base that sLSTM's state makes meaningless (taken only at
# their defaults), with why.
_REFUSED = {
    "projection_units": "the recurrence is block-diagonal over the heads of "
    "h, which a projection would mix",
    "cell_clip": "c is scaled by exp(-m) and divided by n in h, so a bound on "
    "c bounds nothing (|c / n| <= 1 already)",
    "cell_zoneout": "mixing c_{t-1} into c_t ignores that the two are scaled "
    "by different stabilisers m (output_zoneout is meaningful and taken)",
}


@serializable
class SLSTMCell(LSTMCellBase):
    r"""xLSTM's sLSTM cell: exponential gating with a normaliser and a
    stabiliser state, and a recurrence that is block-diagonal over heads.

    The standard LSTM, except: the input and forget gates are exponential,
    kept finite by a stabiliser state $m$ (the log of the largest gate so
    far), the carry is divided by a normaliser state $n$ (the sum of the
    gates written), and $h_{t-1}$ reaches each head's gates only through that
    head's block of the recurrent kernel. The recurrence is that of the
    official xLSTM code (`xlstm.blocks.slstm.src.vanilla`, pointwise function
    "slstm"), with $\log\sigma$ the log-sigmoid:

    $$
    \begin{aligned}
    [\tilde\imath, \tilde f, \tilde z, \tilde o] &= x_t W
        + \mathrm{blockdiag}(R_1, \ldots, R_H)\, h_{t-1} + b \\
    m_t &= \begin{cases}
        \tilde\imath & \text{if } n_{t-1} = 0 \\
        \max(\tilde\imath, m_{t-1} + \log\sigma(\tilde f)) & \text{else}
        \end{cases} \\
    i'_t &= \min(e^{\tilde\imath - m_t}, 1), \quad
    f'_t = \min(e^{m_{t-1} + \log\sigma(\tilde f) - m_t}, 1) \\
    c_t &= f'_t \odot c_{t-1} + i'_t \odot \tanh(\tilde z) \\
    n_t &= f'_t \odot n_{t-1} + i'_t \\
    h_t &= \sigma(\tilde o) \odot c_t / n_t
    \end{aligned}
    $$

    The state is `[h, c, n, m]`, each `(batch, units)`, zeros by default.
    The first-step rule ($m_t = \tilde\imath$ where $n_{t-1} = 0$) is
    applied unit by unit, as the official CUDA kernel does; the official
    vanilla code applies it only when $n$ is zero in every unit of the whole
    batch. The two agree on every sequence started from zero states (after
    one step $n \ge 1$ everywhere), and the unitwise rule keeps one row's
    state from changing another's: a batch that mixes fresh rows (zero
    states, or left padding under a mask) with running ones. $h_t$ itself
    does not depend on $m$ (it scales $c$ and $n$ alike); $m$ keeps the
    exponentials finite ($i', f' \le 1$, $n \ge 1$ after the first step).

    Weights, in `get_weights()` order: `kernel` $W$ $(D, 4U)$, gate blocks
    in the order $i, f, z, o$ and within each block the units head by head;
    `recurrent_kernel` $(H, U/H, 4U/H)$, where `recurrent_kernel[k]` is head
    $k$'s $R_k$: the weights from that head's $U/H$ outputs to its gates,
    blocks $i, f, z, o$; `bias` $(4U,)$ if `use_bias`, laid out as `kernel`'s
    columns. In the official `sLSTMCell` (the `vanilla` or `cuda` backend;
    `hidden_size` $U$, `num_heads` $H$), whose input is $x_t W$ already
    computed (its gate order is ours), `recurrent_kernel` is the official
    `recurrent_kernel` $(H, U/H, 4, U/H)$ reshaped to $(H, U/H, 4U/H)$, and
    `bias` is the official `bias` $(H, 4, U/H)$ transposed to
    $(4, H, U/H)$ and flattened (`migrate.from_xlstm_slstm` converts them).

    The official initialisation is the default: a zero `recurrent_kernel`
    and `bias_initializer="powerlaw_blockdependent"` (`PowerLawForgetBias`;
    pass an instance for a block of a stack); any Keras initializer can take
    their place, applied to the shapes above. The official layer
    initialises its input weights with "small init", which is
    `keras.initializers.VarianceScaling(0.4, "fan_in", "untruncated_normal")`.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        num_heads: Positive integer dividing `units`: the number of heads of
            the block-diagonal recurrence. Defaults to 1 (a dense recurrent
            kernel); the official default is 4.
        recurrent_initializer: Initializer of `recurrent_kernel`. Defaults
            to `"zeros"` (the official).
        bias_initializer: Initializer of `bias`: a Keras initializer or
            `"powerlaw_blockdependent"`. Defaults to the latter (the
            official).
        unit_forget_bias: If True, the $f$ block of the bias starts at 1
            instead. Defaults to `False`.
        **kwargs: Every argument of `LSTMCell`, with the same meaning:
            `activation` is the candidate's ($\tanh$ above) and
            `recurrent_activation` the output gate's ($\sigma$); the input and
            forget gates are always exponential. `output_zoneout` is taken;
            `projection_units`, `cell_clip` and `cell_zoneout` are refused
            (a `ValueError` says why). With recurrent dropout, one mask per
            gate, as `LSTMCell`.

    Call arguments:
        - `inputs`: Tensor of shape `(batch, features)`.
        - `states`: List `[h, c, n, m]`, each of shape `(batch, units)`.
        - `training`: Whether dropout is applied.

    Examples:
        >>> import numpy as np, keras
        >>> from keras_lstm_variants import SLSTMCell
        >>> cell = SLSTMCell(8, num_heads=2)
        >>> tuple(keras.layers.RNN(cell)(np.ones((2, 10, 3), "float32")).shape)
        (2, 8)
        >>> [tuple(w.shape) for w in cell.weights]
        [(3, 32), (2, 4, 16), (32,)]

    References:
        - Beck, Pöppel, Spanring, Auer, Prudnikova, Kopp, Klambauer,
          Brandstetter & Hochreiter, "xLSTM: Extended Long Short-Term
          Memory", NeurIPS 2024.
        - The official code: https://github.com/NX-AI/xlstm (`xlstm` 2.0.6).
    """

    gates = ("i", "f", "z", "o")
    refused_arguments = _REFUSED

    def __init__(
        self,
        units,
        num_heads=1,
        recurrent_initializer="zeros",
        bias_initializer=POWERLAW_BLOCKDEPENDENT,
        unit_forget_bias=False,
        **kwargs,
    ):
        units = check_positive_int("units", units)
        num_heads = check_positive_int("num_heads", num_heads)
        if units % num_heads:
            raise ValueError(
                "Argument `num_heads` must divide `units` (each head has "
                f"units / num_heads units). Received: units={units}, "
                f"num_heads={num_heads}."
            )
        kwargs["kernel_initializer"] = _initializer(
            "kernel_initializer",
            kwargs.get("kernel_initializer", "glorot_uniform"),
            num_heads,
        )
        super().__init__(
            units,
            recurrent_initializer=_initializer(
                "recurrent_initializer", recurrent_initializer, num_heads
            ),
            bias_initializer=_initializer(
                "bias_initializer", bias_initializer, num_heads
            ),
            unit_forget_bias=unit_forget_bias,
            **kwargs,
        )
        self.num_heads = num_heads

    @property
    def head_dim(self):
        """The units of one head, `units // num_heads`."""
        return self.units // self.num_heads

    def extra_state_sizes(self):
        return [self.units, self.units]  # n, m

    def state_names(self):
        return ["h", "c", "n", "m"]

    def recurrent_kernel_shape(self):
        return (self.num_heads, self.head_dim, len(self.gates) * self.head_dim)

    def sequence_kernels(self, dropout_mask, recurrent_dropout_mask):
        # The layer's loop multiplies h by the block-diagonal (U, 4U) matrix,
        # built once per sequence: one matmul per step instead of the
        # heads' reshapes around a batched one.
        return None, self.block_diagonal_recurrent_kernel()

    def block_diagonal_recurrent_kernel(self):
        """`recurrent_kernel` as the dense `(units, 4 * units)` matrix that
        h multiplies: zero outside the heads' blocks, gate blocks of
        `units` as `kernel`'s columns."""
        heads, head_dim = self.num_heads, self.head_dim
        blocks = ops.reshape(
            self.recurrent_kernel, (heads, head_dim, len(self.gates), head_dim)
        )
        eye = ops.eye(heads, dtype=blocks.dtype)
        dense = ops.einsum("kjgl,kq->kjgql", blocks, eye)
        return ops.reshape(dense, (self.units, len(self.gates) * self.units))

    def recurrent_part(self, h_tm1, dropout_mask=None, recurrent_kernel=None):
        if recurrent_kernel is not None:  # the block-diagonal matrix
            return self.dropout_matmul(h_tm1, recurrent_kernel, dropout_mask)
        recurrent_kernel = self.recurrent_kernel
        if isinstance(dropout_mask, (list, tuple)):  # one mask per gate
            blocks = ops.split(recurrent_kernel, len(self.gates), axis=-1)
            return ops.concatenate(
                [
                    self._by_heads(h_tm1 * mask, block)
                    for mask, block in zip(dropout_mask, blocks, strict=True)
                ],
                axis=-1,
            )
        if dropout_mask is not None:
            h_tm1 = h_tm1 * dropout_mask
        return self._by_heads(h_tm1, recurrent_kernel)

    def _by_heads(self, h, kernel):
        """h R for the heads' blocks `kernel` `(H, d, G d)`: `(batch, G U)`,
        gate blocks of `units`, each head by head."""
        heads, head_dim = self.num_heads, self.head_dim
        blocks = kernel.shape[-1] // head_dim
        y = ops.einsum(
            "bkj,kjl->bkl", ops.reshape(h, (-1, heads, head_dim)), kernel
        )
        y = ops.reshape(y, (-1, heads, blocks, head_dim))
        return ops.reshape(
            ops.transpose(y, (0, 2, 1, 3)), (-1, blocks * self.units)
        )

    def gate_inputs(self, z, extra_tm1):
        # The exponential gates need the previous stabiliser: computed here,
        # with this step's n and m appended for `hidden` and the next step.
        z_i, z_f, z_z, z_o = z
        n_tm1, m_tm1 = extra_tm1
        log_f_plus_m = m_tm1 + ops.log_sigmoid(z_f)
        m = ops.where(
            ops.equal(n_tm1, 0.0), z_i, ops.maximum(z_i, log_f_plus_m)
        )
        # min(exp(a), 1) as exp(min(a, 0)): the same value and, where
        # exp(a) would overflow (f' at a first step, unused there), a
        # gradient of 0 instead of 0 * inf = NaN.
        i = ops.exp(ops.minimum(z_i - m, 0.0))
        f = ops.exp(ops.minimum(log_f_plus_m - m, 0.0))
        n = f * n_tm1 + i
        return [i, f, z_z, z_o, n, m]

    def carry(self, z, c_tm1):
        i, f, z_z = z[:3]
        return f * c_tm1 + i * self.activation(z_z)

    def hidden(self, z, c):
        z_o, n = z[3], z[4]
        return self.recurrent_activation(z_o) * c / n

    def next_extra_states(self, z, c_tm1, c):
        return z[4:6]  # n, m

    def standard_lstm_form_problem(self):
        return (
            "SLSTMCell is not the standard LSTM op: its input and forget "
            "gates are exponential, with a normaliser and a stabiliser state, "
            "and its recurrence is block-diagonal over heads"
        )


@serializable
class SLSTM(LSTMLayerBase):
    r"""xLSTM's sLSTM layer, over `SLSTMCell`.

    Takes every argument of `keras.layers.LSTM` (see `LSTM`) plus those of
    `SLSTMCell` (`num_heads`, ...); the weights are the cell's. The state is
    `[h, c, n, m]`: `initial_state` takes four tensors and `return_state`
    returns them. sLSTM has no standard LSTM form, so no fused kernel runs it
    (`use_cudnn=True` is refused); this is the recurrence alone, as the
    official `sLSTMCell`, not the official `sLSTMLayer` (which adds
    head-wise input projections, a causal convolution and a group norm
    around it).

    Args:
        units: Positive integer, dimensionality of the output and the state.
        **kwargs: Every argument of `SLSTMCell` (`num_heads`,
            `bias_initializer`, ...) and of `LSTM` (`return_sequences`,
            `return_state`, `go_backwards`, `stateful`, `unroll`,
            `zero_output_for_mask`, `use_cudnn`, `activity_regularizer`),
            with the same meaning.

    Call arguments:
        - `sequences`: Tensor of shape `(batch, timesteps, features)`.
        - `initial_state`: Optional list `[h, c, n, m]`, each
          `(batch, units)`.
        - `mask`: Optional boolean tensor `(batch, timesteps)`.
        - `training`: Whether dropout is applied.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import SLSTM
        >>> x = np.ones((2, 10, 3), "float32")
        >>> output, h, c, n, m = SLSTM(8, num_heads=4, return_state=True)(x)
        >>> tuple(output.shape), tuple(n.shape)
        ((2, 8), (2, 8))

    References:
        - Beck et al., "xLSTM: Extended Long Short-Term Memory", NeurIPS
          2024.
    """

    cell_class = SLSTMCell
