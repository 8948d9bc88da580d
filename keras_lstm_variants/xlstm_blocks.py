r"""xLSTM's blocks as the paper builds them (Beck et al. 2024), each equal to
the official `xlstm` package's module: `MLSTMBlock`, the official
`mLSTMBlock` (pre-LayerNorm, up-projection, causal convolution, the mLSTM
with its per-head norm, learnable skip, SiLU output gating,
down-projection, residual).

A block maps a sequence `(batch, T, E)` to one of the same shape. It runs
the mLSTM by the parallel or the chunkwise form (`_mlstm_forms.py`), and
generates token by token from the states it returns (`return_state=True`,
then `initial_state`): the convolution's last inputs and the mLSTM's
`(C, n, m)`.
"""

import math
import zlib

import keras
from keras import initializers
from keras import ops

from keras_lstm_variants._arguments import check_bool
from keras_lstm_variants._arguments import check_input_shape
from keras_lstm_variants._arguments import check_positive_int
from keras_lstm_variants._arguments import check_rate
from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._layer import at_least
from keras_lstm_variants._mlstm_forms import mlstm_sequence
from keras_lstm_variants._numerics import normalize
from keras_lstm_variants._numerics import wide_dtype
from keras_lstm_variants._tuning import CHUNKWISE_FROM_STEPS
from keras_lstm_variants.mlstm import official_gate_bias

# The official LayerNorm's and MultiHeadLayerNorm's epsilon.
NORM_EPSILON = 1e-5
MODES = ("auto", "parallel", "chunkwise")


def _residual_norm(x, weight, groups=1):
    """The official `LayerNorm` (`groups=1`) or `MultiHeadLayerNorm` (one
    group per head) without bias: x normalised over its last axis (within
    each group), scaled by `1 + weight` (the official stores the offset)."""
    shape = ops.shape(x)
    x = ops.reshape(x, (*shape[:-1], groups, shape[-1] // groups))
    x, _ = normalize(x, NORM_EPSILON)
    return ops.reshape(x, shape) * (1.0 + weight)


def _headwise(x, kernel, bias):
    """The official `LinearHeadwiseExpand`: `x` `(..., heads * size)` by
    `kernel` `(heads, out, size)`, head by head."""
    heads, _, size = kernel.shape
    shape = ops.shape(x)
    x = ops.reshape(x, (*shape[:-1], heads, size))
    x = ops.einsum("...hd,hod->...ho", x, kernel)
    x = ops.reshape(x, (*shape[:-1], -1))
    return x if bias is None else x + bias


@serializable
class MLSTMBlock(keras.layers.Layer):
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
        conv1d_kernel_size: Positive integer, the convolution's taps.
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
        if (
            isinstance(proj_factor, bool)
            or not isinstance(proj_factor, (int, float))
            or not 0 < proj_factor < math.inf
        ):
            raise ValueError(
                "Argument `proj_factor` must be a positive number. "
                f"Received: proj_factor={proj_factor!r}."
            )
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
        self.dropout = check_rate("dropout", dropout)
        if self.dropout == 1.0:
            raise ValueError(
                "Argument `dropout` must be below 1 (1 drops the whole "
                "block's output). Received: dropout=1.0."
            )
        self.num_blocks = check_positive_int("num_blocks", num_blocks)
        if mode not in MODES:
            raise ValueError(
                f"Argument `mode` must be one of {MODES}. "
                f"Received: mode={mode!r}."
            )
        self.chunk_size = check_positive_int("chunk_size", chunk_size)
        super().__init__(**kwargs)
        self.proj_factor = float(proj_factor)
        self.bias = check_bool("bias", bias)
        self.mode = mode
        self.return_state = check_bool("return_state", return_state)
        self.seed = seed
        # In the variable dtype, as the rest of the block computes.
        self._dropout = keras.layers.Dropout(
            self.dropout, seed=seed, dtype=self.dtype_policy.variable_dtype
        )
        # So that Keras hands a mask to `call`, which refuses it by name
        # (without, Keras drops it with a warning).
        self.supports_masking = True

    def _initializer(self, name, weight, **arguments):
        """Keras's initializer `name`, seeded from `seed` and the weight's
        name: blocks of different seeds draw different weights, and a
        weight's draw does not depend on which others exist."""
        if name in ("Zeros", "Ones"):
            return getattr(initializers, name)()
        seed = None
        if self.seed is not None:
            seed = zlib.crc32(f"{self.seed}/{weight}".encode()) % 2**31
        return getattr(initializers, name)(**arguments, seed=seed)

    def build(self, input_shape):
        check_input_shape(self, input_shape, ("batch", "timesteps", "features"))
        features = input_shape[-1]
        multiple = self.round_proj_up_to_multiple_of
        rounded = math.ceil if self.round_proj_up_dim_up else math.floor
        inner = int(rounded(self.proj_factor * features / multiple)) * multiple
        if inner < 1:
            raise ValueError(
                "MLSTMBlock's inner size rounds down to 0: raise "
                "`proj_factor` or round up. Received: "
                f"proj_factor={self.proj_factor}, features={features}, "
                f"round_proj_up_to_multiple_of={multiple}, "
                "round_proj_up_dim_up=False."
            )
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

        def weight(name, shape, initializer, **arguments):
            return self.add_weight(
                shape=shape, name=name,
                initializer=self._initializer(initializer, name, **arguments),
            )

        def bias(name, size):
            return weight(name, (size,), "Zeros") if self.bias else None

        self.norm = weight("norm", (features,), "Zeros")
        self.up_kernel = weight(
            "up_kernel", (features, 2 * inner), "RandomNormal", stddev=small
        )
        self.up_bias = bias("up_bias", 2 * inner)
        self.conv_kernel = weight(
            "conv_kernel", (self.conv1d_kernel_size, inner), "RandomUniform",
            minval=-taps, maxval=taps,
        )
        self.conv_bias = weight(
            "conv_bias", (inner,), "RandomUniform", minval=-taps,
            maxval=taps,
        )
        for name in "qkv":
            setattr(self, f"{name}_kernel", weight(
                f"{name}_kernel", (inner // block, block, block),
                "RandomNormal", stddev=small,
            ))
        for name in "qkv":
            setattr(self, f"{name}_bias", bias(f"{name}_bias", inner))
        self.gate_kernel = weight("gate_kernel", (3 * inner, 2 * heads),
                                  "Zeros")
        self._input_gate_bias = self._initializer(
            "RandomNormal", "input_gate_bias", stddev=0.1
        )
        self.gate_bias = self.add_weight(
            shape=(2 * heads,), name="gate_bias",
            initializer=self._gate_bias,
        )
        self.head_norm = weight("head_norm", (inner,), "Zeros")
        self.skip = weight("skip", (inner,), "Ones")
        self.down_kernel = weight(
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

    def _refuse(self, mask):
        if mask is not None:
            raise ValueError(
                f"{type(self).__name__} takes no mask yet (a padded step "
                "would have to keep the convolution's state as well as the "
                "mLSTM's). Remove the mask (`Embedding(mask_zero=False)`, no "
                "`Masking`) and pad at the end, where a causal block's "
                "outputs at the real steps do not see it. Received: a mask."
            )

    def _checked_state(self, state, inputs):
        """`state` as `[conv, C, n, m]`, each of its shape (`state_shapes`),
        or a `ValueError` that names what was received."""
        expected = self.state_shapes(inputs.shape[0])
        received = [tuple(getattr(s, "shape", ())) for s in state]
        if len(received) != len(expected) or any(
            len(r) != len(e) or any(
                a is not None and b is not None and a != b
                for a, b in zip(r, e, strict=True)
            )
            for r, e in zip(received, expected, strict=False)
        ):
            raise ValueError(
                f"Argument `initial_state` of {type(self).__name__} must be "
                "the states a call with return_state=True returned: [conv, "
                f"C, n, m] of shapes {expected}. Received: shapes {received}."
            )
        return state

    def compute_mask(self, inputs, mask=None):
        self._refuse(mask)
        return None

    def call(self, inputs, initial_state=None, mask=None, training=False):
        self._refuse(mask)
        batch, steps = ops.shape(inputs)[0], inputs.shape[1]
        dtype = wide_dtype(self.variable_dtype)

        def wide(t):  # every tensor and weight in float32 (or wider): the
            # weights as Keras hands them (rounded under mixed precision)
            return None if t is None else ops.cast(t, dtype)

        x = wide(inputs)
        if initial_state is None:
            initial_state = [
                ops.zeros(shape, dtype) for shape in self.state_shapes(batch)
            ]
        conv_state, C0, n0, m0 = map(
            wide, self._checked_state(initial_state, inputs)
        )
        up = ops.matmul(_residual_norm(x, wide(self.norm)),
                        wide(self.up_kernel))
        if self.up_bias is not None:
            up = up + wide(self.up_bias)
        x_m, z = ops.split(up, 2, axis=-1)
        # The causal convolution: the previous K - 1 inputs, then these.
        window = ops.concatenate([conv_state, x_m], axis=1)
        taps = self.conv1d_kernel_size
        length = ops.shape(x_m)[1]
        conv_kernel = wide(self.conv_kernel)
        conv = wide(self.conv_bias) + sum(
            window[:, tap:tap + length] * conv_kernel[tap]
            for tap in range(taps)
        )
        c = ops.silu(conv)
        q = _headwise(c, wide(self.q_kernel), wide(self.q_bias))
        k = _headwise(c, wide(self.k_kernel), wide(self.k_bias))
        v = _headwise(x_m, wide(self.v_kernel), wide(self.v_bias))
        gates = ops.matmul(
            ops.concatenate([q, k, v], axis=-1), wide(self.gate_kernel)
        ) + wide(self.gate_bias)
        i_pre, f_pre = ops.split(gates, 2, axis=-1)
        heads = self.num_heads
        h, (C, n, m) = mlstm_sequence(
            q, k, v, i_pre, f_pre, (C0, n0, m0), heads,
            chunk_size=self.chunk_size if self._chunkwise(steps) else None,
        )
        h = _residual_norm(h, wide(self.head_norm), groups=heads)
        h = h + wide(self.skip) * c
        y = ops.matmul(h * ops.silu(z), wide(self.down_kernel))
        if self.down_bias is not None:
            y = y + wide(self.down_bias)
        y = self._dropout(y, training=training)
        outputs = ops.cast(x + y, self.compute_dtype)
        if not self.return_state:
            return outputs
        conv_state = window[:, ops.shape(window)[1] - (taps - 1):]
        return [outputs] + [
            ops.cast(s, self.compute_dtype) for s in (conv_state, C, n, m)
        ]

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

    def compute_output_shape(self, inputs_shape, initial_state_shape=None):
        if not self.return_state:
            return tuple(inputs_shape)
        if not self.built:
            self.build(inputs_shape)
        return [tuple(inputs_shape)] + self.state_shapes(inputs_shape[0])

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
            "dropout": self.dropout,
            "num_blocks": self.num_blocks,
            "mode": self.mode,
            "chunk_size": self.chunk_size,
            "return_state": self.return_state,
            "seed": self.seed,
        }

