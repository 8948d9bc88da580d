"""The standard LSTM form: the operands of the op that every fused route
(cuDNN, PyTorch's native op, OpenVINO's, LiteRT's) computes, which a cell
of the LSTM family declares once (`LSTMCellBase.standard_lstm_form`)."""

from typing import NamedTuple


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
