"""The minimal gated unit, MGU (Zhou, Wu, Zhang & Zhou 2016)."""

from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._gru import GRUCellBase
from keras_lstm_variants._gru_layer import GRULayerBase


@serializable
class MGUCell(GRUCellBase):
    r"""Minimal gated unit: a GRU whose one gate both resets and updates.

    The GRU, except: a single forget gate $f$ plays the reset gate and, as
    $1 - f$, the update gate.

    $$
    \begin{aligned}
    f_t &= \sigma(x_t W_f + b_f + h_{t-1} U_f) \\
    \tilde h_t &= \tanh\big(x_t W_h + b_h + (f_t \odot h_{t-1}) U_h\big) \\
    h_t &= (1 - f_t) \odot h_{t-1} + f_t \odot \tilde h_t
    \end{aligned}
    $$

    Two thirds of a GRU's weights. The paper's formulation resets before
    the matmul (`reset_after=False`, the default here); with
    `reset_after=True` the candidate is $\tanh(x_t W_h + b_h + f_t \odot
    (h_{t-1} U_h + b'_h))$ and the bias has Keras's two rows.

    Weights, in `get_weights()` order: `kernel` $(D, 2U)$ and
    `recurrent_kernel` $(U, 2U)$, gate blocks $f, h$; `bias` $(2U,)$, or
    $(2, 2U)$ with `reset_after=True`.

    Args:
        units: Positive integer, the size of h.
        reset_after: Whether $f$ multiplies $h U_h$ rather than $h$.
            Defaults to `False` (the paper's).
        **kwargs: Every other argument of `GRUCell`.

    Examples:
        >>> import numpy as np, keras
        >>> from keras_lstm_variants import MGUCell
        >>> cell = MGUCell(4)
        >>> tuple(keras.layers.RNN(cell)(np.ones((2, 10, 8), "float32")).shape)
        (2, 4)
        >>> [tuple(w.shape) for w in cell.weights]
        [(8, 8), (4, 8), (8,)]

    References:
        - Zhou, Wu, Zhang & Zhou, "Minimal Gated Unit for Recurrent Neural
          Networks", International Journal of Automation and Computing,
          2016, arXiv:1603.09420.
    """

    gates = ("f", "h")

    def __init__(self, units, reset_after=False, **kwargs):
        super().__init__(units, reset_after=reset_after, **kwargs)

    def update_gate(self, g):
        return 1.0 - g["f"]

    def reset_gate(self, g):
        return g["f"]


@serializable
class MGU(GRULayerBase):
    r"""Minimal gated unit layer, over `MGUCell`.

    Takes every argument of `GRU` (see there) with `MGUCell`'s defaults; no
    fused kernel computes it, so it runs the portable loop.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import MGU
        >>> tuple(MGU(4)(np.ones((2, 10, 8), "float32")).shape)
        (2, 4)
    """

    cell_class = MGUCell
