r"""xLSTM's mLSTM block as the paper builds it (Beck et al. 2024), equal to
the official `xlstm` package's `mLSTMBlock`: pre-LayerNorm, up-projection,
causal convolution, the mLSTM with its per-head norm, learnable skip, SiLU
output gating, down-projection, residual.

It runs the mLSTM by the parallel or the chunkwise form
(`_mlstm_forms.py`), and generates token by token from the states it
returns (`return_state=True`, then `initial_state`): the convolution's last
inputs and the mLSTM's `(C, n, m)`.
"""

import math

import keras
from keras import ops

from keras_lstm_variants._arguments import check_bool
from keras_lstm_variants._arguments import check_positive_int
from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._layer import at_least
from keras_lstm_variants._mlstm_forms import mlstm_sequence
from keras_lstm_variants._tuning import CHUNKWISE_FROM_STEPS
from keras_lstm_variants._xlstm_block import XLSTMBlockBase
from keras_lstm_variants._xlstm_block import causal_conv
from keras_lstm_variants._xlstm_block import check_factor
from keras_lstm_variants._xlstm_block import headwise
from keras_lstm_variants._xlstm_block import projected_size
from keras_lstm_variants._xlstm_block import residual_norm
from keras_lstm_variants.mlstm import official_gate_bias

MODES = ("auto", "parallel", "chunkwise")


@serializable
class MLSTMBlock(XLSTMBlockBase):
    r"""xLSTM's mLSTM block: the official `mLSTMBlock`, in Keras.

    For an input $x$ `(batch, T, E)`, with $I$ inner units (`proj_factor`
    $\cdot E$ rounded up to a multiple of 64, as the official) in $H$ =
    `num_heads` heads of $d = I / H$:

    $$
    \begin{aligned}
    [x_m, z] &= \mathrm{LN}(x)\, W_{up} \\
    c &= \mathrm{SiLU}(\mathrm{conv}_K(x_m)) \\
    q &= \mathrm{hw}_q(c), \quad k = \mathrm{hw}_k(c), \quad
        v = \mathrm{hw}_v(x_m) \\
    [\tilde i, \tilde f] &= [q, k, v]\, [W_i, W_f] + [b_i, b_f] \\
    \tilde h &= \mathrm{GN}_H(\mathrm{mLSTM}(q, k, v, \tilde i, \tilde f))
        + s \odot c \\
    y &= x + \mathrm{dropout}\big((\tilde h \odot \mathrm{SiLU}(z))
        W_{down}\big)
    \end{aligned}
    $$

    where LN is a LayerNorm without bias, $\mathrm{conv}_K$ a causal
    depthwise convolution of `conv1d_kernel_size` taps (with bias),
    $\mathrm{hw}$ a block-diagonal projection of blocks of
    `qkv_proj_blocksize`, mLSTM the stabilised matrix memory
    (`MLSTMCell`'s equations without its output gate), GN a norm per head
    without bias, $s$ the learnable skip. Both norms scale by
    $1 + w$ (the official stores the offset $w$, zero at first).

    Weights, in `get_weights()` order (`bias=True` adds the four biases
    marked *): `norm` $(E)$; `up_kernel` $(E, 2I)$, `up_bias`* $(2I)$;
    `conv_kernel` $(K, I)$ (tap $K - 1$ multiplies the current step),
    `conv_bias` $(I)$; `q_kernel`, `k_kernel`, `v_kernel`
    $(I / b, b, b)$ (head, out, in), `q_bias`*, `k_bias`*, `v_bias`* $(I)$
    (one entry for the three); `gate_kernel` $(3I, 2H)$ and `gate_bias`
    $(2H)$, blocks $i, f$; `head_norm` $(I)$; `skip` $(I)$;
    `down_kernel` $(I, E)$, `down_bias`* $(E)$. `migrate.from_xlstm`
    reads an official block into them.

    The official initialisation is the default: the projections' "small
    init" $N(0, \sqrt{2 / 5E})$, the down-projection's $N(0, 2 / (n
    \sqrt E))$ for a stack of $n$ = `num_blocks`, the gates' kernel zeros,
    the input gate's bias $N(0, 0.1)$, the forget gate's spaced from 3 to 6
    over the heads, norms' offsets zeros, skip ones, the convolution as
    PyTorch's `Conv1d` ($U(\pm 1 / \sqrt K)$).

    Args:
        num_heads: Positive integer, the mLSTM's heads. Defaults to `4`.
        proj_factor: Positive float, inner units per input unit. Defaults
            to `2.0`.
        round_proj_up_dim_up: Whether `proj_factor * E` is rounded up (else
            down) to a multiple of `round_proj_up_to_multiple_of`, the inner
            size $I$. Defaults to `True`.
        round_proj_up_to_multiple_of: Positive integer. Defaults to `64`.
        conv1d_kernel_size: Positive integer, the convolution's taps (1, on
            which the official forward fails, is the current step alone).
            Defaults to `4`.
        qkv_proj_blocksize: Positive integer dividing $I$, the size of the
            q, k, v projections' blocks. Defaults to `4`.
        bias: Whether the projections have biases. Defaults to `False`.
        dropout: Float in [0, 1), dropout of the block's output before the
            residual. Defaults to `0.0`.
        num_blocks: Positive integer, the stack's number of blocks, for the
            down-projection's initialisation. Defaults to `1`.
        mode: `"auto"`, `"parallel"` or `"chunkwise"`: the mLSTM's form
            over a sequence (`MLSTM`'s). Defaults to `"auto"`.
        chunk_size: Positive integer, the chunkwise form's steps per chunk.
            Defaults to `64`.
        return_state: Whether the call also returns the states to continue
            from: `[conv, C, n, m]`, the convolution's last $K - 1$ inputs
            `(batch, K - 1, I)`, and `(batch, H, d, d)`, `(batch, H, d)`,
            `(batch, H)`. Defaults to `False`.
        seed: Seed of the initializers and of dropout. Defaults to `None`.
        **kwargs: Base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        - `inputs`: Tensor `(batch, T, E)`.
        - `initial_state`: The states a previous call returned, to continue
          the sequence (generation: the prompt, then one token at a time).
        - `training`: Whether dropout is applied.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import MLSTMBlock
        >>> x = np.random.default_rng(0).normal(size=(2, 12, 8))
        >>> block = MLSTMBlock(num_heads=2, return_state=True)
        >>> y, *states = block(x.astype("float32"))
        >>> tuple(y.shape), [tuple(s.shape) for s in states]
        ((2, 12, 8), [(2, 3, 64), (2, 2, 32, 32), (2, 2, 32), (2, 2)])

    References:
        - Beck, Pöppel, Spanring, Auer, Prudnikova, Kopp, Klambauer,
          Brandstetter & Hochreiter, "xLSTM: Extended Long Short-Term
          Memory", NeurIPS 2024, arXiv:2405.04517.
    """

    def __init__(
        self,
        num_heads=4,
        proj_factor=2.0,
        round_proj_up_dim_up=True,
        round_proj_up_to_multiple_of=64,
        conv1d_kernel_size=4,
        qkv_proj_blocksize=4,
        bias=False,
        dropout=0.0,
        num_blocks=1,
        mode="auto",
        chunk_size=64,
        return_state=False,
        seed=None,
        **kwargs,
    ):
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.proj_factor = check_factor("proj_factor", proj_factor)
        self.round_proj_up_to_multiple_of = check_positive_int(
            "round_proj_up_to_multiple_of", round_proj_up_to_multiple_of
        )
        self.round_proj_up_dim_up = check_bool(
            "round_proj_up_dim_up", round_proj_up_dim_up
        )
        self.conv1d_kernel_size = check_positive_int(
            "conv1d_kernel_size", conv1d_kernel_size
        )
        self.qkv_proj_blocksize = check_positive_int(
            "qkv_proj_blocksize", qkv_proj_blocksize
        )
        self.num_blocks = check_positive_int("num_blocks", num_blocks)
        if mode not in MODES:
            raise ValueError(
                f"Argument `mode` must be one of {MODES}. "
                f"Received: mode={mode!r}."
            )
        self.chunk_size = check_positive_int("chunk_size", chunk_size)
        super().__init__(dropout=dropout, return_state=return_state,
                         seed=seed, **kwargs)
        self.bias = check_bool("bias", bias)
        self.mode = mode
        # In the variable dtype, as the rest of the block computes.
        self._dropout = keras.layers.Dropout(
            self.dropout, seed=seed, dtype=self.dtype_policy.variable_dtype
        )

    def build(self, input_shape):
        features = self.check_features(input_shape)
        inner = projected_size(self, "proj_factor", self.proj_factor,
                               features)
        heads, block = self.num_heads, self.qkv_proj_blocksize
        for name, size in (("num_heads", heads), ("qkv_proj_blocksize",
                                                  block)):
            if inner % size:
                raise ValueError(
                    f"Argument `{name}` must divide the inner size {inner} "
                    "(proj_factor * features, rounded). Received: "
                    f"{name}={size}, proj_factor={self.proj_factor}, "
                    f"features={features}."
                )
        self.features, self.inner = features, inner
        self.head_size = inner // heads
        small = math.sqrt(2 / (5 * features))
        taps = 1 / math.sqrt(self.conv1d_kernel_size)
        add = self.add

        def bias(name, size):
            return add(name, (size,), "Zeros") if self.bias else None

        self.norm = add("norm", (features,), "Zeros")
        self.up_kernel = add(
            "up_kernel", (features, 2 * inner), "RandomNormal", stddev=small
        )
        self.up_bias = bias("up_bias", 2 * inner)
        self.conv_kernel = add(
            "conv_kernel", (self.conv1d_kernel_size, inner), "RandomUniform",
            minval=-taps, maxval=taps,
        )
        self.conv_bias = add(
            "conv_bias", (inner,), "RandomUniform", minval=-taps,
            maxval=taps,
        )
        for name in "qkv":
            setattr(self, f"{name}_kernel", add(
                f"{name}_kernel", (inner // block, block, block),
                "RandomNormal", stddev=small,
            ))
        for name in "qkv":
            setattr(self, f"{name}_bias", bias(f"{name}_bias", inner))
        self.gate_kernel = add("gate_kernel", (3 * inner, 2 * heads),
                               "Zeros")
        self._input_gate_bias = self.initializer(
            "RandomNormal", "input_gate_bias", stddev=0.1
        )
        self.gate_bias = self.add_weight(
            shape=(2 * heads,), name="gate_bias",
            initializer=self._gate_bias, autocast=False,
        )
        self.head_norm = add("head_norm", (inner,), "Zeros")
        self.skip = add("skip", (inner,), "Ones")
        self.down_kernel = add(
            "down_kernel", (inner, features), "RandomNormal",
            stddev=2 / self.num_blocks / math.sqrt(features),
        )
        self.down_bias = bias("down_bias", features)

    def _gate_bias(self, shape, dtype=None):
        return official_gate_bias(self._input_gate_bias, self.num_heads, dtype)

    def state_shapes(self, batch):
        """The shapes of `[conv, C, n, m]` for a batch of `batch`."""
        heads, d = self.num_heads, self.head_size
        return [
            (batch, self.conv1d_kernel_size - 1, self.inner),
            (batch, heads, d, d), (batch, heads, d), (batch, heads),
        ]

    def call(self, inputs, initial_state=None, mask=None, training=False):
        self.refuse_mask(mask)
        wide = self.wide
        conv_state, C0, n0, m0 = self.initial_state(inputs, initial_state)
        x = wide(inputs)
        up = ops.matmul(residual_norm(x, wide(self.norm)),
                        wide(self.up_kernel))
        if self.up_bias is not None:
            up = up + wide(self.up_bias)
        x_m, z = ops.split(up, 2, axis=-1)
        conv, conv_state = causal_conv(
            x_m, conv_state, wide(self.conv_kernel), wide(self.conv_bias)
        )
        c = ops.silu(conv)
        q = headwise(c, wide(self.q_kernel), wide(self.q_bias))
        k = headwise(c, wide(self.k_kernel), wide(self.k_bias))
        v = headwise(x_m, wide(self.v_kernel), wide(self.v_bias))
        gates = ops.matmul(
            ops.concatenate([q, k, v], axis=-1), wide(self.gate_kernel)
        ) + wide(self.gate_bias)
        i_pre, f_pre = ops.split(gates, 2, axis=-1)
        heads = self.num_heads
        chunkwise = self._chunkwise(inputs.shape[1])
        h, (C, n, m) = mlstm_sequence(
            q, k, v, i_pre, f_pre, (C0, n0, m0), heads,
            chunk_size=self.chunk_size if chunkwise else None,
        )
        h = residual_norm(h, wide(self.head_norm), groups=heads)
        h = h + wide(self.skip) * c
        y = ops.matmul(h * ops.silu(z), wide(self.down_kernel))
        if self.down_bias is not None:
            y = y + wide(self.down_bias)
        y = self._dropout(y, training=training)
        return self.outputs(inputs, x + y, (conv_state, C, n, m))

    def _chunkwise(self, steps):
        if self.mode == "chunkwise" and steps is None:
            raise ValueError(
                "mode='chunkwise' needs the number of steps when the block is "
                "traced: build the model with it (`keras.Input((steps, "
                "features))`), or pass mode='auto' (the parallel form then). "
                "Received: mode='chunkwise', inputs with an unknown number "
                "of steps."
            )
        if self.mode != "auto":
            return self.mode == "chunkwise"
        return steps is not None and at_least(
            CHUNKWISE_FROM_STEPS, steps
        )

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "proj_factor": self.proj_factor,
            "round_proj_up_dim_up": self.round_proj_up_dim_up,
            "round_proj_up_to_multiple_of": self.round_proj_up_to_multiple_of,
            "conv1d_kernel_size": self.conv1d_kernel_size,
            "qkv_proj_blocksize": self.qkv_proj_blocksize,
            "bias": self.bias,
            "num_blocks": self.num_blocks,
            "mode": self.mode,
            "chunk_size": self.chunk_size,
        }

