"""The LSTM with peephole connections (Gers & Schmidhuber 2000)."""

from keras import constraints
from keras import regularizers

from keras_lstm_variants._arguments import initializer_if
from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._lstm import LSTMCellBase
from keras_lstm_variants._lstm_layer import LSTMLayerBase
from keras_lstm_variants._standard_form import StandardLSTMForm


class PeepholeWeights:
    """The peephole arguments and weights, mixed into a cell class.

    Each peephole is a vector of shape `(units,)` named
    `<gate>_gate_peephole_weights`, the names TensorFlow Addons used.
    """

    def _init_peepholes(self, initializer, regularizer, constraint, used=True):
        self.peephole_initializer = initializer_if(used, initializer)
        self.peephole_regularizer = regularizers.get(regularizer)
        self.peephole_constraint = constraints.get(constraint)

    def _add_peephole(self, gate):
        return self.add_weight(
            shape=(self.units,),
            name=f"{gate}_gate_peephole_weights",
            initializer=self.peephole_initializer,
            regularizer=self.peephole_regularizer,
            constraint=self.peephole_constraint,
        )


@serializable
class PeepholeLSTMCell(PeepholeWeights, LSTMCellBase):
    r"""LSTM cell with peephole connections (Gers & Schmidhuber 2000).

    The standard LSTM, except that the gates also see the carry: the input
    and forget gates the previous one, the output gate the new one, each
    through a diagonal (element-wise) weight $p$:

    $$
    \begin{aligned}
    [z_i, z_f, z_c, z_o] &= x_t W + h_{t-1} U + b \\
    i_t &= \sigma(z_i + p_i \odot c_{t-1}) \\
    f_t &= \sigma(z_f + p_f \odot c_{t-1}) \\
    c_t &= f_t \odot c_{t-1} + i_t \odot \tanh(z_c) \\
    o_t &= \sigma(z_o + p_o \odot c_t) \\
    h_t &= o_t \odot \tanh(c_t)
    \end{aligned}
    $$

    With all peepholes zero it is exactly `LSTMCell`. It is the "vanilla"
    LSTM of Greff et al. (2017), which their search space varies
    (`keras_lstm_variants.search_space`); its gates are public methods
    (`input_gate`, `forget_gate`, `output_gate`) for such subclasses.

    Weights, in `get_weights()` order (the TensorFlow Addons
    `PeepholeLSTMCell` layout): `kernel` $(D, 4U)$, `recurrent_kernel`
    $(U, 4U)$, `bias` $(4U,)$ if `use_bias`, gate blocks in the order
    $i, f, c, o$; then `input_gate_peephole_weights` $p_i$,
    `forget_gate_peephole_weights` $p_f$ and `output_gate_peephole_weights`
    $p_o$, each $(U,)$. With `projection_units` $P$, `recurrent_kernel` is
    $(P, 4U)$ and `projection_kernel` $(U, P)$ comes last.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        peephole_initializer: Initializer of the three peephole vectors.
            Defaults to `"glorot_uniform"` (what TensorFlow Addons used, via
            its kernel initializer).
        peephole_regularizer: Regularizer of the peephole vectors. Defaults
            to `None`.
        peephole_constraint: Constraint on the peephole vectors. Defaults to
            `None`.
        **kwargs: Every argument of `LSTMCell` (`activation`,
            `recurrent_activation`, `use_bias`, the initializers,
            regularizers and constraints, `unit_forget_bias`, `dropout`,
            `recurrent_dropout`, `seed`, `implementation`), with the same
            meaning, and the base layer arguments.

    Call arguments:
        - `inputs`: Tensor of shape `(batch, features)`.
        - `states`: List `[h, c]`, each of shape `(batch, units)`.
        - `training`: Whether dropout is applied.

    Examples:
        >>> import numpy as np, keras
        >>> from keras_lstm_variants import PeepholeLSTMCell
        >>> layer = keras.layers.RNN(PeepholeLSTMCell(4), return_sequences=True)
        >>> tuple(layer(np.ones((2, 10, 8), "float32")).shape)
        (2, 10, 4)

    References:
        - Gers & Schmidhuber, "Recurrent Nets that Time and Count", IJCNN
          2000.
        - Greff et al., "LSTM: A Search Space Odyssey", IEEE TNNLS 2017.
    """

    def __init__(
        self,
        units,
        peephole_initializer="glorot_uniform",
        peephole_regularizer=None,
        peephole_constraint=None,
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        self._init_peepholes(
            peephole_initializer, peephole_regularizer, peephole_constraint
        )

    gates = ("i", "f", "c", "o")

    def build_variant(self, input_shape):
        # A peephole for each of the gates i, f, o that the cell has (the
        # variants of Greff et al. that drop a gate drop its peephole).
        for gate, name in (("i", "input"), ("f", "forget"), ("o", "output")):
            if gate in self.gates:
                weights = self._add_peephole(name)
                setattr(self, f"{name}_gate_peephole_weights", weights)

    def standard_lstm_gates(self):
        return StandardLSTMForm(
            self.kernel,
            self.recurrent_kernel,
            self.bias,
            peepholes=(
                self.input_gate_peephole_weights,
                self.forget_gate_peephole_weights,
                self.output_gate_peephole_weights,
            ),
        )

    def input_gate(self, z, c_tm1):
        r"""The input gate, $i_t = \sigma(z_i + p_i \odot c_{t-1})$."""
        return self.recurrent_activation(
            z[self.gates.index("i")] + self.input_gate_peephole_weights * c_tm1
        )

    def forget_gate(self, z, c_tm1):
        r"""The forget gate, $f_t = \sigma(z_f + p_f \odot c_{t-1})$."""
        return self.recurrent_activation(
            z[self.gates.index("f")] + self.forget_gate_peephole_weights * c_tm1
        )

    def output_gate(self, z, c):
        r"""The output gate, $o_t = \sigma(z_o + p_o \odot c_t)$."""
        return self.recurrent_activation(
            z[self.gates.index("o")] + self.output_gate_peephole_weights * c
        )

    def carry(self, z, c_tm1):
        i, f = self.input_gate(z, c_tm1), self.forget_gate(z, c_tm1)
        return f * c_tm1 + i * self.activation(z[self.gates.index("c")])

    def hidden(self, z, c):
        return self.output_gate(z, c) * self.activation(c)


@serializable
class PeepholeLSTM(LSTMLayerBase):
    r"""LSTM layer with peephole connections, over `PeepholeLSTMCell`.

    Takes every argument of `keras.layers.LSTM` (see `LSTM`) plus the
    peephole arguments of `PeepholeLSTMCell`; the weights are the cell's.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        **kwargs: Every argument of `PeepholeLSTMCell` and of `LSTM`
            (`return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll`, `zero_output_for_mask`, `use_cudnn`,
            `activity_regularizer`), with the same meaning. `use_cudnn=True`
            is refused: cuDNN has no peepholes.

    Call arguments:
        - `sequences`: Tensor of shape `(batch, timesteps, features)`.
        - `initial_state`: Optional list `[h, c]`, each `(batch, units)`.
        - `mask`: Optional boolean tensor `(batch, timesteps)`.
        - `training`: Whether dropout is applied.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import PeepholeLSTM
        >>> tuple(PeepholeLSTM(4)(np.ones((2, 10, 8), "float32")).shape)
        (2, 4)

    References:
        - Gers & Schmidhuber, "Recurrent Nets that Time and Count", IJCNN
          2000.
    """

    cell_class = PeepholeLSTMCell
