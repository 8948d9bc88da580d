"""The layer that every variant's layer subclasses, and its loop over time.

`LSTMLayerBase` is a `keras.layers.RNN` that builds its cell (a subclass of
`LSTMCellBase`) from its own flat argument list, exactly as
`keras.layers.LSTM` does; a variant layer only names its cell class. Its
loop (`_sequence_loop`) knows nothing of any one variant: it computes the
gate pre-activations as `LOOP_STRATEGY` says is fastest where it runs, and
hands the rest of each step to the cell.
"""


import keras
from keras import ops

from keras_lstm_variants._arguments import LayerArguments
from keras_lstm_variants._arguments import VariantDefinitionError
from keras_lstm_variants._arguments import check_input_shape
from keras_lstm_variants._arguments import check_sequences
from keras_lstm_variants._arguments import checked_flags
from keras_lstm_variants._arguments import flat_layer_config
from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._arguments import static_dim
from keras_lstm_variants._cell import LSTMCellBase
from keras_lstm_variants._fused import cudnn_problem
from keras_lstm_variants._fused import fused_loop
from keras_lstm_variants._fused import takes_cudnn
from keras_lstm_variants._keras_internal import backend_rnn
from keras_lstm_variants._numerics import masked_outputs
from keras_lstm_variants._tensorflow import in_xla_context
from keras_lstm_variants._tuning import FUSED_KERNEL_LIMIT
from keras_lstm_variants._tuning import LOOP_STRATEGY

# The ways the loop computes the gate pre-activations (`_tuning.LOOP_STRATEGY`
# says which runs where).
LOOP_STRATEGIES = ("fused", "step", "hoist")


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




@serializable
class LSTMLayerBase(LayerArguments, keras.layers.RNN):
    """The base of every layer: a `keras.layers.RNN` over a variant's cell.

    A variant's layer is a subclass that sets `cell_class`, its cell (a
    subclass of `LSTMCellBase`), and nothing else: it takes the cell's
    arguments flat beside those of `keras.layers.LSTM` (as that layer does),
    exposes each cell argument as a read-only property, serialises them all
    in a flat config, and runs the package's loop over time (masking,
    `go_backwards`, `stateful`, `unroll`, dropout and zoneout, the loop
    strategy measured fastest on each backend).

    Args:
        units: Positive integer, the cell's `units`.
        **kwargs: Every argument of `cell_class` and of `LSTM`
            (`return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll`, `zero_output_for_mask`, `use_cudnn`,
            `activity_regularizer`), and the base layer arguments.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import LSTMLayerBase, PeepholeLSTMCell
        >>> class MyPeepholeLSTM(LSTMLayerBase):
        ...     cell_class = PeepholeLSTMCell
        >>> tuple(MyPeepholeLSTM(4)(np.ones((2, 10, 8), "float32")).shape)
        (2, 4)
    """

    cell_class = LSTMCellBase
    _loop_strategy = None  # None: LOOP_STRATEGY's choice; set by benchmarks
    # A function that a tool tracing the model (`litert.convert`) sets on a
    # layer while it traces: `hook(layer, sequences, initial_state, mask)`
    # returns the layer's outputs, or None for the layer's own call.
    call_hook = None

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
        if not (
            isinstance(self.cell_class, type)
            and issubclass(self.cell_class, LSTMCellBase)
            and self.cell_class is not LSTMCellBase
        ):
            raise VariantDefinitionError(
                f"{type(self).__name__} must set `cell_class` to its cell, a "
                "subclass of `LSTMCellBase`. Received: "
                f"cell_class={self.cell_class!r}."
            )
        flags = checked_flags(
            return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
        )
        cell = self.make_cell(units, kwargs)
        problem = cudnn_problem(cell) if use_cudnn is True else None
        if problem is not None:
            raise ValueError(
                f"{type(self).__name__} cannot run cuDNN's LSTM kernel: "
                f"{problem}. Received: use_cudnn=True; pass 'auto' or False."
            )
        super().__init__(
            cell,
            **flags,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.use_cudnn = use_cudnn

    def build(self, sequences_shape, initial_state_shape=None):
        check_input_shape(
            self, sequences_shape, ("batch", "timesteps", "features")
        )
        super().build(sequences_shape, initial_state_shape)
        # cuDNN ops are not XLA-compatible: as keras.layers.LSTM does, keep
        # `jit_compile="auto"` from compiling a model that will use them.
        if keras.backend.backend() == "tensorflow" and takes_cudnn(self):
            self.supports_jit = False

    def call(self, sequences, initial_state=None, mask=None, training=False):
        check_sequences(self, sequences, mask)
        if initial_state is not None:
            initial_state = self._checked_initial_state(
                sequences, initial_state
            )
        if self.call_hook is not None:
            outputs = self.call_hook(self, sequences, initial_state, mask)
            if outputs is not None:
                return outputs
        return super().call(
            sequences, initial_state=initial_state, mask=mask, training=training
        )

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        outputs = fused_loop(self, sequences, initial_state, mask, training)
        if outputs is not None:
            return outputs
        return self._sequence_loop(sequences, initial_state, mask, training)

    def _sequence_loop(self, sequences, initial_state, mask, training):
        """The portable loop over time, in `keras.ops` and `backend.rnn`.

        The data run time-major, so that each step reads one contiguous
        `(batch, features)` slab; each step computes the gate
        pre-activations as `LOOP_STRATEGY` says is fastest where the loop
        runs, then the cell's `_finish_step`. Zoneout's draws for every step
        are made here, before the loop, and travel with the inputs (a loop
        body that drew them would hold random state, which JAX's `lax.scan`
        cannot).
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
        kernel_rows = cell.kernel.shape[0] + cell.recurrent_kernel.shape[0]
        strategy = self._loop_strategy or loop_strategy(
            kernel_rows * cell.kernel.shape[1]
        )
        if strategy == "fused" and not cell._can_fuse(dp_mask, rec_dp_mask):
            strategy = "step"
        if strategy == "fused":
            fused_kernel = ops.concatenate(
                [cell.kernel, cell.recurrent_kernel], axis=0
            )
        else:
            kernel, recurrent_kernel = cell.sequence_kernels(
                dp_mask, rec_dp_mask
            )
        if strategy == "hoist":
            inputs = cell.input_part(inputs, dp_mask, kernel)
        inputs, split_zoneout = _with_zoneout_draws(
            cell, inputs, training, ops.shape(sequences)[0]
        )
        copy_states = keras.backend.backend() == "torch" and self.stateful

        def step(x_t, states):
            if copy_states:  # torch autograd forbids in-place updates
                states = [ops.copy(state) for state in states]
            x_t, zoneout = split_zoneout(x_t)
            if strategy == "fused":
                return cell._fused_step(
                    fused_kernel, x_t, states, dp_mask, rec_dp_mask, zoneout
                )
            if strategy == "step":
                x_t = cell.input_part(x_t, dp_mask, kernel)
            return cell._step(
                x_t, states, rec_dp_mask, recurrent_kernel, zoneout
            )

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
            last_output, outputs = masked_outputs(
                mask, last_output, outputs, self.return_sequences,
                self.zero_output_for_mask, time_axis=0,
            )
        return last_output, ops.transpose(outputs, (1, 0, 2)), states

    def _checked_initial_state(self, sequences, initial_state):
        states = (
            list(initial_state)
            if isinstance(initial_state, (list, tuple))
            else [initial_state]
        )
        names = self.cell.state_names()
        if len(states) != len(self.state_size):
            raise ValueError(
                f"{type(self).__name__} expects `initial_state` to be a list "
                f"of {len(self.state_size)} tensors [{', '.join(names)}]. "
                f"Received: {len(states)} tensor(s)."
            )
        batch = static_dim(sequences.shape, 0)
        for name, state, size in zip(
            names, states, self.state_size, strict=True
        ):
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
        return flat_layer_config(
            self, super().get_config(), use_cudnn=self.use_cudnn
        )



def _with_zoneout_draws(cell, inputs, training, batch_size):
    """`inputs` (time-major) with zoneout's per-step draws appended to each
    step's features, and the function that splits a step's slab back into
    `(x_t, (keep_h, keep_c))`. At inference, or without zoneout, the inputs
    are unchanged and the pair holds the rates (or None)."""
    keep = cell._zoneout_keep(
        batch_size, training, cell.seed_generator, steps=ops.shape(inputs)[0]
    )
    draws = [k for k in keep if k is not None and not isinstance(k, float)]
    if not draws:
        return inputs, lambda x_t: (x_t, keep)
    width = inputs.shape[-1]
    inputs = ops.concatenate(
        [inputs] + [ops.cast(d, inputs.dtype) for d in draws], axis=-1
    )
    sizes = [cell.output_size, cell.units]

    def split(x_t):
        pair, start = [], width
        for k, size in zip(keep, sizes, strict=True):
            if k is None or isinstance(k, float):
                pair.append(k)
            else:
                pair.append(x_t[:, start:start + size])
                start += size
        return x_t[:, :width], tuple(pair)

    return inputs, split




