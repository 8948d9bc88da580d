r"""The GRU's gate variants of Dey & Salem (2017), buildable by name.

"Gate-variants of Gated Recurrent Unit (GRU) Neural Networks" keeps the
GRU's candidate and blend and computes the update and reset gates from less:

| name | gates $z_t$, $r_t$ | weights beside the candidate's |
|---|---|---|
| `GRU1` | $\sigma(h_{t-1} U_g + b_g)$ | $U_z, U_r, b_z, b_r$ |
| `GRU2` | $\sigma(h_{t-1} U_g)$ | $U_z, U_r$ |
| `GRU3` | $\sigma(b_g)$ | $b_z, b_r$ |

with the candidate $\tilde h_t = \tanh(x_t W_h + b_h + (r_t \odot h_{t-1})
U_h)$ and $h_t = z_t \odot h_{t-1} + (1 - z_t) \odot \tilde h_t$: the
original GRU's formulation (the reset gate before the matmul), which the
paper varies. `layer("GRU2", 32)` and `cell("GRU2", 32)` build them by name.

Weights, in `get_weights()` order: `kernel` $W_h$ $(D, U)$;
`recurrent_kernel` the blocks of the gates that read $h$, in the order
$z, r, h$ ($(U, 3U)$ for GRU1 and GRU2, $(U, U)$ for GRU3); `bias` the blocks
of the biased gates ($(3U,)$ for GRU1 and GRU3, $(U,)$ for GRU2).
"""

from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._gru import GRUCellBase
from keras_lstm_variants._gru_layer import GRULayerBase

NAMES = ("GRU1", "GRU2", "GRU3")

_RESET_BEFORE = (
    "Dey & Salem's gate variants apply the reset gate before the matmul "
    "(the original GRU's formulation they vary)"
)


class _GateVariantCell(GRUCellBase):
    input_gates = ("h",)
    refused_arguments = {
        **GRUCellBase.refused_arguments, "reset_after": _RESET_BEFORE,
    }

    def __init__(self, units, reset_after=False, **kwargs):
        super().__init__(units, reset_after=reset_after, **kwargs)


@serializable
class GRU1Cell(_GateVariantCell):
    r"""Dey & Salem's GRU1: gates from $h_{t-1}$ and a bias only,
    $z_t = \sigma(h_{t-1} U_z + b_z)$, $r_t = \sigma(h_{t-1} U_r + b_r)$
    (the module's table has the rest).

    Examples:
        >>> import numpy as np, keras
        >>> from keras_lstm_variants import GRU1Cell
        >>> cell = GRU1Cell(4)
        >>> _ = keras.layers.RNN(cell)(np.ones((2, 10, 8), "float32"))
        >>> [tuple(w.shape) for w in cell.weights]
        [(8, 4), (4, 12), (12,)]
    """


@serializable
class GRU2Cell(_GateVariantCell):
    r"""Dey & Salem's GRU2: gates from $h_{t-1}$ only,
    $z_t = \sigma(h_{t-1} U_z)$, $r_t = \sigma(h_{t-1} U_r)$.

    Examples:
        >>> import numpy as np, keras
        >>> from keras_lstm_variants import GRU2Cell
        >>> cell = GRU2Cell(4)
        >>> _ = keras.layers.RNN(cell)(np.ones((2, 10, 8), "float32"))
        >>> [tuple(w.shape) for w in cell.weights]
        [(8, 4), (4, 12), (4,)]
    """

    biased_gates = ("h",)


@serializable
class GRU3Cell(_GateVariantCell):
    r"""Dey & Salem's GRU3: gates from a bias only, $z_t = \sigma(b_z)$,
    $r_t = \sigma(b_r)$: constant over time, learned.

    Examples:
        >>> import numpy as np, keras
        >>> from keras_lstm_variants import GRU3Cell
        >>> cell = GRU3Cell(4)
        >>> _ = keras.layers.RNN(cell)(np.ones((2, 10, 8), "float32"))
        >>> [tuple(w.shape) for w in cell.weights]
        [(8, 4), (4, 4), (12,)]
    """

    recurrent_gates = ("h",)


@serializable
class GRU1(GRULayerBase):
    """Dey & Salem's GRU1 layer, over `GRU1Cell`; every argument of `GRU`."""

    cell_class = GRU1Cell


@serializable
class GRU2(GRULayerBase):
    """Dey & Salem's GRU2 layer, over `GRU2Cell`; every argument of `GRU`."""

    cell_class = GRU2Cell


@serializable
class GRU3(GRULayerBase):
    """Dey & Salem's GRU3 layer, over `GRU3Cell`; every argument of `GRU`."""

    cell_class = GRU3Cell


_LAYERS = {"GRU1": GRU1, "GRU2": GRU2, "GRU3": GRU3}


def _checked(name):
    if name not in _LAYERS:
        raise ValueError(
            f"Argument `name` must be one of {NAMES} (Dey & Salem's gate "
            f"variants). Received: name={name!r}."
        )
    return _LAYERS[name]


def layer(name, units, **kwargs):
    """The layer of the gate variant `name` (`"GRU1"`, `"GRU2"`, `"GRU3"`),
    with every argument of `GRU`.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import gru_variants
        >>> gru = gru_variants.layer("GRU2", 4, return_sequences=True)
        >>> type(gru).__name__, tuple(gru(np.ones((2, 5, 3), "float32")).shape)
        ('GRU2', (2, 5, 4))
    """
    return _checked(name)(units, **kwargs)


def cell(name, units, **kwargs):
    """The cell of the gate variant `name`, with every argument of
    `GRUCell`."""
    return _checked(name).cell_class(units, **kwargs)
