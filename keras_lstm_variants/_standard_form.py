"""The standard forms: the operands of the ops that the fused routes
(cuDNN, PyTorch's native ops, OpenVINO's, LiteRT's) compute, which a cell
declares once (`LSTMCellBase.standard_lstm_form`,
`GRUCellBase.standard_gru_form`), and the one judgement of whether a cell
can have one (`form_problem`)."""

from typing import NamedTuple

from keras import activations
from keras import ops


class StandardLSTMForm(NamedTuple):
    r"""A cell written as the operands of the standard LSTM op.

    The op that cuDNN, PyTorch's `torch.nn.LSTM` and LiteRT's
    `UNIDIRECTIONAL_SEQUENCE_LSTM` compute, with $\sigma$ the sigmoid:

    $$
    \begin{aligned}
    [z_i, z_f, z_c, z_o] &= x_t W + h_{t-1} U + b \\
    i_t &= \sigma(z_i + p_i \odot c_{t-1}), \quad
    f_t = \sigma(z_f + p_f \odot c_{t-1}) \\
    c_t &= \mathrm{clip}(f_t \odot c_{t-1} + i_t \odot \tanh(z_c)) \\
    o_t &= \sigma(z_o + p_o \odot c_t) \\
    h_t &= \mathrm{clip}((o_t \odot \tanh(c_t))\, W_{proj})
    \end{aligned}
    $$

    `LSTMCellBase.standard_lstm_form` returns one for a cell whose step is
    this op; each fused route (cuDNN, PyTorch's native op, LiteRT) takes
    the parts it can compute and declines a form with the others.

    Attributes:
        kernel: $W$, `(features, 4 * units)`, gate blocks $i, f, c, o$.
        recurrent_kernel: $U$, `(output_size, 4 * units)`, same blocks.
        bias: $b$, `(4 * units,)`, or None (no bias).
        peepholes: None, or the tuple $(p_i, p_f, p_o)$, each `(units,)`.
        projection_kernel: $W_{proj}$, `(units, projection_units)`, or None.
        cell_clip: The bound of the carry's clipping, or None.
        projection_clip: The bound of the projected output's, or None.
    """

    kernel: object
    recurrent_kernel: object
    bias: object = None
    peepholes: object = None
    projection_kernel: object = None
    cell_clip: object = None
    projection_clip: object = None


# What a subclass may define and keep its parent's standard form: anything
# else (an equation, a gate, a part, a weight) may change the step, and the
# subclass then declares its own form or has none.
FORM_NEUTRAL_NAMES = frozenset({
    "__init__", "get_config", "from_config", "__module__", "__qualname__",
    "__doc__", "__firstlineno__", "__static_attributes__", "__annotations__",
    "__dict__", "__weakref__", "__signature__", "__orig_bases__",
})


class StandardGRUForm(NamedTuple):
    r"""A cell written as the operands of the standard GRU op, the op of
    cuDNN, `torch.nn.GRU` and OpenVINO's `GRUSequence` (Keras's
    `reset_after=True` form), with $\sigma$ the sigmoid:

    $$
    \begin{aligned}
    [x_z, x_r, x_h] &= x_t W + b, \quad [h_z, h_r, h_h] = h_{t-1} U + b' \\
    z_t &= \sigma(x_z + h_z), \quad r_t = \sigma(x_r + h_r) \\
    h_t &= z_t \odot h_{t-1} + (1 - z_t) \odot \tanh(x_h + r_t \odot h_h)
    \end{aligned}
    $$

    Attributes:
        kernel: $W$, `(features, 3 * units)`, gate blocks $z, r, h$.
        recurrent_kernel: $U$, `(units, 3 * units)`, same blocks.
        bias: $[b; b']$, `(2, 3 * units)` (Keras's layout), or None.
    """

    kernel: object
    recurrent_kernel: object
    bias: object = None


def form_problem(cell, declaration, base, op):
    """Why `cell` has no standard form of `op` (a name, e.g. "LSTM")
    whatever its weights, or None: the class that declares the form (the
    first in its MRO to define the method `declaration`) is `base` (which
    declares none), or a subclass below it redefines a name beyond
    `FORM_NEUTRAL_NAMES` (it must declare its own); the activations are not
    tanh and sigmoid; zoneout is on."""
    name = type(cell).__name__
    owner = next(
        klass for klass in type(cell).__mro__ if declaration in vars(klass)
    )
    if owner is base:
        return f"{name} declares no standard {op} form"
    for klass in type(cell).__mro__:
        if klass is owner:
            break
        changed = sorted(set(vars(klass)) - FORM_NEUTRAL_NAMES)
        if changed:
            return (
                f"{name} redefines {', '.join(changed)} of "
                f"{owner.__name__}, whose standard {op} form it inherits; "
                f"it must declare its own (`{declaration}`)"
            )
    if cell.activation not in (activations.tanh, ops.tanh) or (
        cell.recurrent_activation not in (activations.sigmoid, ops.sigmoid)
    ):
        return (
            f"the standard {op} op's gates are sigmoid and its activation "
            "tanh; received "
            f"activation={_function_name(cell.activation)!r}, "
            "recurrent_activation="
            f"{_function_name(cell.recurrent_activation)!r}"
        )
    rates = cell.zoneout_rates()
    if any(rate for _, rate, _ in rates):
        return "zoneout mixes the previous state into the step; received " + (
            ", ".join(f"{argument}={rate!r}" for argument, rate, _ in rates)
        )
    return None


def _function_name(function):
    return getattr(function, "__name__", repr(function))
