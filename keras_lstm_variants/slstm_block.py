r"""xLSTM's sLSTM block as the paper builds it (Beck et al. 2024), equal to
the official `xlstm` package's `sLSTMBlock`: pre-LayerNorm, an optional
causal convolution feeding the input and forget gates, head-wise gate
projections, the sLSTM recurrence (`SLSTMCell`'s), a norm per head,
residual; then pre-LayerNorm, the gated feed-forward and residual.

It generates token by token from the states it returns
(`return_state=True`, then `initial_state`): the convolution's last inputs
and the sLSTM's `[h, c, n, m]`.
"""

import math

import keras
from keras import ops

from keras_lstm_variants._arguments import check_bool
from keras_lstm_variants._arguments import check_positive_int
from keras_lstm_variants._arguments import check_rate
from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._xlstm_block import ACTIVATIONS
from keras_lstm_variants._xlstm_block import XLSTMBlockBase
from keras_lstm_variants._xlstm_block import causal_conv
from keras_lstm_variants._xlstm_block import check_factor
from keras_lstm_variants._xlstm_block import gated_feedforward
from keras_lstm_variants._xlstm_block import headwise
from keras_lstm_variants._xlstm_block import projected_size
from keras_lstm_variants._xlstm_block import residual_norm
from keras_lstm_variants.slstm import SLSTM
from keras_lstm_variants.slstm import PowerLawForgetBias
from keras_lstm_variants.slstm import SLSTMCell


class GateInputSLSTMCell(SLSTMCell):
    """`SLSTMCell` whose inputs are its gates' input parts, computed by the
    block (the official cell's input): it has no `kernel`, only the
    recurrent kernel and the bias."""

    def add_kernel(self, features, width, initializer=None, name="kernel"):
        if name == "kernel":
            return None
        return super().add_kernel(features, width, initializer, name)

    def input_part(self, inputs, dropout_mask=None, kernel=None):
        return inputs + self.bias


class GateInputSLSTM(SLSTM):
    """The sLSTM layer over `GateInputSLSTMCell`: the input parts for all
    steps get the bias at once, then the loop multiplies h by the
    block-diagonal recurrent kernel, built once per sequence."""

    cell_class = GateInputSLSTMCell

    def loop_step(self, inputs, initial_state, training):
        cell = self.cell
        recurrent_kernel = cell.block_diagonal_recurrent_kernel()
        inputs = cell.input_part(inputs)

        def step(x_t, states):
            return cell._step(x_t, states, None, recurrent_kernel)

        return inputs, step


@serializable
class SLSTMBlock(XLSTMBlockBase):
    r"""xLSTM's sLSTM block: the official `sLSTMBlock`, in Keras.

    For an input $x$ `(batch, T, E)`, in $H$ = `num_heads` heads of
    $d = E / H$ units:

    $$
    \begin{aligned}
    u &= \mathrm{LN}(x), \quad c = \mathrm{SiLU}(\mathrm{conv}_K(u)) \\
    [\tilde\imath, \tilde f, \tilde z, \tilde o] &= [\mathrm{hw}_i(c),
        \mathrm{hw}_f(c), \mathrm{hw}_z(u), \mathrm{hw}_o(u)] \\
    h &= \mathrm{sLSTM}(\tilde\imath, \tilde f, \tilde z, \tilde o) \\
    x' &= x + \mathrm{GN}_H(\mathrm{dropout}(h)) \\
    [g, v] &= \mathrm{LN}'(x')\, W_{up} \\
    y &= x' + \mathrm{dropout}_{ff}\big((\mathrm{act}(g) \odot v)
        W_{down}\big)
    \end{aligned}
    $$

    where LN, LN' are LayerNorms without bias, $\mathrm{conv}_K$ a causal
    depthwise convolution of `conv1d_kernel_size` taps with bias ($c = u$
    for 0 taps), $\mathrm{hw}$ a block-diagonal projection (one $d \times
    d$ block per head, no bias), sLSTM `SLSTMCell`'s recurrence (its
    recurrent kernel block-diagonal over the heads, its bias, states
    `[h, c, n, m]`), GN a norm per head without bias, act the feed-forward's
    activation (`ff_act_fn`). Norms scale by $1 + w$ (the official stores
    the offset $w$, zero at first). The feed-forward's inner size $P$ is
    `ff_proj_factor` $\cdot E$ rounded up to a multiple of 64, as the
    official; `feedforward=False` leaves its three lines out.

    One quirk of the official layer is kept, since its weights are what
    they are: it computes `i, f, z, o = fgate(c), igate(c), zgate(u),
    ogate(u)`, so its projection named `fgate` feeds the input gate and
    `igate` the forget gate. Ours are named by the gate they feed:
    `migrate.from_xlstm` puts the official `fgate` in $\mathrm{hw}_i$.

    Weights, in `get_weights()` order (the block's, then its sLSTM's):
    `norm` $(E)$; `conv_kernel` $(K, E)$ (tap $K - 1$ multiplies the
    current step) and `conv_bias` $(E)$ if $K > 0$; `gate_kernel`
    $(4, H, d, d)$ (gate $i, f, z, o$, head, out, in); `group_norm` $(E)$
    if `group_norm_weight`; with the feed-forward, `ffn_norm` $(E)$,
    `ffn_up_kernel` $(E, 2P)$ (blocks $g, v$), `ffn_up_bias`* $(2P)$,
    `ffn_down_kernel` $(P, E)$, `ffn_down_bias`* $(E)$ (* if `ff_bias`);
    then the sLSTM's `recurrent_kernel` $(H, d, 4d)$ and `bias` $(4E)$ in
    `SLSTMCell`'s layouts.

    The official initialisation is the default: the gate and up
    projections' "small init" $N(0, \sqrt{2 / 5E})$, the down-projection's
    $N(0, 2 / (n \sqrt E))$ for a stack of $n$ = `num_blocks`, the
    recurrent kernel zeros, the bias `PowerLawForgetBias` for block
    `block_index` of `num_blocks`, norms' offsets zeros, the convolution
    as PyTorch's `Conv1d` ($U(\pm 1 / \sqrt K)$).

    Args:
        num_heads: Positive integer dividing $E$, the sLSTM's heads.
            Defaults to `4`.
        conv1d_kernel_size: Non-negative integer, the convolution's taps
            (0: no convolution; 1, on which the official forward fails, the
            current step alone). Defaults to `4`.
        group_norm_weight: Whether the per-head norm has a weight.
            Defaults to `True`.
        dropout: Float in [0, 1), dropout of the sLSTM's outputs before the
            norm (the official layer's). Defaults to `0.0`.
        feedforward: Whether the block has its gated feed-forward. Defaults
            to `True`.
        ff_proj_factor: Positive float, the feed-forward's inner units per
            input unit. Defaults to `1.3`.
        ff_act_fn: The feed-forward's activation, by the official name:
            `"gelu"` (exact, as PyTorch's), `"relu"`, `"relu^2"`,
            `"sigmoid"`, `"swish"` or `"selu"`. Defaults to `"gelu"`.
        ff_dropout: Float in [0, 1), dropout of the feed-forward's output.
            Defaults to `0.0`.
        ff_bias: Whether the feed-forward's projections have biases.
            Defaults to `False`.
        round_proj_up_dim_up: Whether $P$ is rounded up (else down).
            Defaults to `True`.
        round_proj_up_to_multiple_of: Positive integer. Defaults to `64`.
        num_blocks: Positive integer, the stack's number of blocks, for the
            initialisation. Defaults to `1`.
        block_index: Integer in [0, num_blocks), this block's place in the
            stack, for the forget gate's initial bias. Defaults to `0`.
        return_state: Whether the call also returns the states to continue
            from: `[conv, h, c, n, m]`, the convolution's last $K - 1$
            inputs `(batch, K - 1, E)` (absent without convolution), and
            four `(batch, E)`. Defaults to `False`.
        seed: Seed of the initializers and of dropout. Defaults to `None`.
        **kwargs: Base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        - `inputs`: Tensor `(batch, T, E)`.
        - `initial_state`: The states a previous call returned, to continue
          the sequence (generation: the prompt, then one token at a time).
        - `training`: Whether dropout is applied.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import SLSTMBlock
        >>> x = np.random.default_rng(0).normal(size=(2, 12, 8))
        >>> block = SLSTMBlock(num_heads=2, return_state=True)
        >>> y, *states = block(x.astype("float32"))
        >>> tuple(y.shape), [tuple(s.shape) for s in states]
        ((2, 12, 8), [(2, 3, 8), (2, 8), (2, 8), (2, 8), (2, 8)])

    References:
        - Beck, Pöppel, Spanring, Auer, Prudnikova, Kopp, Klambauer,
          Brandstetter & Hochreiter, "xLSTM: Extended Long Short-Term
          Memory", NeurIPS 2024, arXiv:2405.04517.
    """

    def __init__(
        self,
        num_heads=4,
        conv1d_kernel_size=4,
        group_norm_weight=True,
        dropout=0.0,
        feedforward=True,
        ff_proj_factor=1.3,
        ff_act_fn="gelu",
        ff_dropout=0.0,
        ff_bias=False,
        round_proj_up_dim_up=True,
        round_proj_up_to_multiple_of=64,
        num_blocks=1,
        block_index=0,
        return_state=False,
        seed=None,
        **kwargs,
    ):
        self.num_heads = check_positive_int("num_heads", num_heads)
        if (
            isinstance(conv1d_kernel_size, bool)
            or not isinstance(conv1d_kernel_size, int)
            or conv1d_kernel_size < 0
        ):
            raise ValueError(
                "Argument `conv1d_kernel_size` must be a non-negative integer"
                " (0: no convolution). Received: "
                f"conv1d_kernel_size={conv1d_kernel_size!r}."
            )
        self.conv1d_kernel_size = conv1d_kernel_size
        self.group_norm_weight = check_bool(
            "group_norm_weight", group_norm_weight
        )
        self.feedforward = check_bool("feedforward", feedforward)
        self.ff_proj_factor = check_factor("ff_proj_factor", ff_proj_factor)
        if ff_act_fn not in ACTIVATIONS:
            raise ValueError(
                f"Argument `ff_act_fn` must be one of {sorted(ACTIVATIONS)}."
                f" Received: ff_act_fn={ff_act_fn!r}."
            )
        self.ff_act_fn = ff_act_fn
        self.ff_dropout = check_rate("ff_dropout", ff_dropout)
        if self.ff_dropout == 1.0:
            raise ValueError(
                "Argument `ff_dropout` must be below 1. Received: "
                "ff_dropout=1.0."
            )
        self.ff_bias = check_bool("ff_bias", ff_bias)
        self.round_proj_up_dim_up = check_bool(
            "round_proj_up_dim_up", round_proj_up_dim_up
        )
        self.round_proj_up_to_multiple_of = check_positive_int(
            "round_proj_up_to_multiple_of", round_proj_up_to_multiple_of
        )
        # Checks num_blocks and block_index, with their names.
        forget_bias = PowerLawForgetBias(
            num_heads=self.num_heads, block_index=block_index,
            num_blocks=num_blocks,
        )
        self.num_blocks, self.block_index = num_blocks, block_index
        super().__init__(dropout=dropout, return_state=return_state,
                         seed=seed, **kwargs)
        wide = self.dtype_policy.variable_dtype
        self.slstm = None  # built for the input's features, in `build`
        self._forget_bias = forget_bias
        self._dropouts = [
            keras.layers.Dropout(rate, seed=self.seed_for(name), dtype=wide)
            for rate, name in ((self.dropout, "dropout"),
                               (self.ff_dropout, "ff_dropout"))
        ]

    def build(self, input_shape):
        features = self.check_features(input_shape)
        heads = self.num_heads
        if features % heads:
            raise ValueError(
                f"Argument `num_heads` must divide the features {features}. "
                f"Received: num_heads={heads}."
            )
        self.features, self.head_size = features, features // heads
        small = math.sqrt(2 / (5 * features))
        add, taps = self.add, self.conv1d_kernel_size
        self.norm = add("norm", (features,), "Zeros")
        self.conv_kernel = self.conv_bias = None
        if taps:
            bound = 1 / math.sqrt(taps)
            self.conv_kernel = add("conv_kernel", (taps, features),
                                   "RandomUniform", minval=-bound,
                                   maxval=bound)
            self.conv_bias = add("conv_bias", (features,), "RandomUniform",
                                 minval=-bound, maxval=bound)
        d = self.head_size
        self.gate_kernel = add("gate_kernel", (4, heads, d, d),
                               "RandomNormal", stddev=small)
        self.group_norm = None
        if self.group_norm_weight:
            self.group_norm = add("group_norm", (features,), "Zeros")
        if self.feedforward:
            inner = projected_size(self, "ff_proj_factor",
                                   self.ff_proj_factor, features)
            self.ff_inner = inner
            self.ffn_norm = add("ffn_norm", (features,), "Zeros")
            self.ffn_up_kernel = add("ffn_up_kernel", (features, 2 * inner),
                                     "RandomNormal", stddev=small)
            self.ffn_up_bias = (
                add("ffn_up_bias", (2 * inner,), "Zeros")
                if self.ff_bias else None
            )
            self.ffn_down_kernel = add(
                "ffn_down_kernel", (inner, features), "RandomNormal",
                stddev=2 / self.num_blocks / math.sqrt(features),
            )
            self.ffn_down_bias = (
                add("ffn_down_bias", (features,), "Zeros")
                if self.ff_bias else None
            )
        self.slstm = GateInputSLSTM(
            features, num_heads=heads, return_sequences=True,
            return_state=True, bias_initializer=self._forget_bias,
            dtype=self.dtype_policy.variable_dtype, name="slstm",
        )
        self.slstm.build((None, None, 4 * features))

    def state_shapes(self, batch):
        """The shapes of `[conv, h, c, n, m]` (no `conv` without a
        convolution) for a batch of `batch`."""
        conv = [(batch, self.conv1d_kernel_size - 1, self.features)]
        return conv[:bool(self.conv1d_kernel_size)] + [
            (batch, self.features)
        ] * 4

    def call(self, inputs, initial_state=None, mask=None, training=False):
        self.refuse_mask(mask)
        wide = self.wide
        states = self.initial_state(inputs, initial_state)
        conv_state = states.pop(0) if self.conv1d_kernel_size else None
        x = wide(inputs)
        u = residual_norm(x, wide(self.norm))
        c = u
        if conv_state is not None:
            c, conv_state = causal_conv(
                u, conv_state, wide(self.conv_kernel), wide(self.conv_bias)
            )
            c = ops.silu(c)
        kernel = wide(self.gate_kernel)
        gates = ops.concatenate(
            [headwise(source, kernel[g])
             for g, source in enumerate((c, c, u, u))],
            axis=-1,
        )
        h, *states = self.slstm(gates, initial_state=states)
        h = self._dropouts[0](h, training=training)
        x = x + residual_norm(h, wide(self.group_norm),
                              groups=self.num_heads)
        if self.feedforward:
            y = gated_feedforward(
                residual_norm(x, wide(self.ffn_norm)),
                wide(self.ffn_up_kernel), wide(self.ffn_up_bias),
                wide(self.ffn_down_kernel), wide(self.ffn_down_bias),
                self.ff_act_fn,
            )
            x = x + self._dropouts[1](y, training=training)
        if conv_state is not None:
            states = [conv_state, *states]
        return self.outputs(inputs, x, states)

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "conv1d_kernel_size": self.conv1d_kernel_size,
            "group_norm_weight": self.group_norm_weight,
            "feedforward": self.feedforward,
            "ff_proj_factor": self.ff_proj_factor,
            "ff_act_fn": self.ff_act_fn,
            "ff_dropout": self.ff_dropout,
            "ff_bias": self.ff_bias,
            "round_proj_up_dim_up": self.round_proj_up_dim_up,
            "round_proj_up_to_multiple_of": self.round_proj_up_to_multiple_of,
            "num_blocks": self.num_blocks,
            "block_index": self.block_index,
        }
