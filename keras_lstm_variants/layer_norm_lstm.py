"""The layer-normalised LSTM (Ba, Kiros & Hinton 2016)."""

import keras
from keras import constraints
from keras import initializers
from keras import ops
from keras import regularizers

from keras_lstm_variants import backends
from keras_lstm_variants._arguments import check_bool
from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._lstm import LSTMCellBase
from keras_lstm_variants._lstm_layer import LSTMLayerBase
from keras_lstm_variants._numerics import normalization
from keras_lstm_variants._numerics import wide_dtype
from keras_lstm_variants._tuning import CENTRE_KERNELS

# The three normalisations, in weight order: of x W, of h U, of the new carry.
_NORMS = ("kernel_norm", "recurrent_norm", "state_norm")



def _centred_kernel(kernel, dtype):
    """`kernel` minus the mean of each of its rows, computed in at least
    float32 (`wide_dtype`).

    The mean over the 4U columns of `x @ kernel` is `x @ mean(kernel)`, so
    `x @ _centred_kernel(kernel)` is `x @ kernel` centred: the mean is
    subtracted once per sequence from the weights instead of at every step
    from the projections (and no cancellation occurs in the projection).
    """
    wide = wide_dtype(keras.backend.standardize_dtype(kernel.dtype))
    kernel = ops.cast(kernel, wide)
    centred = kernel - ops.mean(kernel, axis=-1, keepdims=True)
    return ops.cast(centred, dtype)


def _centres(mask):
    """Whether a projection through this dropout mask is centred by a
    centred kernel: one mask for all gates, or none. (With one mask per gate,
    each gate block projects differently masked data.)"""
    return not isinstance(mask, (list, tuple))


@serializable
class LayerNormLSTMCell(LSTMCellBase):
    r"""LSTM cell with layer normalisation (Ba, Kiros & Hinton 2016).

    The standard LSTM, except that the input and recurrent projections are
    each layer-normalised before they are summed, and so is the new carry
    before the output squashing:

    $$
    \begin{aligned}
    [z_i, z_f, z_c, z_o] &= \mathrm{LN}_x(x_t W) +
        \mathrm{LN}_h(h_{t-1} U) + b \\
    i_t = \sigma(z_i), \quad f_t &= \sigma(z_f), \quad o_t = \sigma(z_o) \\
    c_t &= f_t \odot c_{t-1} + i_t \odot \tanh(z_c) \\
    h_t &= o_t \odot \tanh(\mathrm{LN}_c(c_t))
    \end{aligned}
    $$

    where $\mathrm{LN}(a) = \gamma \odot (a - \mu) / \sqrt{\sigma^2 +
    \epsilon} + \beta$, with $\mu, \sigma^2$ the mean and variance over the
    last axis (of all $4U$ pre-activations for $\mathrm{LN}_x$ and
    $\mathrm{LN}_h$), computed in float32 under mixed precision and in
    float64 in a float64 layer.

    By default the un-normalised $c_t$ is carried to the next step, as in
    Ba et al. With `carry_normalized_state=True` the cell carries
    $\mathrm{LN}_c(c_t)$ instead and $h_t = o_t \odot \tanh(c_t)$ with that
    carry: the TensorFlow Addons `LayerNormLSTMCell`, so weights trained
    there give the same outputs here.

    Weights, in `get_weights()` order (the TensorFlow Addons layout):
    `kernel` $(D, 4U)$, `recurrent_kernel` $(U, 4U)$, `bias` $(4U,)$ if
    `use_bias`, gate blocks in the order $i, f, c, o$; then
    `kernel_norm_gamma`, `kernel_norm_beta` $(4U,)$, `recurrent_norm_gamma`,
    `recurrent_norm_beta` $(4U,)$, `state_norm_gamma`, `state_norm_beta`
    $(U,)$. With `projection_units` $P$, `recurrent_kernel` is $(P, 4U)$ and
    `projection_kernel` $(U, P)$ comes last.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        norm_epsilon: Positive float added to the variance. Defaults to
            `1e-3`.
        norm_gamma_initializer: Initializer of the gains. Defaults to
            `"ones"`.
        norm_beta_initializer: Initializer of the shifts. Defaults to
            `"zeros"`.
        norm_gamma_regularizer: Regularizer of the gains. Defaults to `None`.
        norm_beta_regularizer: Regularizer of the shifts. Defaults to `None`.
        norm_gamma_constraint: Constraint on the gains. Defaults to `None`.
        norm_beta_constraint: Constraint on the shifts. Defaults to `None`.
        carry_normalized_state: Whether the carried state is $\mathrm{LN}_c
            (c_t)$ (TensorFlow Addons) rather than $c_t$ (Ba et al.).
            Defaults to `False`.
        **kwargs: Every argument of `LSTMCell`, with the same meaning, and
            the base layer arguments.

    Call arguments:
        - `inputs`: Tensor of shape `(batch, features)`.
        - `states`: List `[h, c]`, each of shape `(batch, units)`.
        - `training`: Whether dropout is applied.

    Examples:
        >>> import numpy as np, keras
        >>> from keras_lstm_variants import LayerNormLSTMCell
        >>> cell = LayerNormLSTMCell(4)
        >>> tuple(keras.layers.RNN(cell)(np.ones((2, 10, 8), "float32")).shape)
        (2, 4)
        >>> len(cell.weights)
        9

    References:
        - Ba, Kiros & Hinton, "Layer Normalization", arXiv:1607.06450, 2016.
    """

    def __init__(
        self,
        units,
        norm_epsilon=1e-3,
        norm_gamma_initializer="ones",
        norm_beta_initializer="zeros",
        norm_gamma_regularizer=None,
        norm_beta_regularizer=None,
        norm_gamma_constraint=None,
        norm_beta_constraint=None,
        carry_normalized_state=False,
        **kwargs,
    ):
        if (
            isinstance(norm_epsilon, bool)
            or not isinstance(norm_epsilon, (int, float))
            or not norm_epsilon > 0
        ):
            raise ValueError(
                "Argument `norm_epsilon` must be a positive float. "
                f"Received: norm_epsilon={norm_epsilon!r}."
            )
        super().__init__(units, **kwargs)
        self.norm_epsilon = float(norm_epsilon)
        self.norm_gamma_initializer = initializers.get(norm_gamma_initializer)
        self.norm_beta_initializer = initializers.get(norm_beta_initializer)
        self.norm_gamma_regularizer = regularizers.get(norm_gamma_regularizer)
        self.norm_beta_regularizer = regularizers.get(norm_beta_regularizer)
        self.norm_gamma_constraint = constraints.get(norm_gamma_constraint)
        self.norm_beta_constraint = constraints.get(norm_beta_constraint)
        self.carry_normalized_state = check_bool(
            "carry_normalized_state", carry_normalized_state
        )

    gates = ("i", "f", "c", "o")

    def build_variant(self, input_shape):
        width = len(self.gates) * self.units
        for norm, size in zip(_NORMS, (width, width, self.units), strict=True):
            for part in ("gamma", "beta"):
                weight = self.add_weight(
                    shape=(size,),
                    name=f"{norm}_{part}",
                    initializer=getattr(self, f"norm_{part}_initializer"),
                    regularizer=getattr(self, f"norm_{part}_regularizer"),
                    constraint=getattr(self, f"norm_{part}_constraint"),
                )
                setattr(self, f"{norm}_{part}", weight)

    # Whether normalisations use the backend's hand-written gradient
    # (`backends.with_gradient`); False: autodiff of the portable forward.
    _fast_normalization = True
    # Whether a layer centres the kernels; None: `CENTRE_KERNELS`'s choice
    # (set by benchmarks and tests).
    _centre_kernels = None

    def _layer_norm(self, a, norm, centred=False):
        normalize = normalization(
            self.norm_epsilon, self._fast_normalization, centred
        )
        wide = wide_dtype(self.variable_dtype)
        normalized = ops.cast(normalize(ops.cast(a, wide)), a.dtype)
        gamma = getattr(self, f"{norm}_gamma")
        beta = getattr(self, f"{norm}_beta")
        return normalized * ops.cast(gamma, a.dtype) + ops.cast(beta, a.dtype)

    def sequence_kernels(self, dropout_mask, recurrent_dropout_mask):
        # Centred once per sequence, so that the loop only scales x W and
        # h U, where that pays (`CENTRE_KERNELS`); not with one dropout mask
        # per gate (`_centres`).
        centre = self._centre_kernels
        if centre is None:
            centre = CENTRE_KERNELS.get(backends.loop_context(), False)
        if not centre:
            return None, None
        return tuple(
            _centred_kernel(kernel, self.compute_dtype)
            if _centres(mask)
            else None
            for kernel, mask in (
                (self.kernel, dropout_mask),
                (self.recurrent_kernel, recurrent_dropout_mask),
            )
        )

    def input_part(self, inputs, dropout_mask=None, kernel=None):
        # `kernel`: centred by `sequence_kernels`; None (a step on its own,
        # per-gate dropout masks, TensorFlow's graph executor): the
        # normalisation centres the projection.
        projection = self.dropout_matmul(
            inputs, self.kernel if kernel is None else kernel, dropout_mask
        )
        z = self._layer_norm(
            projection, "kernel_norm", centred=kernel is not None
        )
        return ops.add(z, self.bias) if self.use_bias else z

    def recurrent_part(self, h_tm1, dropout_mask=None, recurrent_kernel=None):
        projection = self.dropout_matmul(
            h_tm1,
            self.recurrent_kernel
            if recurrent_kernel is None
            else recurrent_kernel,
            dropout_mask,
        )
        return self._layer_norm(
            projection, "recurrent_norm", centred=recurrent_kernel is not None
        )

    def carry(self, z, c_tm1):
        z_i, z_f, z_c, _ = z
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_tm1 + i * self.activation(z_c)
        if self.carry_normalized_state:
            return self._layer_norm(c, "state_norm")
        return c

    def hidden(self, z, c):
        if not self.carry_normalized_state:
            c = self._layer_norm(c, "state_norm")
        return self.recurrent_activation(z[3]) * self.activation(c)


@serializable
class LayerNormLSTM(LSTMLayerBase):
    r"""Layer-normalised LSTM layer, over `LayerNormLSTMCell`.

    Takes every argument of `keras.layers.LSTM` (see `LSTM`) plus those of
    `LayerNormLSTMCell`; the weights are the cell's.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        **kwargs: Every argument of `LayerNormLSTMCell` (`norm_epsilon`,
            `carry_normalized_state`, ...) and of `LSTM`
            (`return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll`, `zero_output_for_mask`, `use_cudnn`,
            `activity_regularizer`), with the same meaning. `use_cudnn=True`
            is refused: cuDNN has no layer normalisation.

    Call arguments:
        - `sequences`: Tensor of shape `(batch, timesteps, features)`.
        - `initial_state`: Optional list `[h, c]`, each `(batch, units)`.
        - `mask`: Optional boolean tensor `(batch, timesteps)`.
        - `training`: Whether dropout is applied.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import LayerNormLSTM
        >>> tuple(LayerNormLSTM(4)(np.ones((2, 10, 8), "float32")).shape)
        (2, 4)

    References:
        - Ba, Kiros & Hinton, "Layer Normalization", arXiv:1607.06450, 2016.
    """

    cell_class = LayerNormLSTMCell
