"""What every cell and layer of the package shares.

`LSTMCellBase` owns the arguments of `keras.layers.LSTMCell`, the weights of
the gates (`kernel`, `recurrent_kernel`, `bias`), the dropout masks, the
initial state and the config. A variant subclasses it, names its gates, adds
its own weights in `build` and writes its equations in `_update` (and, if
it transforms the projections x W and h U, in `_input_part` / `_step`).

`LSTMLayerBase` is a `keras.layers.RNN` that builds its cell from its own
flat argument list, exactly as `keras.layers.LSTM` does; a variant layer only
names its cell class.
"""

import inspect
import numbers
import re

import keras
from keras import activations
from keras import constraints
from keras import initializers
from keras import ops
from keras import regularizers

from keras_lstm_variants._keras_internal import DropoutRNNCell
from keras_lstm_variants._keras_internal import backend_rnn
from keras_lstm_variants._tensorflow import in_xla_context

PACKAGE = "keras_lstm_variants"

# How the layers' loop computes the gate pre-activations:
#   "fused": one matmul per step, [x_t, h_{t-1}] @ [W; U] (cells whose
#            pre-activations are x W + h U + b; others run "step"),
#   "step":  x_t W and h_{t-1} U per step, as keras.layers.LSTMCell does,
#   "hoist": x W (+ b, and LN-LSTM's LN_x) for all steps in one large matmul
#            before the loop, then h_{t-1} U per step.
# Chosen by measurement (benchmarks/bench_layers.py --ablation; figures in
# benchmarks/RESULTS.md), per way the loop runs: "xla" is any loop XLA
# compiles (JAX always, TensorFlow under jit_compile=True), "tensorflow" is
# TensorFlow's graph executor without XLA, "torch" eager PyTorch.
LOOP_STRATEGY = {"xla": "fused", "tensorflow": "step", "torch": "step"}
LOOP_STRATEGIES = ("fused", "step", "hoist")

# Under XLA, "fused" pays only while the stacked kernel [W; U] is small: past
# this many elements, per backend (the XLA of jaxlib and of TensorFlow
# differ), the two matmuls of "step" train faster, and the loop runs those.
FUSED_KERNEL_LIMIT = {"jax": 2**18, "tensorflow": 2**20}


def loop_context():
    """How the loop being built now will run: "xla" (JAX, or TensorFlow
    under XLA), "tensorflow" (its graph executor) or "torch"."""
    backend = keras.backend.backend()
    if backend == "jax" or backend == "tensorflow" and in_xla_context():
        return "xla"
    return backend


def loop_strategy(fused_kernel_size):
    """`LOOP_STRATEGY`'s choice for the loop being built now, for a cell
    whose stacked kernel [W; U] has `fused_kernel_size` elements
    (`FUSED_KERNEL_LIMIT`)."""
    strategy = LOOP_STRATEGY.get(loop_context(), "step")
    limit = FUSED_KERNEL_LIMIT.get(keras.backend.backend(), 0)
    if strategy == "fused" and fused_kernel_size > limit:
        return "step"
    return strategy


def serializable(cls):
    """Registers a public class under the package's name for `.keras` files."""
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"Argument `{name}` must be a positive integer. "
            f"Received: {name}={value!r} of type {type(value).__name__}."
        )
    if value <= 0:
        raise ValueError(
            f"Argument `{name}` must be a positive integer. "
            f"Received: {name}={value!r}."
        )
    return int(value)


def check_rate(name, value):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0.0 <= value <= 1.0
    ):
        raise ValueError(
            f"Argument `{name}` must be a float in [0, 1]. "
            f"Received: {name}={value!r}."
        )
    return float(value)


def _snake_case(name):
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


# What `keras.Layer.get_config` adds to the constructor arguments.
_LAYER_CONFIG_KEYS = ("name", "trainable", "dtype")


def _checked_config(cls, config, argument_names):
    """Names what a config to `from_config` lacks, or has that we do not take.

    A key missing from an otherwise valid config takes its default (configs
    saved before an argument existed still load); only `units` is required.
    """
    if not isinstance(config, dict):
        raise TypeError(
            f"{cls.__name__}.from_config expects a dict. "
            f"Received: config of type {type(config).__name__}."
        )
    if "units" not in config:
        raise ValueError(
            f"{cls.__name__}.from_config: the config has no `units`, the one "
            f"required argument. Received: config keys={sorted(config)}."
        )
    unknown = sorted(set(config) - set(argument_names) - set(_LAYER_CONFIG_KEYS))
    if unknown:
        raise ValueError(
            f"{cls.__name__}.from_config: unknown config key(s) {unknown}; "
            "was the config written by a newer release, or edited? Received: "
            + ", ".join(f"{key}={config[key]!r}" for key in unknown)
            + "."
        )
    return config


def _static_dim(shape, axis):
    return None if shape is None or len(shape) == 0 else shape[axis]


class LSTMCellBase(keras.Layer, DropoutRNNCell):
    """Base of every cell: the arguments and weights of `keras.layers.LSTMCell`.

    Subclasses set `gates`, the order of the gate blocks in `kernel`,
    `recurrent_kernel` and `bias`, and implement `_update(z, c_tm1)`, which
    maps the gate pre-activations and the previous carry to `(h, c)`.
    """

    gates = ("i", "f", "c", "o")

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
        **kwargs,
    ):
        units = check_positive_int("units", units)
        dropout = check_rate("dropout", dropout)
        recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        if implementation not in (1, 2):
            raise ValueError(
                "Argument `implementation` must be 1 (one dropout mask per "
                "gate) or 2 (one mask for all gates). "
                f"Received: implementation={implementation!r}."
            )
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)

        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)

        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        # As in keras.layers.LSTMCell: recurrent dropout uses one mask per
        # gate (Gal & Ghahramani 2016), and so does input dropout then.
        self.implementation = 1 if recurrent_dropout else implementation
        if self.implementation == 1:
            self.dropout_mask_count = len(self.gates)

        self.state_size = [units, units]
        self.output_size = units

    @classmethod
    def argument_names(cls):
        """Every constructor argument of the cell, from all its classes."""
        names = []
        for klass in reversed(cls.__mro__):
            if not issubclass(klass, LSTMCellBase):
                continue
            for parameter in inspect.signature(klass.__init__).parameters:
                if parameter not in ("self", "kwargs") and parameter not in names:
                    names.append(parameter)
        return names

    @classmethod
    def from_config(cls, config):
        _checked_config(cls, config, cls.argument_names())
        return super().from_config(config)

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} expects `inputs` of shape "
                "(batch, features) with a known number of features. "
                f"Received: inputs.shape={tuple(input_shape)}."
            )
        width = len(self.gates) * self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(width,),
                name="bias",
                initializer=self._bias_initializer_with_forget_bias(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

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

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = self._checked_states(states)
        dp_mask = rec_dp_mask = None
        if training and 0.0 < self.dropout < 1.0:
            dp_mask = self.get_dropout_mask(inputs)
        if training and 0.0 < self.recurrent_dropout < 1.0:
            rec_dp_mask = self.get_recurrent_dropout_mask(h_tm1)
        return self._step(
            self._input_part(inputs, dp_mask), h_tm1, c_tm1, rec_dp_mask
        )

    def _sequence_kernels(self, dp_mask, rec_dp_mask):
        """Kernels that a layer derives from the weights once per sequence,
        outside its loop, for `_input_part` and `_step`.

        `(kernel, recurrent_kernel)`, each None (use the weight itself) unless
        a variant transforms it (`LayerNormLSTMCell` centres them). A cell
        stepped on its own (`call`) passes None.
        """
        return None, None

    def _input_part(self, inputs, dp_mask=None, kernel=None):
        """What the gate pre-activations owe to the input alone: x W + b.

        `inputs` may have any leading axes, so that a layer computes this
        for all time steps at once, outside its loop. `kernel`: the first of
        `_sequence_kernels`.
        """
        if kernel is None:
            kernel = self.kernel
        z = self._project(inputs, kernel, dp_mask)
        return ops.add(z, self.bias) if self.use_bias else z

    def _step(
        self, x_part, h_tm1, c_tm1, rec_dp_mask=None, recurrent_kernel=None
    ):
        """One time step from the input part; returns `(h, [h, c])`.
        `recurrent_kernel`: the second of `_sequence_kernels`."""
        if recurrent_kernel is None:
            recurrent_kernel = self.recurrent_kernel
        h_part = self._project(h_tm1, recurrent_kernel, rec_dp_mask)
        return self._finish_step(ops.add(x_part, h_part), c_tm1)

    def _finish_step(self, z, c_tm1):
        """Splits the summed pre-activations per gate and applies `_update`."""
        h, c = self._update(ops.split(z, len(self.gates), axis=-1), c_tm1)
        return h, [h, c]

    def _can_fuse(self, dp_mask, rec_dp_mask):
        """Whether `_fused_step` computes this cell's step."""
        return (
            type(self)._input_part is LSTMCellBase._input_part
            and type(self)._step is LSTMCellBase._step
            and type(self)._sequence_kernels is LSTMCellBase._sequence_kernels
            and not isinstance(dp_mask, (list, tuple))
            and not isinstance(rec_dp_mask, (list, tuple))
        )

    def _fused_step(self, fused_kernel, x_t, h_tm1, c_tm1, dp_mask, rec_mask):
        """`_step` with one matmul: [x_t, h_{t-1}] @ [W; U] + b.

        `fused_kernel` is `kernel` stacked on `recurrent_kernel`, made once
        per sequence by the layer. Only for cells whose pre-activations are
        x W + h U + b, with at most one dropout mask per input.
        """
        if dp_mask is not None:
            x_t = x_t * dp_mask
        if rec_mask is not None:
            h_tm1 = h_tm1 * rec_mask
        z = ops.matmul(ops.concatenate([x_t, h_tm1], axis=-1), fused_kernel)
        if self.use_bias:
            z = ops.add(z, self.bias)
        return self._finish_step(z, c_tm1)

    def _project(self, x, kernel, mask):
        if mask is None:
            return ops.matmul(x, kernel)
        if isinstance(mask, (list, tuple)):
            blocks = ops.split(kernel, len(self.gates), axis=1)
            return ops.concatenate(
                [ops.matmul(x * m, k) for m, k in zip(mask, blocks)], axis=-1
            )
        return ops.matmul(x * mask, kernel)

    def _update(self, z, c_tm1):
        raise NotImplementedError

    def _checked_states(self, states):
        if not isinstance(states, (list, tuple)) or len(states) != 2:
            count = len(states) if isinstance(states, (list, tuple)) else 1
            raise ValueError(
                f"{type(self).__name__} expects `states` to be a list of 2 "
                f"tensors [h, c]. Received: {count} state(s)."
            )
        h_tm1, c_tm1 = states
        for name, state in (("h", h_tm1), ("c", c_tm1)):
            shape = tuple(state.shape)
            if len(shape) != 2 or shape[-1] not in (None, self.units):
                raise ValueError(
                    f"{type(self).__name__} expects `states` [h, c], each of "
                    f"shape (batch, {self.units}). "
                    f"Received: {name}.shape={shape}."
                )
        return h_tm1, c_tm1

    def get_initial_state(self, batch_size=None):
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype)
            for size in self.state_size
        ]

    def _argument_config(self):
        """Every constructor argument, serialised; subclasses extend it."""
        return {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(
                self.recurrent_activation
            ),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(
                self.kernel_initializer
            ),
            "recurrent_initializer": initializers.serialize(
                self.recurrent_initializer
            ),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_regularizer": regularizers.serialize(
                self.kernel_regularizer
            ),
            "recurrent_regularizer": regularizers.serialize(
                self.recurrent_regularizer
            ),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(
                self.recurrent_constraint
            ),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            "implementation": self.implementation,
        }

    def get_config(self):
        return {**super().get_config(), **self._argument_config()}


class LSTMLayerBase(keras.layers.RNN):
    """Base of every layer: a `keras.layers.RNN` over one of our cells.

    The layer takes the cell's arguments flat, like `keras.layers.LSTM`, and
    exposes each of them as a read-only property. Subclasses set
    `cell_class`.
    """

    cell_class = LSTMCellBase
    has_fused_kernel = False  # whether `_fused_inner_loop` can ever run
    _loop_strategy = None  # None: LOOP_STRATEGY's choice; set by benchmarks

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in cls.cell_class.argument_names():
            if not hasattr(cls, name):
                setattr(cls, name, _cell_property(name))

    def __init__(
        self,
        units,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        use_cudnn="auto",
        activity_regularizer=None,
        **kwargs,
    ):
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                "Argument `use_cudnn` must be one of 'auto', True, False. "
                f"Received: use_cudnn={use_cudnn!r}."
            )
        if use_cudnn is True and not self.has_fused_kernel:
            raise ValueError(
                f"{type(self).__name__} has no cuDNN kernel: cuDNN computes "
                "only the standard LSTM. Received: use_cudnn=True; pass "
                "'auto' or False."
            )
        cell_arguments = {
            name: kwargs.pop(name)
            for name in self.cell_class.argument_names()
            if name in kwargs
        }
        cell = self.cell_class(
            units,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=_snake_case(self.cell_class.__name__),
            **cell_arguments,
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.use_cudnn = use_cudnn

    def build(self, sequences_shape, initial_state_shape=None):
        if len(sequences_shape) != 3 or sequences_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} expects `inputs` of shape "
                "(batch, timesteps, features) with a known number of "
                f"features. Received: inputs.shape={tuple(sequences_shape)}."
            )
        super().build(sequences_shape, initial_state_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if mask is not None:
            self._check_mask(sequences, mask)
        if initial_state is not None:
            initial_state = self._checked_initial_state(
                sequences, initial_state
            )
        return super().call(
            sequences, initial_state=initial_state, mask=mask, training=training
        )

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if self.use_cudnn and self.has_fused_kernel:
            try:
                return self._fused_inner_loop(
                    sequences, initial_state, mask, training
                )
            except NotImplementedError:
                if self.use_cudnn is True:
                    raise ValueError(
                        "use_cudnn=True, but the backend's fused kernel "
                        "cannot run this configuration here (it needs a GPU, "
                        "tanh/sigmoid, use_bias, no recurrent dropout, no "
                        "unroll and a right-padded mask). Pass "
                        "use_cudnn='auto' to fall back to the loop."
                    ) from None
        return self._sequence_loop(sequences, initial_state, mask, training)

    def _sequence_loop(self, sequences, initial_state, mask, training):
        """The portable loop over time, in `keras.ops` and `backend.rnn`.

        The data run time-major, so that each step reads one contiguous
        `(batch, features)` slab; each step computes the gate
        pre-activations as `LOOP_STRATEGY` says is fastest where the loop
        runs, then the variant's `_update`.
        """
        cell = self.cell
        dp_mask = rec_dp_mask = None
        if training and 0.0 < cell.dropout < 1.0:
            dp_mask = cell.get_dropout_mask(sequences[:, 0, :])
        if training and 0.0 < cell.recurrent_dropout < 1.0:
            rec_dp_mask = cell.get_recurrent_dropout_mask(initial_state[0])
        inputs = ops.transpose(sequences, (1, 0, 2))
        if mask is not None:
            mask = ops.transpose(mask, (1, 0))
        if self.go_backwards:
            # Reversed here rather than by the backend: the torch backend's
            # unrolled loop fails on a reversed mask (Keras 3.15).
            inputs = ops.flip(inputs, axis=0)
            mask = None if mask is None else ops.flip(mask, axis=0)
        strategy = self._loop_strategy or loop_strategy(
            (cell.kernel.shape[0] + cell.units) * cell.kernel.shape[1]
        )
        if strategy == "fused" and not cell._can_fuse(dp_mask, rec_dp_mask):
            strategy = "step"
        if strategy == "fused":
            fused_kernel = ops.concatenate(
                [cell.kernel, cell.recurrent_kernel], axis=0
            )
        else:
            kernel, recurrent_kernel = cell._sequence_kernels(
                dp_mask, rec_dp_mask
            )
        if strategy == "hoist":
            inputs = cell._input_part(inputs, dp_mask, kernel)
        copy_states = keras.backend.backend() == "torch" and self.stateful

        def step(x_t, states):
            if copy_states:  # torch autograd forbids in-place updates
                states = [ops.copy(state) for state in states]
            h_tm1, c_tm1 = states[0], states[1]
            if strategy == "fused":
                return cell._fused_step(
                    fused_kernel, x_t, h_tm1, c_tm1, dp_mask, rec_dp_mask
                )
            if strategy == "step":
                x_t = cell._input_part(x_t, dp_mask, kernel)
            return cell._step(x_t, h_tm1, c_tm1, rec_dp_mask, recurrent_kernel)

        last_output, outputs, states = backend_rnn(
            step,
            inputs,
            list(initial_state),
            go_backwards=False,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            time_major=True,
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )
        if mask is not None:
            last_output, outputs = _masked_outputs(
                mask, last_output, outputs, self.return_sequences,
                self.zero_output_for_mask,
            )
        return last_output, ops.transpose(outputs, (1, 0, 2)), states

    def _fused_inner_loop(self, sequences, initial_state, mask, training):
        """Runs the whole sequence in one fused backend kernel.

        Raises `NotImplementedError` where the kernel does not apply; the
        portable loop then runs instead.
        """
        raise NotImplementedError

    def _check_mask(self, sequences, mask):
        masks = mask if isinstance(mask, (list, tuple)) else [mask]
        expected = tuple(sequences.shape[:2])
        for m in masks:
            if m is None:
                continue
            shape = tuple(m.shape)
            if len(shape) != 2 or any(
                None not in (want, got) and want != got
                for want, got in zip(expected, shape)
            ):
                raise ValueError(
                    f"{type(self).__name__} expects `mask` of shape "
                    f"(batch, timesteps) = {expected}, one boolean per input "
                    f"step. Received: mask.shape={shape}."
                )

    def _checked_initial_state(self, sequences, initial_state):
        states = (
            list(initial_state)
            if isinstance(initial_state, (list, tuple))
            else [initial_state]
        )
        if len(states) != len(self.state_size):
            raise ValueError(
                f"{type(self).__name__} expects `initial_state` to be a list "
                f"of {len(self.state_size)} tensors [h, c]. "
                f"Received: {len(states)} tensor(s)."
            )
        batch = _static_dim(sequences.shape, 0)
        for name, state, size in zip(("h", "c"), states, self.state_size):
            shape = tuple(ops.shape(state))
            if (
                len(shape) != 2
                or shape[1] != size
                or None not in (batch, shape[0]) and shape[0] != batch
            ):
                raise ValueError(
                    f"{type(self).__name__} expects each `initial_state` "
                    f"tensor to have shape ({batch}, {size}). "
                    f"Received: {name}.shape={shape}."
                )
        return states

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        return {
            **config,
            **self.cell._argument_config(),
            "use_cudnn": self.use_cudnn,
            "activity_regularizer": regularizers.serialize(
                self.activity_regularizer
            ),
        }

    @classmethod
    def argument_names(cls):
        """Every constructor argument of the layer, its cell's included."""
        own = [
            name
            for name in inspect.signature(LSTMLayerBase.__init__).parameters
            if name not in ("self", "kwargs")
        ]
        return own + [
            name for name in cls.cell_class.argument_names() if name not in own
        ]

    @classmethod
    def from_config(cls, config):
        return cls(**_checked_config(cls, config, cls.argument_names()))


def _masked_outputs(mask, last_output, outputs, all_outputs, zero_for_mask):
    """Keras's masking semantics for outputs, the same on every backend.

    A masked step outputs zeros with `zero_output_for_mask`, else repeats the
    previous output, and zeros before a row's first unmasked step. The
    backends' loops differ at the edges (JAX's outputs the initial `h`
    before the first step, and its unrolled loop ignores
    `zero_output_for_mask`); this is a no-op where they already agree.
    `mask` and `outputs` are time-major.
    """
    keep = mask if zero_for_mask else ops.cumsum(ops.cast(mask, "int32"), 0) > 0
    if all_outputs:
        outputs = ops.where(keep[..., None], outputs, ops.zeros_like(outputs))
    last_output = ops.where(
        keep[-1][:, None], last_output, ops.zeros_like(last_output)
    )
    return last_output, outputs


def _cell_property(name):
    return property(
        lambda self: getattr(self.cell, name),
        doc=f"The cell's `{name}` (read-only).",
    )
