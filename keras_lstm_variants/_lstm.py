"""The LSTM family's recipe: the cell base with gates, a carry and an output.

`LSTMCellBase` is the gated cell base (`_gated.GatedCellBase`) with the rest
of the arguments of `keras.layers.LSTMCell`, the weights of the gates
(`kernel`, `recurrent_kernel`, `bias`), the LSTM's step, its standard form
(what the fused routes run), and the options that combine with every
variant: a projection of the output (LSTMP) with its clipping, clipping of
the carry, and zoneout. A variant subclasses it by public names only: it
sets `gates`, adds its own weights in `build_variant`, writes its equations
in `carry` and `hidden`, and, where it needs them, transforms x W and h U
(`input_part`, `recurrent_part`) or keeps state beyond `[h, c]`
(`extra_state_sizes`, `gate_inputs`, `next_extra_states`). The layer's loop
step over a sequence is `_lstm_layer.py`'s. """

from keras import constraints
from keras import ops
from keras import regularizers

from keras_lstm_variants._arguments import VariantDefinitionError
from keras_lstm_variants._arguments import check_bool
from keras_lstm_variants._arguments import check_clip
from keras_lstm_variants._arguments import check_positive_int
from keras_lstm_variants._arguments import check_rate
from keras_lstm_variants._arguments import initializer_if
from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._gated import GatedCellBase
from keras_lstm_variants._numerics import zoneout_mix
from keras_lstm_variants._standard_form import form_problem


@serializable
class LSTMCellBase(GatedCellBase):
    r"""The base of every LSTM cell, ours and yours: subclass it to write a
    variant.

    The cell base (`RNNCellBase`) with the LSTM's recipe: it owns every
    argument of `keras.layers.LSTMCell` and the options of this package
    (projection, clipping, zoneout), the weights of the gates and the step
    (the base owns dropout, the initial state and the config). One step
    computes

    $$
    \begin{aligned}
    z &= \mathrm{input\_part}(x_t) + \mathrm{recurrent\_part}(h_{t-1})
       = x_t W + b + h_{t-1} U \\
    c_t &= \mathrm{clip}(\mathrm{carry}(z, c_{t-1})) \\
    h_t &= \mathrm{zoneout}(\mathrm{clip}(\mathrm{hidden}(z, c_t)\,
       W_{proj}))
    \end{aligned}
    $$

    where $z$ is split into one block of `units` per gate, and clipping,
    projection and zoneout apply only where their arguments ask for them.
    A variant is a subclass that defines, by these public names:

    - `gates` (required): a tuple of gate names, the order of the blocks of
      `kernel`, `recurrent_kernel` and `bias` (a gate named `"f"` gets the
      forget bias of `unit_forget_bias`).
    - `carry(z, c_tm1)` (required): the new carry from the pre-activations
      `z` (a list, one `(batch, units)` tensor per gate) and the previous
      carry.
    - `hidden(z, c)` (required): the output from `z` and the new carry, before
      any projection.
    - `build_variant(input_shape)`: the variant's own weights (with
      `self.add_weight`), created after the gates' and before the
      projection's.
    - `input_part` / `recurrent_part` / `sequence_kernels`: to transform
      $x W$ or $h U$ (as `LayerNormLSTMCell` normalises them);
      `recurrent_kernel_shape()` where `recurrent_part` reads $U$ in
      another layout (as `SLSTMCell`'s block-diagonal one).
    - `extra_state_sizes()`, `gate_inputs(z, extra_tm1)` and
      `next_extra_states(z, c_tm1, c)`: state carried beyond `[h, c]` (as
      Greff et al.'s full gate recurrence carries the gate activations).
      `gate_inputs` may return entries after the gates': quantities of
      the step that need the previous extra states, which `carry`,
      `hidden` and `next_extra_states` then read in `z` (as `SLSTMCell`
      appends its normaliser and stabiliser).
    - `__init__` and `get_config` for arguments of its own, as any Keras
      layer: `get_config` returns `{**super().get_config(), ...}`.
    - `standard_lstm_gates()`: where the variant's step is the standard LSTM
      op with other operands, those operands (a `StandardLSTMForm`); the
      fused kernels (cuDNN, PyTorch's, LiteRT's) then run it.

    The layer over such a cell is a subclass of `LSTMLayerBase` that sets
    `cell_class`. The guide "Write your own variant" has a complete example.

    Args:
        units: Positive integer, the number of units of the carry (and of
            the output without projection).
        **kwargs: Every argument of `LSTMCell` (the base takes them all:
            `activation`, the initializers, regularizers and constraints,
            dropout, projection, clipping, zoneout, ...), and the base layer
            arguments (`name`, `dtype`, `trainable`).
    """

    gates = None

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        implementation=2,
        projection_units=None,
        projection_initializer="glorot_uniform",
        projection_regularizer=None,
        projection_constraint=None,
        cell_clip=None,
        projection_clip=None,
        cell_zoneout=0.0,
        output_zoneout=0.0,
        **kwargs,
    ):
        if projection_units is not None:
            projection_units = check_positive_int(
                "projection_units", projection_units
            )
        cell_clip = check_clip("cell_clip", cell_clip)
        projection_clip = check_clip("projection_clip", projection_clip)
        if projection_clip is not None and projection_units is None:
            raise ValueError(
                "Argument `projection_clip` clips the projected output and "
                "needs `projection_units`. Received: "
                f"projection_clip={projection_clip!r}, projection_units=None."
            )
        cell_zoneout = check_rate("cell_zoneout", cell_zoneout)
        output_zoneout = check_rate("output_zoneout", output_zoneout)
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
        self.unit_forget_bias = check_bool("unit_forget_bias", unit_forget_bias)

        self.projection_units = projection_units
        self.projection_initializer = initializer_if(
            projection_units is not None, projection_initializer
        )
        self.projection_regularizer = regularizers.get(projection_regularizer)
        self.projection_constraint = constraints.get(projection_constraint)
        self.cell_clip = cell_clip
        self.projection_clip = projection_clip
        self.cell_zoneout = cell_zoneout
        self.output_zoneout = output_zoneout

        self.output_size = projection_units or units

    @classmethod
    def check_definition(cls):
        _check_variant_definition(cls)

    @property
    def state_size(self):
        """`[output_size, units]` for `[h, c]`, then `extra_state_sizes()`."""
        return [self.output_size, self.units, *self.extra_state_sizes()]

    def extra_state_sizes(self):
        """The sizes of the states a variant carries after `[h, c]`; none by
        default. A variant that returns sizes here defines
        `next_extra_states` (and reads the previous ones in `gate_inputs`)."""
        return []

    def standard_lstm_gates(self):
        """The variant's gates as the standard LSTM op's operands: a
        `StandardLSTMForm` of `kernel`, `recurrent_kernel`, `bias` (gate
        blocks i, f, c, o) and `peepholes`, built from the cell's weights
        with `keras.ops` (so that gradients reach them), or None where the
        step is not that op. None by default: a variant declares it by
        overriding this method. The projection and clips are the base's:
        `standard_lstm_form` adds them."""
        return None

    def standard_lstm_form(self):
        """This cell as the standard LSTM op's operands (a
        `StandardLSTMForm`, projection and clips included), or None where
        its step is not that op. What every fused route runs.

        None where the variant declares no form (`standard_lstm_gates`),
        where a subclass changed anything of the step below the class that
        declared it (it must declare its own), with activations other than
        tanh and sigmoid, and with zoneout. Call it on a built cell.
        """
        if self.standard_lstm_form_problem() is not None:
            return None
        gates = self.standard_lstm_gates()
        if gates is None:
            return None
        return gates._replace(
            projection_kernel=self.projection_kernel,
            cell_clip=self.cell_clip,
            projection_clip=self.projection_clip,
        )

    def standard_lstm_form_problem(self):
        """Why this cell has no standard LSTM form whatever its weights (a
        sentence), or None where `standard_lstm_gates` decides: the one
        place where the class, the activations and zoneout are judged."""
        return form_problem(self, "standard_lstm_gates", LSTMCellBase, "LSTM")

    def build(self, input_shape):
        super().build(input_shape)
        width = len(self.gates) * self.units
        self.kernel = self.add_kernel(input_shape[-1], width)
        self.recurrent_kernel = self.add_weight(
            shape=self.recurrent_kernel_shape(),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_bias(
                width, self._bias_initializer_with_forget_bias()
            )
        if self.extra_state_sizes() and (
            type(self).next_extra_states is LSTMCellBase.next_extra_states
        ):
            raise _missing_next_extra_states(self)
        self.build_variant(input_shape)
        # Last, so that the layouts without projection are those of 0.1.0.
        self.projection_kernel = None
        if self.projection_units is not None:
            self.projection_kernel = self.add_weight(
                shape=(self.units, self.projection_units),
                name="projection_kernel",
                initializer=self.projection_initializer,
                regularizer=self.projection_regularizer,
                constraint=self.projection_constraint,
            )

    def recurrent_kernel_shape(self):
        """The shape of `recurrent_kernel`: `(output_size, len(gates) *
        units)`, the dense $U$ of $h_{t-1} U$. A variant whose
        `recurrent_part` reads another layout (a block-diagonal one, as
        `SLSTMCell`'s) returns that layout's shape."""
        return (self.output_size, len(self.gates) * self.units)

    def build_variant(self, input_shape):
        """Creates the variant's own weights (`self.add_weight`), after the
        gates' weights and before the projection; none by default.
        `input_shape` is the step's `(batch, features)`."""

    def _bias_initializer_with_forget_bias(self):
        if not self.unit_forget_bias:
            return self.bias_initializer

        def initializer(shape, dtype=None):
            return ops.concatenate(
                [
                    ops.ones((self.units,), dtype=dtype)
                    if gate == "f"
                    else self.bias_initializer((self.units,), dtype=dtype)
                    for gate in self.gates
                ]
            )

        return initializer

    def step(self, inputs, states, training=False):
        dp_mask, rec_dp_mask = self.dropout_masks(inputs, states[0], training)
        zoneout = self.zoneout_keep(ops.shape(inputs)[0], training)
        return self._step(
            self.input_part(inputs, dp_mask), states, rec_dp_mask,
            zoneout=zoneout,
        )

    def zoneout_rates(self):
        return [
            ("output_zoneout", self.output_zoneout, self.output_size),
            ("cell_zoneout", self.cell_zoneout, self.units),
        ]

    def sequence_kernels(self, dropout_mask, recurrent_dropout_mask):
        """Kernels derived from the weights once per sequence, outside the
        loop, for `input_part` and `recurrent_part`.

        `(kernel, recurrent_kernel)`, each None (use the weight itself) by
        default; `LayerNormLSTMCell` centres them here. A cell stepped on its
        own (`call`) passes None to both parts.
        """
        return None, None

    def input_part(self, inputs, dropout_mask=None, kernel=None):
        """What the gate pre-activations owe to the input alone: x W + b.

        `inputs` may have any leading axes: a layer computes this for all
        time steps at once where that is faster. `dropout_mask`: the input
        dropout mask (one tensor, or one per gate), or None; `kernel`: the
        first of `sequence_kernels`, or None for `self.kernel`.
        """
        if kernel is None:
            kernel = self.kernel
        z = self.dropout_matmul(inputs, kernel, dropout_mask)
        return ops.add(z, self.bias) if self.use_bias else z

    def recurrent_part(self, h_tm1, dropout_mask=None, recurrent_kernel=None):
        """What the gate pre-activations owe to the previous output: h U.

        `dropout_mask`: the recurrent dropout mask(s), or None;
        `recurrent_kernel`: the second of `sequence_kernels`, or None for
        `self.recurrent_kernel`.
        """
        if recurrent_kernel is None:
            recurrent_kernel = self.recurrent_kernel
        return self.dropout_matmul(h_tm1, recurrent_kernel, dropout_mask)

    def dropout_matmul(self, x, kernel, mask):
        """`x @ kernel` with a dropout `mask` on `x`: None, one mask, or one
        mask per gate (each multiplying the gate's block of `kernel`)."""
        if mask is None:
            return ops.matmul(x, kernel)
        if isinstance(mask, (list, tuple)):
            blocks = ops.split(kernel, len(self.gates), axis=1)
            return ops.concatenate(
                [
                    ops.matmul(x * m, k)
                    for m, k in zip(mask, blocks, strict=True)
                ],
                axis=-1,
            )
        return ops.matmul(x * mask, kernel)

    def gate_inputs(self, z, extra_tm1):
        """The pre-activations `z` (a list, one per gate) given the previous
        step's extra states (`extra_state_sizes`); returned unchanged by
        default. The list returned is the `z` that `carry`, `hidden` and
        `next_extra_states` read: it may hold entries after the gates',
        quantities of this step that need the previous extra states."""
        return z

    def carry(self, z, c_tm1):
        """The new carry from the gates' pre-activations `z` (a list, one
        `(batch, units)` tensor per gate, in `gates` order) and the previous
        carry. Every variant defines it."""
        raise VariantDefinitionError(
            f"{type(self).__name__} must define `carry(self, z, c_tm1)`."
        )

    def hidden(self, z, c):
        """The output from the pre-activations and the new carry (clipped by
        `cell_clip`), before any projection. Every variant defines it."""
        raise VariantDefinitionError(
            f"{type(self).__name__} must define `hidden(self, z, c)`."
        )

    def next_extra_states(self, z, c_tm1, c):
        """The extra states of this step (a list, one tensor per
        `extra_state_sizes`), from the pre-activations, the previous and the
        new carry. Defined by a variant with extra states."""
        raise _missing_next_extra_states(self)

    def _step(
        self,
        x_part,
        states,
        rec_dp_mask=None,
        recurrent_kernel=None,
        zoneout=(None, None),
    ):
        """One time step from the input part; returns `(h, new_states)`.
        `recurrent_kernel`: the second of `sequence_kernels`; `zoneout`:
        `_zoneout_keep`'s pair for this step."""
        h_part = self.recurrent_part(states[0], rec_dp_mask, recurrent_kernel)
        return self._finish_step(ops.add(x_part, h_part), states, zoneout)

    def _finish_step(self, z, states, zoneout=(None, None)):
        """The step from the summed pre-activations: `gate_inputs`, the
        variant's `carry`, `cell_clip`, its `hidden`, the projection and
        `projection_clip`, then zoneout, and the extra states."""
        h_tm1, c_tm1, *extra_tm1 = states
        z = ops.split(z, len(self.gates), axis=-1)
        if extra_tm1:
            z = list(self.gate_inputs(z, extra_tm1))
        c = self.carry(z, c_tm1)
        if self.cell_clip is not None:
            c = ops.clip(c, -self.cell_clip, self.cell_clip)
        h = self.hidden(z, c)
        extra = list(self.next_extra_states(z, c_tm1, c)) if extra_tm1 else []
        if self.projection_kernel is not None:
            h = ops.matmul(h, self.projection_kernel)
            if self.projection_clip is not None:
                h = ops.clip(h, -self.projection_clip, self.projection_clip)
        keep_h, keep_c = zoneout
        if keep_h is not None:
            h = zoneout_mix(keep_h, h_tm1, h)
        if keep_c is not None:
            c = zoneout_mix(keep_c, c_tm1, c)
        return h, [h, c, *extra]

    def state_names(self):
        """`["h", "c"]`, then `extra_state_1`, ... for error messages."""
        extra = len(self.state_sizes()) - 2
        return ["h", "c"] + [f"extra_state_{k + 1}" for k in range(extra)]


def _missing_next_extra_states(cell):
    """The error of a variant that declares extra states without computing
    them: raised at build, before any step."""
    return VariantDefinitionError(
        f"{type(cell).__name__} declares extra states "
        f"{cell.extra_state_sizes()} and must define "
        "`next_extra_states(self, z, c_tm1, c)`."
    )


def _check_variant_definition(cls):
    """Names what a variant class lacks, when it is instantiated."""
    gates = cls.gates
    if (
        not isinstance(gates, tuple)
        or not gates
        or not all(isinstance(g, str) and g for g in gates)
        or len(set(gates)) != len(gates)
    ):
        raise VariantDefinitionError(
            f"{cls.__name__} must set `gates` to a tuple of distinct gate "
            "names, the order of the blocks of its kernels, e.g. "
            f"gates = ('i', 'f', 'c', 'o'). Received: gates={gates!r}."
        )
    missing = [
        f"`{name}{signature}`"
        for name, signature in (("carry", "(self, z, c_tm1)"),
                                ("hidden", "(self, z, c)"))
        if getattr(cls, name) is getattr(LSTMCellBase, name)
    ]
    if missing:
        raise VariantDefinitionError(
            f"{cls.__name__} must define " + " and ".join(missing)
            + ": the variant's equations (see `LSTMCellBase`)."
        )
