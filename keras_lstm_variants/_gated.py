"""What the gated families (LSTM, GRU) share beyond the cell base: the
arguments of Keras's `LSTMCell` and `GRUCell` for the recurrent weights,
the two activations, recurrent dropout and `implementation`, checked and
set once. `_lstm.LSTMCellBase` and `_gru.GRUCellBase` subclass it; it
knows nothing of either recipe."""

from keras import activations
from keras import constraints
from keras import regularizers

from keras_lstm_variants._arguments import check_rate
from keras_lstm_variants._arguments import checked_initializer
from keras_lstm_variants._cell import RNNCellBase


class GatedCellBase(RNNCellBase):
    """The cell base with a `recurrent_kernel`'s arguments and Keras's
    gated-cell options. A subclass sets `gates` (one dropout mask per gate
    with `implementation=1`) and builds the weights.

    Args:
        units: As the cell base's.
        activation: The candidate's activation, as Keras's cells'.
        recurrent_activation: The gates' activation, as Keras's cells'.
        kernel_initializer: As the cell base's.
        recurrent_initializer: Initializer of `recurrent_kernel`.
        recurrent_regularizer: Regularizer of `recurrent_kernel`.
        recurrent_constraint: Constraint on `recurrent_kernel`.
        recurrent_dropout: Float in [0, 1], the fraction of the state's
            units dropped in the recurrent part (one mask per gate).
        implementation: 1 (one dropout mask per gate) or 2 (one for all);
            recurrent dropout makes it 1, as in Keras's cells.
        **kwargs: The cell base's other arguments.
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        recurrent_regularizer=None,
        recurrent_constraint=None,
        recurrent_dropout=0.0,
        implementation=2,
        **kwargs,
    ):
        recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        if implementation not in (1, 2):
            raise ValueError(
                "Argument `implementation` must be 1 (one dropout mask per "
                "gate) or 2 (one mask for all gates). "
                f"Received: implementation={implementation!r}."
            )
        # Created in the order of Keras's cells (an unseeded initializer
        # draws its seed when created): kernel, recurrent (the base: bias).
        kernel_initializer = checked_initializer(
            "kernel_initializer", kernel_initializer
        )
        recurrent_initializer = checked_initializer(
            "recurrent_initializer", recurrent_initializer
        )
        super().__init__(units, kernel_initializer=kernel_initializer, **kwargs)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.recurrent_initializer = recurrent_initializer
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.recurrent_dropout = recurrent_dropout
        # As Keras's cells: recurrent dropout uses one mask per gate (Gal &
        # Ghahramani 2016), and so does input dropout then.
        self.implementation = 1 if recurrent_dropout else implementation
        if self.implementation == 1:
            self.dropout_mask_count = len(self.gates)
