r"""The GRU family's recipe: the cell base with an update and a reset gate.

`GRUCellBase` is the gated cell base (`_gated.GatedCellBase`) with the rest
of the arguments of `keras.layers.GRUCell`, its weights (`kernel`,
`recurrent_kernel`, `bias`, in Keras's layouts) and its step, written once
for the whole family:

$$
\begin{aligned}
g_k &= \sigma\big([x_t W_k] + [h_{t-1} U_k] + [b_k]\big)
  \quad \text{for each gate } k \ne h \\
\tilde h_t &= \tanh\big(x_t W_h + b_h + r \odot (h_{t-1} U_h + b'_h)\big)
  \quad \text{(reset after, Keras's default)} \\
\tilde h_t &= \tanh\big(x_t W_h + b_h + (r \odot h_{t-1}) U_h\big)
  \quad \text{(reset before)} \\
h_t &= u \odot h_{t-1} + (1 - u) \odot \tilde h_t
\end{aligned}
$$

with $u$ = `update_gate(g)` and $r$ = `reset_gate(g)` (the GRU's $z$ and
$r$). A variant says which terms each gate's pre-activation has
(`input_gates`, `recurrent_gates`, `biased_gates`: the blocks of `kernel`,
`recurrent_kernel` and `bias`), may normalise the projections
(`input_projection`, `recurrent_projection`) and names its two gates. The
options: dropout and recurrent dropout (as Keras's), and zoneout of $h$
(as haste's GRU). The candidate is the gate named `"h"`.
"""

from keras import ops

from keras_lstm_variants._arguments import VariantDefinitionError
from keras_lstm_variants._arguments import check_bool
from keras_lstm_variants._arguments import check_rate
from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._cell import NO_PROJECTION
from keras_lstm_variants._gated import GatedCellBase
from keras_lstm_variants._numerics import zoneout_mix
from keras_lstm_variants._standard_form import StandardGRUForm
from keras_lstm_variants._standard_form import form_problem

# Arguments of the LSTM cells that a GRU has no use for, with why.
_REFUSED = {
    **NO_PROJECTION,
    "projection_units": "a GRU's output is its state h, which a projection "
    "would make another size (put a Dense after the layer)",
    "cell_clip": "a GRU has no carry c to clip",
    "cell_zoneout": "a GRU has no carry c (`zoneout` zones out h)",
    "output_zoneout": "a GRU's zoneout is `zoneout`, of h",
    "unit_forget_bias": "a GRU has no forget gate",
    "use_peepholes": "a GRU has no carry c to peep at",
}


@serializable
class GRUCellBase(GatedCellBase):
    r"""The base of every GRU cell: subclass it to write a GRU variant.

    The cell base with the GRU's recipe (see the module's equations). A
    variant sets, by these public names:

    - `gates`: the gate names, the candidate `"h"` last (default
      `("z", "r", "h")`); `input_gates`, `recurrent_gates`,
      `biased_gates`: the gates whose pre-activation has an $x W$, an
      $h U$ and a bias term (blocks of `kernel`, `recurrent_kernel` and
      `bias`, in `gates` order; default all three for every gate).
    - `update_gate(g)` / `reset_gate(g)`: $u$ and $r$ from the activated
      gates `g` (a dict by name); default `g["z"]` and `g["r"]`.
    - `input_projection(x, dropout_mask)` / `recurrent_projection(h,
      dropout_mask, kernel)`: $x W$ and $h U$ before their biases (as
      `LayerNormGRUCell` normalises them).

    Args:
        units: Positive integer, the size of h.
        activation: The candidate's activation. Defaults to `"tanh"`.
        recurrent_activation: The gates'. Defaults to `"sigmoid"`.
        reset_after: Whether the reset gate multiplies $h U$ (True: Keras's
            default and cuDNN's, with a second, recurrent bias) or $h$
            before $U$ (False: Cho et al.'s first formulation).
        zoneout: Float in [0, 1], the probability that a unit of h keeps
            its previous value at a step while training (Krueger et al.
            2017, as haste's GRU); at inference h mixes the two by this rate.
        **kwargs: Every other argument of `keras.layers.GRUCell` (the
            initializers, regularizers and constraints, `dropout`,
            `recurrent_dropout`, `implementation`, `seed`) and the base
            layer arguments.
    """

    gates = ("z", "r", "h")
    input_gates = None  # None: every gate
    recurrent_gates = None
    biased_gates = None
    refused_arguments = _REFUSED

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
        seed=None,
        implementation=2,
        zoneout=0.0,
        **kwargs,
    ):
        zoneout = check_rate("zoneout", zoneout)
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            recurrent_initializer=recurrent_initializer,
            recurrent_regularizer=recurrent_regularizer,
            recurrent_constraint=recurrent_constraint,
            recurrent_dropout=recurrent_dropout,
            implementation=implementation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            seed=seed,
            **kwargs,
        )
        self.reset_after = check_bool("reset_after", reset_after)
        self.zoneout = zoneout
        self.state_size = self.units
        self.output_size = self.units

    @classmethod
    def check_definition(cls):
        gates = cls.gates
        if (
            not isinstance(gates, tuple)
            or len(set(gates)) != len(gates)
            or not gates
            or gates[-1] != "h"
        ):
            raise VariantDefinitionError(
                f"{cls.__name__} must set `gates` to a tuple of distinct gate "
                "names, the candidate 'h' last, e.g. ('z', 'r', 'h'). "
                f"Received: gates={gates!r}."
            )
        for name in ("input_gates", "recurrent_gates", "biased_gates"):
            chosen = getattr(cls, name)
            if chosen is not None and not set(chosen) <= set(gates):
                raise VariantDefinitionError(
                    f"{cls.__name__}.{name} must name gates among {gates}. "
                    f"Received: {name}={chosen!r}."
                )

    def _gates_with(self, name):
        chosen = getattr(self, name)
        return self.gates if chosen is None else tuple(
            gate for gate in self.gates if gate in chosen
        )

    def zoneout_rates(self):
        return [("zoneout", self.zoneout, self.units)]

    def standard_gru_form(self):
        """This cell as the standard GRU op's operands (a `StandardGRUForm`),
        or None where its step is not that op: what every fused route runs.
        Call it on a built cell."""
        if self.standard_gru_form_problem() is not None:
            return None
        return StandardGRUForm(self.kernel, self.recurrent_kernel, self.bias)

    def standard_gru_form_problem(self):
        """Why this cell has no standard GRU form whatever its weights (a
        sentence), or None: a class below `GRUCellBase` that changes the
        step, activations other than tanh and sigmoid, zoneout, or the reset
        gate before the matmul."""
        problem = form_problem(self, "standard_gru_form", None, "GRU")
        if problem is None and not self.reset_after:
            problem = (
                "the standard GRU op resets after the matmul "
                "(reset_after=True); received reset_after=False"
            )
        return problem

    def build(self, input_shape):
        super().build(input_shape)
        inputs = self._gates_with("input_gates")
        recurrent = self._gates_with("recurrent_gates")
        self.kernel = self.add_kernel(
            input_shape[-1], len(inputs) * self.units
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, len(recurrent) * self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            width = len(self._gates_with("biased_gates")) * self.units
            shape = (2, width) if self.reset_after else (width,)
            self.bias = self.add_weight(
                shape=shape,
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def update_gate(self, g):
        """$u$, the weight of $h_{t-1}$ in $h_t$, from the activated gates."""
        return g["z"]

    def reset_gate(self, g):
        """$r$, what of $h_{t-1}$ (or of $h_{t-1} U_h$) the candidate sees."""
        return g["r"]

    def input_projection(self, x, dropout_mask=None):
        """$x W$ (no bias), the blocks of `input_gates`; `dropout_mask`: the
        input mask, one tensor or one per gate (of `gates`)."""
        gates = self._gates_with("input_gates")
        return _dropout_matmul(
            x, self.kernel, self._masks_of(dropout_mask, gates)
        )

    def recurrent_projection(self, h, dropout_mask=None, gates=None):
        """$h U$ (no bias), the blocks of `gates` (default `recurrent_gates`;
        they come first in `recurrent_kernel`); `dropout_mask` as
        `input_projection`'s."""
        every = self._gates_with("recurrent_gates")
        gates = every if gates is None else gates
        kernel = self.recurrent_kernel
        if len(gates) < len(every):
            kernel = kernel[:, : len(gates) * self.units]
        return _dropout_matmul(h, kernel, self._masks_of(dropout_mask, gates))

    def _masks_of(self, mask, gates):
        """The mask(s) for the blocks of `gates`: one tensor for all, or
        those of the gates from a list of one per gate of `gates`."""
        if not isinstance(mask, (list, tuple)):
            return mask
        return [mask[self.gates.index(gate)] for gate in gates]

    def _biases(self):
        """`(input_bias, recurrent_bias)` by gate (dicts), each empty where
        absent: reset after, Keras's two rows; reset before, one."""
        if self.bias is None:
            return {}, {}
        gates = self._gates_with("biased_gates")
        if not self.reset_after:
            return _blocks(self.bias, gates), {}
        return _blocks(self.bias[0], gates), _blocks(self.bias[1], gates)

    def step(self, inputs, states, training=False):
        dp_mask, rec_dp_mask = self.dropout_masks(inputs, states[0], training)
        (keep,) = self.zoneout_keep(ops.shape(inputs)[0], training)
        return self.gru_step(inputs, states, dp_mask, rec_dp_mask, keep)

    def gru_step(self, x, states, dp_mask=None, rec_dp_mask=None, keep=None):
        """One step from the masks drawn for the sequence and zoneout's keep
        (a draw or the rate; None without zoneout): `(h, [h])`. The sums
        are grouped as Keras's: $(x W + b) + (h U + b')$."""
        h_tm1 = states[0]
        input_bias, recurrent_bias = self._biases()
        x_part = _blocks(
            self.input_projection(x, dp_mask), self._gates_with("input_gates")
        )
        recurrent = self._gates_with("recurrent_gates")
        # Reset before: the candidate's h U comes after the reset gate.
        before = not self.reset_after and "h" in recurrent
        h_gates = recurrent[:-1] if before else recurrent
        h_part = _blocks(
            self.recurrent_projection(h_tm1, rec_dp_mask, h_gates), h_gates
        ) if h_gates else {}
        g = {}
        for gate in self.gates[:-1]:
            terms = [
                _sum([part[gate] for part in parts if gate in part])
                for parts in ((x_part, input_bias), (h_part, recurrent_bias))
                if any(gate in part for part in parts)
            ]
            g[gate] = self.recurrent_activation(_sum(terms))
        r = self.reset_gate(g)
        candidate = [
            _sum([part["h"] for part in (x_part, input_bias) if "h" in part])
        ] if "h" in x_part or "h" in input_bias else []
        if before:
            h_in = h_tm1 * _mask_of(rec_dp_mask, -1)
            kernel = self.recurrent_kernel[:, len(h_gates) * self.units:]
            candidate.append(ops.matmul(r * h_in, kernel))
        elif "h" in h_part:
            h_h = h_part["h"]
            if "h" in recurrent_bias:
                h_h = h_h + recurrent_bias["h"]
            candidate.append(r * h_h)
        hh = self.activation(_sum(candidate))
        u = self.update_gate(g)
        h = u * h_tm1 + (1.0 - u) * hh
        if keep is not None:
            h = zoneout_mix(keep, h_tm1, h)
        return h, [h]


def _blocks(tensor, gates):
    """`tensor`'s last axis split into one block per gate, a dict."""
    if not gates:
        return {}
    return dict(zip(gates, ops.split(tensor, len(gates), axis=-1), strict=True))


def _sum(terms):
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _mask_of(mask, index):
    """A gate's dropout mask: 1 (none), the one mask, or its own."""
    if mask is None:
        return 1.0
    return mask[index] if isinstance(mask, (list, tuple)) else mask


def _dropout_matmul(x, kernel, mask):
    """`x @ kernel` with a dropout `mask` on `x`: None, one mask, or one
    per block of `kernel`."""
    if mask is None:
        return ops.matmul(x, kernel)
    if isinstance(mask, (list, tuple)):
        if not mask:
            return ops.matmul(x, kernel)
        blocks = ops.split(kernel, len(mask), axis=1)
        return ops.concatenate(
            [ops.matmul(x * m, k) for m, k in zip(mask, blocks, strict=True)],
            axis=-1,
        )
    return ops.matmul(x * mask, kernel)
