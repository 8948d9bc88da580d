"""The GRU (Cho et al. 2014), as `keras.layers.GRU` computes it."""

from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._gru import GRUCellBase
from keras_lstm_variants._gru_layer import GRULayerBase


@serializable
class GRUCell(GRUCellBase):
    r"""The standard GRU cell, `keras.layers.GRUCell` with zoneout.

    $$
    \begin{aligned}
    z_t &= \sigma(x_t W_z + b_z + h_{t-1} U_z + b'_z), \quad
    r_t = \sigma(x_t W_r + b_r + h_{t-1} U_r + b'_r) \\
    \tilde h_t &= \tanh\big(x_t W_h + b_h + r_t \odot (h_{t-1} U_h + b'_h)\big)
    \quad \text{(`reset_after=True`)} \\
    \tilde h_t &= \tanh\big(x_t W_h + b_h + (r_t \odot h_{t-1}) U_h\big)
    \quad \text{(`reset_after=False`)} \\
    h_t &= z_t \odot h_{t-1} + (1 - z_t) \odot \tilde h_t
    \end{aligned}
    $$

    Numerically `keras.layers.GRUCell` (the same sums in the same order),
    and the same seed gives the same weights. With `reset_after=True` (the
    default, cuDNN's form) the step is the standard GRU op, which the fused
    kernels run (cuDNN, PyTorch's native GRU op, OpenVINO's GRU sequence
    op).

    Weights, in `get_weights()` order (Keras's layout, so
    `set_weights(keras_gru.get_weights())` carries a model over): `kernel`
    $W$ $(D, 3U)$ and `recurrent_kernel` $U$ $(U, 3U)$, gate blocks
    $z, r, h$; `bias` $(2, 3U)$ with `reset_after=True` (row 0 the input
    bias $b$, row 1 the recurrent bias $b'$), $(3U,)$ with
    `reset_after=False` (there is no $b'$).

    Args:
        units: Positive integer, the size of h.
        **kwargs: Every argument of `keras.layers.GRUCell` (`activation`,
            `reset_after`, `dropout`, `recurrent_dropout`, ...), `zoneout`
            (see `GRUCellBase`), and the base layer arguments.

    Examples:
        >>> import numpy as np, keras
        >>> from keras_lstm_variants import GRUCell
        >>> cell = GRUCell(4)
        >>> tuple(keras.layers.RNN(cell)(np.ones((2, 10, 8), "float32")).shape)
        (2, 4)
        >>> [tuple(w.shape) for w in cell.weights]
        [(8, 12), (4, 12), (2, 12)]

    References:
        - Cho, van Merriënboer, Gulcehre, Bahdanau, Bougares, Schwenk &
          Bengio, "Learning Phrase Representations using RNN Encoder-Decoder
          for Statistical Machine Translation", EMNLP 2014.
    """


@serializable
class GRU(GRULayerBase):
    r"""The GRU layer, a drop-in replacement for `keras.layers.GRU`.

    It runs `GRUCell` over a sequence and takes every argument of
    `keras.layers.GRU` (plus `zoneout`). Where `keras.layers.GRU` would use
    the backend's fused kernel (cuDNN on a GPU: `tanh`/`sigmoid`,
    `reset_after=True`, `use_bias`, no recurrent dropout, no unroll,
    right-padded mask), so does this layer; on PyTorch it runs PyTorch's
    native GRU op where there is no mask, and on OpenVINO its GRU sequence
    op; otherwise the portable loop.

    Args:
        units: Positive integer, the size of h.
        use_cudnn: `"auto"` uses the fused backend kernel when possible,
            `True` requires it, `False` never uses it. Defaults to `"auto"`.
        **kwargs: Every argument of `GRUCell` and of `keras.layers.RNN`
            (`return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll`, `zero_output_for_mask`, `activity_regularizer`), and
            the base layer arguments.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import GRU
        >>> output, h = GRU(4, return_sequences=True, return_state=True)(
        ...     np.ones((2, 10, 8), "float32"))
        >>> tuple(output.shape), tuple(h.shape)
        ((2, 10, 4), (2, 4))
    """

    cell_class = GRUCell
