"""The LSTM with coupled input and forget gates, CIFG (Greff et al. 2017)."""

from keras import ops

from keras_lstm_variants._arguments import check_bool
from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._lstm import LSTMCellBase
from keras_lstm_variants._lstm_layer import LSTMLayerBase
from keras_lstm_variants._standard_form import StandardLSTMForm
from keras_lstm_variants.peephole_lstm import PeepholeWeights


@serializable
class CoupledLSTMCell(PeepholeWeights, LSTMCellBase):
    r"""LSTM cell with coupled input and forget gates (CIFG).

    The standard LSTM, except that there is no input gate: the cell writes
    exactly what it forgets, $i_t = 1 - f_t$. One gate fewer means a quarter
    fewer weights and matmul FLOPs; Greff et al. (2017) found it as accurate
    as the standard LSTM on every task they studied.

    $$
    \begin{aligned}
    [z_f, z_c, z_o] &= x_t W + h_{t-1} U + b \\
    f_t &= \sigma(z_f + p_f \odot c_{t-1}) \\
    c_t &= f_t \odot c_{t-1} + (1 - f_t) \odot \tanh(z_c) \\
    o_t &= \sigma(z_o + p_o \odot c_t) \\
    h_t &= o_t \odot \tanh(c_t)
    \end{aligned}
    $$

    The peephole terms $p_f, p_o$ are there only with `use_peepholes=True`
    (Greff et al.'s CIFG variant has them).

    The forget bias starts at 0 by default (`unit_forget_bias=False`,
    unlike `LSTM`), so that $f_0 = i_0 = 0.5$: with 1, the coupled gate
    would start at $i_0 = 1 - \sigma(1) = 0.27$. The variant study
    (`examples/variant_study.py`, three seeds, four tasks, with and without
    peepholes) found bias 0 better in seven of eight comparisons (CIFG on
    reversing digit strings: 98.2% against 94.2%) and within the spread in
    the eighth.

    Weights, in `get_weights()` order: `kernel` $(D, 3U)$,
    `recurrent_kernel` $(U, 3U)$, `bias` $(3U,)$ if `use_bias`, gate blocks
    in the order $f, c, o$; then, with `use_peepholes=True`,
    `forget_gate_peephole_weights` $p_f$ and `output_gate_peephole_weights`
    $p_o$, each $(U,)$. `unit_forget_bias` sets the $f$ block of `bias` to
    ones. With `projection_units` $P$, `recurrent_kernel` is $(P, 3U)$ and
    `projection_kernel` $(U, P)$ comes last.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        use_peepholes: Whether the forget and output gates have peephole
            connections. Defaults to `False`.
        unit_forget_bias: If True, the $f$ block of the bias starts at 1,
            so $f_0 = \sigma(1) = 0.73$ and the coupled input gate
            $i_0 = 0.27$: the cell writes at half the standard LSTM's
            initial rate ($\sigma(0) = 0.5$). Defaults to `False` (the
            bias starts at 0, $f_0 = i_0 = 0.5$), chosen by the variant
            study (below); `LSTM`'s default is `True`.
        peephole_initializer: Initializer of the peephole vectors. Defaults
            to `"glorot_uniform"`.
        peephole_regularizer: Regularizer of the peephole vectors. Defaults
            to `None`.
        peephole_constraint: Constraint on the peephole vectors. Defaults to
            `None`.
        **kwargs: Every argument of `LSTMCell`, with the same meaning (with
            `implementation=1` or recurrent dropout, one mask per gate means
            three masks), and the base layer arguments.

    Call arguments:
        - `inputs`: Tensor of shape `(batch, features)`.
        - `states`: List `[h, c]`, each of shape `(batch, units)`.
        - `training`: Whether dropout is applied.

    Examples:
        >>> import numpy as np, keras
        >>> from keras_lstm_variants import CoupledLSTMCell
        >>> cell = CoupledLSTMCell(4)
        >>> tuple(keras.layers.RNN(cell)(np.ones((2, 10, 8), "float32")).shape)
        (2, 4)
        >>> [tuple(w.shape) for w in cell.weights]
        [(8, 12), (4, 12), (12,)]

    References:
        - Greff, Srivastava, Koutnik, Steunebrink & Schmidhuber, "LSTM: A
          Search Space Odyssey", IEEE TNNLS 2017.
    """

    gates = ("f", "c", "o")

    def __init__(
        self,
        units,
        use_peepholes=False,
        unit_forget_bias=False,
        peephole_initializer="glorot_uniform",
        peephole_regularizer=None,
        peephole_constraint=None,
        **kwargs,
    ):
        super().__init__(units, unit_forget_bias=unit_forget_bias, **kwargs)
        self.use_peepholes = check_bool("use_peepholes", use_peepholes)
        self._init_peepholes(
            peephole_initializer,
            peephole_regularizer,
            peephole_constraint,
            used=self.use_peepholes,
        )

    def build_variant(self, input_shape):
        self.forget_gate_peephole_weights = None
        self.output_gate_peephole_weights = None
        if self.use_peepholes:
            self.forget_gate_peephole_weights = self._add_peephole("forget")
            self.output_gate_peephole_weights = self._add_peephole("output")

    def standard_lstm_gates(self):
        # i = 1 - f = sigma(-z_f - p_f c): the input gate's operands are the
        # forget gate's, negated.
        def with_input_gate(weights):
            f, c, o = ops.split(weights, 3, axis=-1)
            return ops.concatenate([ops.negative(f), f, c, o], axis=-1)

        peepholes = None
        if self.use_peepholes:
            p_f = self.forget_gate_peephole_weights
            peepholes = (
                ops.negative(p_f), p_f, self.output_gate_peephole_weights
            )
        return StandardLSTMForm(
            with_input_gate(self.kernel),
            with_input_gate(self.recurrent_kernel),
            None if self.bias is None else with_input_gate(self.bias),
            peepholes=peepholes,
        )

    def carry(self, z, c_tm1):
        z_f, z_c, _ = z
        if self.use_peepholes:
            z_f = z_f + self.forget_gate_peephole_weights * c_tm1
        f = self.recurrent_activation(z_f)
        return f * c_tm1 + (1.0 - f) * self.activation(z_c)

    def hidden(self, z, c):
        z_o = z[2]
        if self.use_peepholes:
            z_o = z_o + self.output_gate_peephole_weights * c
        return self.recurrent_activation(z_o) * self.activation(c)


@serializable
class CoupledLSTM(LSTMLayerBase):
    r"""LSTM layer with coupled input and forget gates, over `CoupledLSTMCell`.

    Takes every argument of `keras.layers.LSTM` (see `LSTM`) plus those of
    `CoupledLSTMCell`; the weights are the cell's.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        **kwargs: Every argument of `CoupledLSTMCell` (`use_peepholes`, ...)
            and of `LSTM` (`return_sequences`, `return_state`,
            `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask`,
            `use_cudnn`, `activity_regularizer`), with the same meaning.
            Its standard LSTM form is the op's with the input gate's
            operands $-W_f, -U_f, -b_f$ ($\sigma(-z) = 1 - \sigma(z)$), so
            without peepholes it takes cuDNN where `keras.layers.LSTM` would,
            and PyTorch's native op; `use_cudnn=True` is refused with
            peepholes (cuDNN has none).

    Call arguments:
        - `sequences`: Tensor of shape `(batch, timesteps, features)`.
        - `initial_state`: Optional list `[h, c]`, each `(batch, units)`.
        - `mask`: Optional boolean tensor `(batch, timesteps)`.
        - `training`: Whether dropout is applied.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import CoupledLSTM
        >>> x = np.ones((2, 10, 8), "float32")
        >>> tuple(CoupledLSTM(4, use_peepholes=True)(x).shape)
        (2, 4)

    References:
        - Greff et al., "LSTM: A Search Space Odyssey", IEEE TNNLS 2017.
    """

    cell_class = CoupledLSTMCell
