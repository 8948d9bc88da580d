"""THE cell base: what every recurrent cell of the package (and of its
users) has, whatever its equations.

`RNNCellBase` owns `units`, the input kernel and bias arguments (their
initializers, regularizers and constraints), input dropout and its seed,
the arguments a family refuses (`refused_arguments`), the one protocol of
the states (`state_size`, `state_names()`, `get_initial_state`), the checks
of a step's inputs, and the config. A family's recipe is a subclass that
writes `step` and creates its weights in `build` with `add_kernel` and
`add_bias`: the LSTM recipe (`_lstm.LSTMCellBase`: gates, carry and hidden,
the options, the standard form), the minimal RNNs' (`_min_rnn.py`) and
mLSTM's (`mlstm.py`). The loop over a sequence is the layer base's
(`_layer.py`); the base knows no family, no route and no feature.
"""

import keras
from keras import constraints
from keras import ops
from keras import regularizers

from keras_lstm_variants._arguments import CellArguments
from keras_lstm_variants._arguments import VariantDefinitionError
from keras_lstm_variants._arguments import check_bool
from keras_lstm_variants._arguments import check_input_shape
from keras_lstm_variants._arguments import check_positive_int
from keras_lstm_variants._arguments import check_rate
from keras_lstm_variants._arguments import check_step
from keras_lstm_variants._arguments import checked_initializer
from keras_lstm_variants._arguments import config_value
from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._keras_internal import DropoutRNNCell

# Reasons that the families' `refused_arguments` share: those of a cell
# whose step reads only x_t (no h_{t-1} U), and of one without projection.
INPUT_ONLY = {
    "recurrent_initializer": "there is no recurrent kernel",
    "recurrent_regularizer": "there is no recurrent kernel",
    "recurrent_constraint": "there is no recurrent kernel",
    "recurrent_dropout": "there is no recurrent matmul to drop from (the "
    "step reads only x_t)",
    "implementation": "there is one dropout mask, on the input",
    "reset_after": "there is no reset gate",
}
NO_PROJECTION = {
    "projection_initializer": "there is no projection",
    "projection_regularizer": "there is no projection",
    "projection_constraint": "there is no projection",
    "projection_clip": "there is no projection",
}


@serializable
class RNNCellBase(CellArguments, keras.Layer, DropoutRNNCell):
    r"""The base of every cell: subclass it to write a new family.

    A Keras RNN cell (it runs in `keras.layers.RNN` as any other) that owns
    what every recurrent cell has; a family's subclass adds its equations:

    - `build(input_shape)`: its weights, made with `add_kernel` and
      `add_bias` (the base's arguments) and `add_weight` (its own).
    - `state_size` (an int per state, set in `__init__`), `output_size`,
      and `state_names()` where the states are not just `["h"]`.
    - `step(inputs, states, training)`: one time step, `(output,
      new_states)`, from checked `inputs` `(batch, features)` and `states`
      (a list, one tensor per state).
    - `refused_arguments`: the arguments of Keras's recurrent cells (or of
      this base) that the family has no use for, each with the reason its
      `ValueError` gives.

    A layer over the cell is a subclass of `RNNLayerBase`. The LSTM family
    subclasses `LSTMCellBase`, which is this base with the LSTM's recipe.

    Args:
        units: Positive integer, the size of the output (and, by default, of
            each state).
        use_bias: Whether the input part has a bias. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`. Defaults to
            `"glorot_uniform"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        kernel_regularizer: Regularizer of `kernel`. Defaults to `None`.
        bias_regularizer: Regularizer of `bias`. Defaults to `None`.
        kernel_constraint: Constraint on `kernel`. Defaults to `None`.
        bias_constraint: Constraint on `bias`. Defaults to `None`.
        dropout: Float in [0, 1], the fraction of the input units dropped,
            one mask per sequence. Defaults to `0.0`.
        seed: Seed of the dropout masks. Defaults to `None`.
        **kwargs: Base layer arguments (`name`, `dtype`, `trainable`).

    Examples:
        >>> import numpy as np, keras
        >>> from keras import ops
        >>> from keras_lstm_variants import RNNCellBase
        >>> class LeakyCell(RNNCellBase):
        ...     '''h_t = (1 - a) h_{t-1} + a tanh(x_t W + b), a = 0.5.'''
        ...     def __init__(self, units, **kwargs):
        ...         super().__init__(units, **kwargs)
        ...         self.state_size = units
        ...         self.output_size = units
        ...     def build(self, input_shape):
        ...         self.kernel = self.add_kernel(input_shape[-1], self.units)
        ...         self.bias = self.add_bias(self.units)
        ...     def step(self, inputs, states, training=False):
        ...         x = self.dropped(inputs, training)
        ...         h = 0.5 * states[0] + 0.5 * ops.tanh(
        ...             ops.matmul(x, self.kernel) + self.bias)
        ...         return h, [h]
        >>> rnn = keras.layers.RNN(LeakyCell(4))
        >>> tuple(rnn(np.ones((2, 5, 3), "float32")).shape)
        (2, 4)
    """

    def __init__(
        self,
        units,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        seed=None,
        **kwargs,
    ):
        units = check_positive_int("units", units)
        dropout = check_rate("dropout", dropout)
        self.check_definition()
        super().__init__(**kwargs)
        self.units = units
        self.use_bias = check_bool("use_bias", use_bias)
        # An unseeded Keras initializer draws its seed when created: a
        # family that has more initializers creates them in the order of
        # Keras's cells and passes them here created (not drawn again).
        self.kernel_initializer = checked_initializer(
            "kernel_initializer", kernel_initializer
        )
        self.bias_initializer = checked_initializer(
            "bias_initializer", bias_initializer
        )
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = dropout
        self.recurrent_dropout = 0.0  # read by Keras's DropoutRNNCell
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)

    @classmethod
    def check_definition(cls):
        """Raises a `VariantDefinitionError` naming what the class lacks,
        when it is instantiated; a family's base checks its recipe here."""

    def add_kernel(self, features, width, initializer=None, name="kernel"):
        """A `(features, width)` weight with the kernel's regularizer and
        constraint, and `initializer`, or `kernel_initializer` by default."""
        return self.add_weight(
            shape=(features, width),
            name=name,
            initializer=initializer or self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )

    def add_bias(self, width, initializer=None, name="bias"):
        """A `(width,)` weight with the bias's regularizer and constraint,
        and `initializer` (a callable), or `bias_initializer` by default."""
        return self.add_weight(
            shape=(width,),
            name=name,
            initializer=initializer or self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    def build(self, input_shape):
        check_input_shape(self, input_shape)

    def dropped(self, inputs, training):
        """`inputs` with the input dropout mask applied while training:
        one step `(batch, features)`, or a whole sequence `(batch, time,
        features)` under the same mask at every step."""
        if not (training and 0.0 < self.dropout < 1.0):
            return inputs
        if len(inputs.shape) == 2:
            return inputs * self.get_dropout_mask(inputs)
        mask = self.get_dropout_mask(inputs[:, 0, :])
        return inputs * ops.expand_dims(mask, 1)

    def zoneout_rates(self):
        """`(argument, rate, size)` for each state that zoneout mixes
        (Krueger et al. 2017: a unit keeps its previous value with
        probability `rate` while training; at inference the two mix by
        `rate`), in the order the family's step reads them; none by
        default."""
        return []

    def zoneout_keep(self, batch_size, training, steps=None):
        """What zoneout keeps of each previous state of `zoneout_rates` at a
        step: in training fresh Bernoulli draws, 1 where a unit keeps its
        previous value, `(batch, size)` (with `steps`, one per step, `(steps,
        batch, size)`); at inference the rate itself, the draws'
        expectation; None for a rate of zero."""
        rates = self.zoneout_rates()
        if training and steps is None and any(r for _, r, _ in rates) and (
            keras.backend.backend() == "jax"
        ):
            raise ValueError(
                f"{type(self).__name__}: zoneout draws a fresh mask at every "
                "step, which a cell stepped by `keras.layers.RNN` cannot do "
                "inside JAX's `lax.scan`. Use this package's layers (in "
                "`Bidirectional` too), which draw every step's masks before "
                "the loop. Received: "
                + ", ".join(f"{name}={r}" for name, r, _ in rates)
                + ", training=True."
            )
        keep = []
        for _, rate, size in rates:
            if rate == 0.0:
                keep.append(None)
            elif not training:
                keep.append(rate)
            else:
                shape = (batch_size, size) if steps is None else (
                    steps, batch_size, size
                )
                draw = keras.random.uniform(shape, seed=self.seed_generator)
                keep.append(ops.cast(draw < rate, self.compute_dtype))
        return tuple(keep)

    def dropout_masks(self, inputs, h, training):
        """`(input mask, recurrent mask)` for a step with `inputs` `(batch,
        features)` and previous output `h`: Keras's masks (one per sequence,
        one per gate with `dropout_mask_count`), each None where its rate is
        zero or not training."""
        dp_mask = rec_dp_mask = None
        if training and 0.0 < self.dropout < 1.0:
            dp_mask = self.get_dropout_mask(inputs)
        if training and 0.0 < self.recurrent_dropout < 1.0:
            rec_dp_mask = self.get_recurrent_dropout_mask(h)
        return dp_mask, rec_dp_mask

    def state_sizes(self):
        """`state_size` as a list, one int per state."""
        size = self.state_size
        return list(size) if isinstance(size, (list, tuple)) else [size]

    def state_names(self):
        """The states' names, in order, for error messages: `["h"]` for one
        state, else `state_1`, ...; a family with several names them."""
        count = len(self.state_sizes())
        return ["h"] if count == 1 else [f"state_{k + 1}" for k in range(count)]

    def call(self, inputs, states, training=False):
        if not isinstance(states, (list, tuple)):
            states = [states]
        states = check_step(
            self, inputs, states, self.state_sizes(), self.state_names()
        )
        return self.step(inputs, states, training=training)

    def step(self, inputs, states, training=False):
        """One time step: `(output, new_states)`. Every family defines it."""
        raise VariantDefinitionError(
            f"{type(self).__name__} must define "
            "`step(self, inputs, states, training=False)`."
        )

    def get_initial_state(self, batch_size=None):
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype)
            for size in self.state_sizes()
        ]

    def get_config(self):
        """Every constructor argument that the cell keeps under its own
        name, serialised, over `keras.Layer`'s; a subclass whose argument is
        kept otherwise adds it (`{**super().get_config(), ...}`)."""
        config = super().get_config()
        for name in type(self).argument_names():
            if name in vars(self):
                config[name] = config_value(vars(self)[name])
        return config
