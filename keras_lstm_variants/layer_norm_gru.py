"""The layer-normalised GRU (Ba, Kiros & Hinton 2016), as haste computes it."""

from keras import constraints
from keras import ops
from keras import regularizers

from keras_lstm_variants._arguments import checked_initializer
from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._gru import GRUCellBase
from keras_lstm_variants._gru_layer import GRULayerBase
from keras_lstm_variants._numerics import normalization
from keras_lstm_variants._numerics import wide_dtype


@serializable
class LayerNormGRUCell(GRUCellBase):
    r"""GRU cell with layer normalisation of its two projections.

    The GRU (`reset_after=True`), except that $x_t W$ and $h_{t-1} U$ are
    each layer-normalised over all $3U$ of their columns, with a gain of
    their own and no shift (the biases after them shift), before the biases
    are added:

    $$
    \begin{aligned}
    [x_z, x_r, x_h] &= \mathrm{LN}(x_t W)\, \gamma_x + b, \qquad
    [h_z, h_r, h_h] = \mathrm{LN}(h_{t-1} U)\, \gamma_h + b' \\
    z_t &= \sigma(x_z + h_z), \quad r_t = \sigma(x_r + h_r) \\
    h_t &= z_t \odot h_{t-1} + (1 - z_t) \odot \tanh(x_h + r_t \odot h_h)
    \end{aligned}
    $$

    with $\mathrm{LN}(a) = (a - \bar a) / \sqrt{\mathrm{var}(a) +
    \epsilon}$. This is haste's `LayerNormGRU` (its `LayerNormGRUScript`,
    lmnt-com/haste, `frameworks/pytorch/layer_norm_gru.py`) with Keras's
    weight names: one normalisation over the three gates together (as
    haste's; Ba et al. leave the grouping open), gains initialised to 1, no
    $\beta$ (haste has none: $b$ and $b'$ follow), $\epsilon = 10^{-5}$
    (PyTorch's `layer_norm` default, which haste's CPU path uses), zoneout
    as haste's (`zoneout`). Where haste's `dropout` is DropConnect on $U$,
    this cell's `dropout` and `recurrent_dropout` are Keras's (masks on
    $x_t$ and $h_{t-1}$). The statistics are computed in float32 at least
    (`wide_dtype`).

    Weights, in `get_weights()` order: `kernel` $W$ $(D, 3U)$,
    `recurrent_kernel` $U$ $(U, 3U)$ (gate blocks $z, r, h$), `bias`
    $(2, 3U)$ (rows $b$, $b'$) if `use_bias`, then `norm_gamma` $(2, 3U)$
    (rows $\gamma_x$, $\gamma_h$): haste's `kernel`, `recurrent_kernel`,
    `[bias; recurrent_bias]` and `gamma`.

    Args:
        units: Positive integer, the size of h.
        norm_epsilon: The variance epsilon of the normalisations. Defaults
            to `1e-5`.
        norm_gamma_initializer: Initializer of `norm_gamma`. Defaults to
            `"ones"`.
        norm_gamma_regularizer: Regularizer of `norm_gamma`. Defaults to
            `None`.
        norm_gamma_constraint: Constraint on `norm_gamma`. Defaults to
            `None`.
        **kwargs: Every other argument of `GRUCell` (`reset_after` only
            True: the reset gate multiplies the normalised $h U$).

    Examples:
        >>> import numpy as np, keras
        >>> from keras_lstm_variants import LayerNormGRUCell
        >>> cell = LayerNormGRUCell(4)
        >>> tuple(keras.layers.RNN(cell)(np.ones((2, 10, 8), "float32")).shape)
        (2, 4)
        >>> [tuple(w.shape) for w in cell.weights]
        [(8, 12), (4, 12), (2, 12), (2, 12)]

    References:
        - Ba, Kiros & Hinton, "Layer Normalization", arXiv:1607.06450, 2016.
    """

    refused_arguments = {
        **GRUCellBase.refused_arguments,
        "reset_after": "the reset gate multiplies the normalised h U (as "
        "haste's LayerNormGRU)",
    }

    def __init__(
        self,
        units,
        norm_epsilon=1e-5,
        norm_gamma_initializer="ones",
        norm_gamma_regularizer=None,
        norm_gamma_constraint=None,
        **kwargs,
    ):
        if isinstance(norm_epsilon, bool) or not (
            isinstance(norm_epsilon, (int, float)) and norm_epsilon > 0
        ):
            raise ValueError(
                "Argument `norm_epsilon` must be a positive float. "
                f"Received: norm_epsilon={norm_epsilon!r}."
            )
        super().__init__(units, **kwargs)
        self.norm_epsilon = float(norm_epsilon)
        self.norm_gamma_initializer = checked_initializer(
            "norm_gamma_initializer", norm_gamma_initializer
        )
        self.norm_gamma_regularizer = regularizers.get(norm_gamma_regularizer)
        self.norm_gamma_constraint = constraints.get(norm_gamma_constraint)

    def build(self, input_shape):
        super().build(input_shape)
        self.norm_gamma = self.add_weight(
            shape=(2, len(self.gates) * self.units),
            name="norm_gamma",
            initializer=self.norm_gamma_initializer,
            regularizer=self.norm_gamma_regularizer,
            constraint=self.norm_gamma_constraint,
        )

    def _normalized(self, a, row):
        normalize = normalization(self.norm_epsilon, fast=True)
        wide = wide_dtype(self.variable_dtype)
        a_hat = ops.cast(normalize(ops.cast(a, wide)), a.dtype)
        return a_hat * ops.cast(self.norm_gamma[row], a.dtype)

    def input_projection(self, x, dropout_mask=None):
        return self._normalized(super().input_projection(x, dropout_mask), 0)

    def recurrent_projection(self, h, dropout_mask=None, gates=None):
        projection = super().recurrent_projection(h, dropout_mask, gates)
        return self._normalized(projection, 1)



@serializable
class LayerNormGRU(GRULayerBase):
    r"""Layer-normalised GRU layer, over `LayerNormGRUCell`.

    Takes every argument of `GRU` (see there) plus those of
    `LayerNormGRUCell`; no fused kernel normalises, so it runs the portable
    loop.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import LayerNormGRU
        >>> tuple(LayerNormGRU(4)(np.ones((2, 10, 8), "float32")).shape)
        (2, 4)
    """

    cell_class = LayerNormGRUCell
