r"""Greff et al.'s LSTM search space ("LSTM: A Search Space Odyssey", 2017).

The paper's "vanilla" LSTM (V) is `PeepholeLSTM`, and each of its eight
variants changes one thing of it:

| name | the vanilla LSTM, except | here |
|---|---|---|
| V | (nothing) | `PeepholeLSTM` |
| NIG | no input gate, $i_t = 1$ | `NoInputGateLSTM` |
| NFG | no forget gate, $f_t = 1$ | `NoForgetGateLSTM` |
| NOG | no output gate, $o_t = 1$ | `NoOutputGateLSTM` |
| NIAF | no input activation, $g = \mathrm{id}$ | `NoInputActivationLSTM` |
| NOAF | no output activation, $h = \mathrm{id}$ | `NoOutputActivationLSTM` |
| NP | no peepholes | `LSTM` |
| CIFG | coupled input and forget gate | `CoupledLSTM(use_peepholes=True)` |
| FGR | full gate recurrence | `FullGateRecurrenceLSTM` |

`NAMES` lists them in that order, and `layer(name, units, ...)` /
`cell(name, units, ...)` build any of them by name, so that a study runs
the whole space in one loop:

    for name in search_space.NAMES:
        model = keras.Sequential([..., search_space.layer(name, 64), ...])

Every variant takes every option of the shared base (projection, clipping,
zoneout, dropout) and is a cell and a layer like the rest of the package.
"""

from keras import constraints
from keras import initializers
from keras import ops
from keras import regularizers

from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._lstm_layer import LSTMLayerBase
from keras_lstm_variants.coupled_lstm import CoupledLSTM
from keras_lstm_variants.coupled_lstm import CoupledLSTMCell
from keras_lstm_variants.lstm import LSTM
from keras_lstm_variants.lstm import LSTMCell
from keras_lstm_variants.peephole_lstm import PeepholeLSTM
from keras_lstm_variants.peephole_lstm import PeepholeLSTMCell


@serializable
class NoInputGateLSTMCell(PeepholeLSTMCell):
    r"""Greff et al.'s NIG: the vanilla (peephole) LSTM without input gate.

    $$
    \begin{aligned}
    [z_f, z_c, z_o] &= x_t W + h_{t-1} U + b \\
    f_t &= \sigma(z_f + p_f \odot c_{t-1}) \\
    c_t &= f_t \odot c_{t-1} + \tanh(z_c) \\
    o_t &= \sigma(z_o + p_o \odot c_t) \\
    h_t &= o_t \odot \tanh(c_t)
    \end{aligned}
    $$

    Weights, in `get_weights()` order: `kernel` $(D, 3U)$,
    `recurrent_kernel` $(U, 3U)$, `bias` $(3U,)$ if `use_bias`, gate blocks
    in the order $f, c, o$; then `forget_gate_peephole_weights` and
    `output_gate_peephole_weights`, each $(U,)$. With `projection_units`
    $P$, `recurrent_kernel` is $(P, 3U)$ and `projection_kernel` $(U, P)$
    comes last.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        unit_forget_bias: If True, the $f$ block of the bias starts at 1
            ($f_0 = 0.73$). Defaults to `False` ($f_0 = 0.5$): better or
            level on every task of the variant study (see "Choosing a
            variant"), as for `CoupledLSTMCell`.
        **kwargs: Every argument of `PeepholeLSTMCell`.

    References:
        - Greff et al., "LSTM: A Search Space Odyssey", IEEE TNNLS 2017.
    """

    gates = ("f", "c", "o")

    def __init__(self, units, unit_forget_bias=False, **kwargs):
        super().__init__(units, unit_forget_bias=unit_forget_bias, **kwargs)

    def carry(self, z, c_tm1):
        return self.forget_gate(z, c_tm1) * c_tm1 + self.activation(z[1])


@serializable
class NoForgetGateLSTMCell(PeepholeLSTMCell):
    r"""Greff et al.'s NFG: the vanilla (peephole) LSTM without forget gate.

    $$
    \begin{aligned}
    [z_i, z_c, z_o] &= x_t W + h_{t-1} U + b \\
    i_t &= \sigma(z_i + p_i \odot c_{t-1}) \\
    c_t &= c_{t-1} + i_t \odot \tanh(z_c) \\
    o_t &= \sigma(z_o + p_o \odot c_t) \\
    h_t &= o_t \odot \tanh(c_t)
    \end{aligned}
    $$

    The original LSTM of Hochreiter & Schmidhuber (1997), with peepholes:
    the carry can only grow, so `cell_clip` is a natural companion.
    `unit_forget_bias` has no forget gate to act on.

    Weights, in `get_weights()` order: `kernel` $(D, 3U)$,
    `recurrent_kernel` $(U, 3U)$, `bias` $(3U,)$ if `use_bias`, gate blocks
    in the order $i, c, o$; then `input_gate_peephole_weights` and
    `output_gate_peephole_weights`, each $(U,)$. With `projection_units`
    $P$, `recurrent_kernel` is $(P, 3U)$ and `projection_kernel` $(U, P)$
    comes last.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        **kwargs: Every argument of `PeepholeLSTMCell`.

    References:
        - Greff et al., "LSTM: A Search Space Odyssey", IEEE TNNLS 2017.
    """

    gates = ("i", "c", "o")

    def carry(self, z, c_tm1):
        return c_tm1 + self.input_gate(z, c_tm1) * self.activation(z[1])


@serializable
class NoOutputGateLSTMCell(PeepholeLSTMCell):
    r"""Greff et al.'s NOG: the vanilla (peephole) LSTM without output gate.

    $$
    \begin{aligned}
    [z_i, z_f, z_c] &= x_t W + h_{t-1} U + b \\
    i_t &= \sigma(z_i + p_i \odot c_{t-1}) \\
    f_t &= \sigma(z_f + p_f \odot c_{t-1}) \\
    c_t &= f_t \odot c_{t-1} + i_t \odot \tanh(z_c) \\
    h_t &= \tanh(c_t)
    \end{aligned}
    $$

    Weights, in `get_weights()` order: `kernel` $(D, 3U)$,
    `recurrent_kernel` $(U, 3U)$, `bias` $(3U,)$ if `use_bias`, gate blocks
    in the order $i, f, c$; then `input_gate_peephole_weights` and
    `forget_gate_peephole_weights`, each $(U,)$. With `projection_units`
    $P$, `recurrent_kernel` is $(P, 3U)$ and `projection_kernel` $(U, P)$
    comes last.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        **kwargs: Every argument of `PeepholeLSTMCell`.

    References:
        - Greff et al., "LSTM: A Search Space Odyssey", IEEE TNNLS 2017.
    """

    gates = ("i", "f", "c")

    def hidden(self, z, c):
        return self.activation(c)


@serializable
class NoInputActivationLSTMCell(PeepholeLSTMCell):
    r"""Greff et al.'s NIAF: the vanilla LSTM without input activation.

    The candidate is written to the carry unsquashed, $g = \mathrm{id}$:

    $$
    \begin{aligned}
    [z_i, z_f, z_c, z_o] &= x_t W + h_{t-1} U + b \\
    i_t &= \sigma(z_i + p_i \odot c_{t-1}) \\
    f_t &= \sigma(z_f + p_f \odot c_{t-1}) \\
    c_t &= f_t \odot c_{t-1} + i_t \odot z_c \\
    o_t &= \sigma(z_o + p_o \odot c_t) \\
    h_t &= o_t \odot \tanh(c_t)
    \end{aligned}
    $$

    Weights: those of `PeepholeLSTMCell`.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        **kwargs: Every argument of `PeepholeLSTMCell` (`activation` is then
            the output's only).

    References:
        - Greff et al., "LSTM: A Search Space Odyssey", IEEE TNNLS 2017.
    """

    def carry(self, z, c_tm1):
        i, f = self.input_gate(z, c_tm1), self.forget_gate(z, c_tm1)
        return f * c_tm1 + i * z[2]


@serializable
class NoOutputActivationLSTMCell(PeepholeLSTMCell):
    r"""Greff et al.'s NOAF: the vanilla LSTM without output activation.

    The output reads the carry unsquashed, $h = \mathrm{id}$:

    $$
    \begin{aligned}
    [z_i, z_f, z_c, z_o] &= x_t W + h_{t-1} U + b \\
    i_t &= \sigma(z_i + p_i \odot c_{t-1}) \\
    f_t &= \sigma(z_f + p_f \odot c_{t-1}) \\
    c_t &= f_t \odot c_{t-1} + i_t \odot \tanh(z_c) \\
    o_t &= \sigma(z_o + p_o \odot c_t) \\
    h_t &= o_t \odot c_t
    \end{aligned}
    $$

    Weights: those of `PeepholeLSTMCell`.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        **kwargs: Every argument of `PeepholeLSTMCell` (`activation` is then
            the candidate's only).

    References:
        - Greff et al., "LSTM: A Search Space Odyssey", IEEE TNNLS 2017.
    """

    def hidden(self, z, c):
        return self.output_gate(z, c) * c


@serializable
class FullGateRecurrenceLSTMCell(PeepholeLSTMCell):
    r"""Greff et al.'s FGR: the vanilla LSTM with full gate recurrence.

    Every gate also sees the previous step's activations of all three gates,
    through a recurrent weight $R$ of shape $(3U, 3U)$:

    $$
    \begin{aligned}
    [z_i, z_f, z_c, z_o] &= x_t W + h_{t-1} U + b \\
    [r_i, r_f, r_o] &= [i_{t-1}, f_{t-1}, o_{t-1}]\, R \\
    i_t &= \sigma(z_i + r_i + p_i \odot c_{t-1}) \\
    f_t &= \sigma(z_f + r_f + p_f \odot c_{t-1}) \\
    c_t &= f_t \odot c_{t-1} + i_t \odot \tanh(z_c) \\
    o_t &= \sigma(z_o + r_o + p_o \odot c_t) \\
    h_t &= o_t \odot \tanh(c_t)
    \end{aligned}
    $$

    The gate activations are a third state, so the state is
    `[h, c, gates]` with `gates` = $[i_t, f_t, o_t]$ of shape
    `(batch, 3 * units)`, zeros at the start (an `initial_state` has three
    tensors, and `return_state=True` returns three). The paper's nine
    matrices $R_{ii}, R_{fi}, \ldots$ are the blocks of $R$: rows by the
    previous gate, columns by the gate they feed, both in the order
    $i, f, o$.

    Weights, in `get_weights()` order: those of `PeepholeLSTMCell`, then
    `gate_recurrent_kernel` $R$ $(3U, 3U)$, then `projection_kernel` if
    any.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        gate_recurrent_initializer: Initializer of $R$. Defaults to
            `"orthogonal"`.
        gate_recurrent_regularizer: Regularizer of $R$. Defaults to `None`.
        gate_recurrent_constraint: Constraint on $R$. Defaults to `None`.
        **kwargs: Every argument of `PeepholeLSTMCell`.

    References:
        - Greff et al., "LSTM: A Search Space Odyssey", IEEE TNNLS 2017.
    """

    def __init__(
        self,
        units,
        gate_recurrent_initializer="orthogonal",
        gate_recurrent_regularizer=None,
        gate_recurrent_constraint=None,
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        self.gate_recurrent_initializer = initializers.get(
            gate_recurrent_initializer
        )
        self.gate_recurrent_regularizer = regularizers.get(
            gate_recurrent_regularizer
        )
        self.gate_recurrent_constraint = constraints.get(
            gate_recurrent_constraint
        )

    def extra_state_sizes(self):
        return [3 * self.units]

    def build_variant(self, input_shape):
        super().build_variant(input_shape)
        self.gate_recurrent_kernel = self.add_weight(
            shape=(3 * self.units, 3 * self.units),
            name="gate_recurrent_kernel",
            initializer=self.gate_recurrent_initializer,
            regularizer=self.gate_recurrent_regularizer,
            constraint=self.gate_recurrent_constraint,
        )

    def gate_inputs(self, z, extra_tm1):
        z_i, z_f, z_c, z_o = z
        r = ops.matmul(extra_tm1[0], self.gate_recurrent_kernel)
        r_i, r_f, r_o = ops.split(r, 3, axis=-1)
        return [z_i + r_i, z_f + r_f, z_c, z_o + r_o]

    def next_extra_states(self, z, c_tm1, c):
        gates = [
            self.input_gate(z, c_tm1),
            self.forget_gate(z, c_tm1),
            self.output_gate(z, c),
        ]
        return [ops.concatenate(gates, axis=-1)]


@serializable
class NoInputGateLSTM(LSTMLayerBase):
    """Greff et al.'s NIG (no input gate) as a layer, over its cell.

    Takes every argument of `keras.layers.LSTM` (see `LSTM`) plus those of
    `NoInputGateLSTMCell`; the weights are the cell's. `use_cudnn=True` is
    refused: cuDNN computes only the standard LSTM.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        **kwargs: Every argument of `NoInputGateLSTMCell` and of
            `LSTM`.
    """

    cell_class = NoInputGateLSTMCell


@serializable
class NoForgetGateLSTM(LSTMLayerBase):
    """Greff et al.'s NFG (no forget gate) as a layer, over its cell.

    Takes every argument of `keras.layers.LSTM` (see `LSTM`) plus those of
    `NoForgetGateLSTMCell`; the weights are the cell's. `use_cudnn=True` is
    refused: cuDNN computes only the standard LSTM.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        **kwargs: Every argument of `NoForgetGateLSTMCell` and of
            `LSTM`.
    """

    cell_class = NoForgetGateLSTMCell


@serializable
class NoOutputGateLSTM(LSTMLayerBase):
    """Greff et al.'s NOG (no output gate) as a layer, over its cell.

    Takes every argument of `keras.layers.LSTM` (see `LSTM`) plus those of
    `NoOutputGateLSTMCell`; the weights are the cell's. `use_cudnn=True` is
    refused: cuDNN computes only the standard LSTM.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        **kwargs: Every argument of `NoOutputGateLSTMCell` and of
            `LSTM`.
    """

    cell_class = NoOutputGateLSTMCell


@serializable
class NoInputActivationLSTM(LSTMLayerBase):
    """Greff et al.'s NIAF (no input activation) as a layer, over its cell.

    Takes every argument of `keras.layers.LSTM` (see `LSTM`) plus those of
    `NoInputActivationLSTMCell`; the weights are the cell's. `use_cudnn=True` is
    refused: cuDNN computes only the standard LSTM.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        **kwargs: Every argument of `NoInputActivationLSTMCell` and of
            `LSTM`.
    """

    cell_class = NoInputActivationLSTMCell


@serializable
class NoOutputActivationLSTM(LSTMLayerBase):
    """Greff et al.'s NOAF (no output activation) as a layer, over its cell.

    Takes every argument of `keras.layers.LSTM` (see `LSTM`) plus those of
    `NoOutputActivationLSTMCell`; the weights are the cell's. `use_cudnn=True`
    is refused: cuDNN computes only the standard LSTM.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        **kwargs: Every argument of `NoOutputActivationLSTMCell` and of
            `LSTM`.
    """

    cell_class = NoOutputActivationLSTMCell


@serializable
class FullGateRecurrenceLSTM(LSTMLayerBase):
    """Greff et al.'s FGR (full gate recurrence) as a layer, over its cell.

    Takes every argument of `keras.layers.LSTM` (see `LSTM`) plus those of
    `FullGateRecurrenceLSTMCell`; the weights are the cell's. `use_cudnn=True`
    is refused: cuDNN computes only the standard LSTM.

    Its state is `[h, c, gates]`: `initial_state` takes three tensors
    and `return_state=True` returns three.

    Args:
        units: Positive integer, dimensionality of the output and the state.
        **kwargs: Every argument of `FullGateRecurrenceLSTMCell` and of
            `LSTM`.
    """

    cell_class = FullGateRecurrenceLSTMCell


# name -> (layer class, cell class, the arguments that make the variant)
SEARCH_SPACE = {
    "V": (PeepholeLSTM, PeepholeLSTMCell, {}),
    "NIG": (NoInputGateLSTM, NoInputGateLSTMCell, {}),
    "NFG": (NoForgetGateLSTM, NoForgetGateLSTMCell, {}),
    "NOG": (NoOutputGateLSTM, NoOutputGateLSTMCell, {}),
    "NIAF": (NoInputActivationLSTM, NoInputActivationLSTMCell, {}),
    "NOAF": (NoOutputActivationLSTM, NoOutputActivationLSTMCell, {}),
    "NP": (LSTM, LSTMCell, {}),
    "CIFG": (CoupledLSTM, CoupledLSTMCell, {"use_peepholes": True}),
    "FGR": (FullGateRecurrenceLSTM, FullGateRecurrenceLSTMCell, {}),
}
NAMES = tuple(SEARCH_SPACE)


def _arguments(name, kwargs):
    if name not in SEARCH_SPACE:
        raise ValueError(
            "Argument `name` must be one of Greff et al.'s variants "
            f"{', '.join(NAMES)}. Received: name={name!r}."
        )
    layer_class, cell_class, fixed = SEARCH_SPACE[name]
    for key, value in fixed.items():
        if key in kwargs and kwargs[key] != value:
            raise ValueError(
                f"The search-space variant {name} is defined by "
                f"{key}={value!r}. Received: {key}={kwargs[key]!r}."
            )
    return layer_class, cell_class, {**kwargs, **fixed}


def layer(name, /, units, **kwargs):
    """The layer of the search-space variant `name` (one of `NAMES`).

    Args:
        name: `"V"`, `"NIG"`, `"NFG"`, `"NOG"`, `"NIAF"`, `"NOAF"`, `"NP"`,
            `"CIFG"` or `"FGR"`; positional only, so that `name=` in
            `kwargs` names the layer, as for any Keras layer.
        units: Positive integer, dimensionality of the output and the state.
        **kwargs: Any argument of the variant's layer (`return_sequences`,
            `dropout`, `projection_units`, ...).

    Returns:
        A new layer, e.g. `PeepholeLSTM(units, **kwargs)` for `"V"`.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import search_space
        >>> x = np.ones((2, 10, 8), "float32")
        >>> [tuple(search_space.layer(n, 4)(x).shape) for n in ("V", "FGR")]
        [(2, 4), (2, 4)]
    """
    layer_class, _, arguments = _arguments(name, kwargs)
    return layer_class(units, **arguments)


def cell(name, /, units, **kwargs):
    """The cell of the search-space variant `name` (one of `NAMES`), for
    `keras.layers.RNN` and the like; arguments as for `layer`."""
    _, cell_class, arguments = _arguments(name, kwargs)
    return cell_class(units, **arguments)
