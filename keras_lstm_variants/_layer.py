"""THE layer base: a `keras.layers.RNN` over one of the package's cells,
with one hook through which a family runs a whole sequence at once.

`RNNLayerBase` builds its cell (`cell_class`) from its own flat argument
list, as `keras.layers.LSTM` does, checks its inputs and initial state, and
runs a sequence by one of two routes, `mode` deciding which:

- the family's whole-sequence route (`whole_sequence`: a fused kernel, a
  parallel scan, a parallel form), named by the family's `whole_sequence_mode`;
- otherwise Keras's loop over time (`backend.rnn`: `lax.scan`,
  `tf.while_loop`, a Python loop on torch), with the cell's step at each
  (`loop_step` may prepare the step, as the LSTM family's loop strategies
  do).

`mode="auto"` is decided here and only here (`route`): the whole-sequence
route where the family's measured table (`whole_sequence_from_steps`, in
`_tuning.py`) says it pays for the sequence length, device and backend and
the route can run the call; else the loop. A mode that names the route
runs it or raises, naming the condition that failed. The base knows no
family, no route and no feature.
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
from keras_lstm_variants._cell import RNNCellBase
from keras_lstm_variants._keras_internal import backend_rnn
from keras_lstm_variants._numerics import masked_outputs
from keras_lstm_variants.backends import Declined
from keras_lstm_variants.backends import on_accelerator


@serializable
class RNNLayerBase(LayerArguments, keras.layers.RNN):
    """The base of every layer: a `keras.layers.RNN` over a cell.

    A layer is a subclass that sets `cell_class` (a subclass of
    `RNNCellBase`); it takes the cell's arguments flat beside those of
    `keras.layers.RNN`, exposes each cell argument as a read-only property
    and serialises them all in a flat config. A family whose sequences can
    run without Keras's loop also sets `whole_sequence_mode` (the name of
    that route among `mode`'s values, or a tuple of names where it has
    several, `mode="auto"`'s first), `whole_sequence_description`,
    `whole_sequence_from_steps` (per device, `"cpu"` or `"accelerator"`,
    and backend: the number of steps from which `mode="auto"` takes the
    route; None: never) and writes `whole_sequence` (which reads the route
    asked for from `route`). A family with several routes may override
    `auto_mode`, the choice of `mode="auto"`.

    Args:
        units: Positive integer, the cell's `units`.
        mode: How a sequence runs: `"auto"` (the route measured faster,
            where it can run), the family's `whole_sequence_mode`, or
            `"step"` (Keras's loop). Defaults to `"auto"`.
        **kwargs: Every argument of `cell_class` and of `keras.layers.RNN`
            (`return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll`, `zero_output_for_mask`, `activity_regularizer`), and
            the base layer arguments.
    """

    cell_class = None
    whole_sequence_mode = None
    whole_sequence_description = "the whole-sequence route"
    whole_sequence_from_steps = {"cpu": {}, "accelerator": {}}
    # A function that a tool tracing the model (`litert.convert`) sets on a
    # layer while it traces: `hook(layer, sequences, initial_state, mask)`
    # returns the layer's outputs, or None for the layer's own call.
    call_hook = None

    @classmethod
    def whole_sequence_modes(cls):
        """The names of the family's whole-sequence routes (a tuple)."""
        mode = cls.whole_sequence_mode
        if mode is None:
            return ()
        return (mode,) if isinstance(mode, str) else tuple(mode)

    @classmethod
    def modes(cls):
        """`mode`'s values for this family."""
        return ("auto", *cls.whole_sequence_modes(), "step")

    def __init__(
        self,
        units,
        mode="auto",
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        activity_regularizer=None,
        **kwargs,
    ):
        if not (
            isinstance(self.cell_class, type)
            and issubclass(self.cell_class, RNNCellBase)
        ):
            raise VariantDefinitionError(
                f"{type(self).__name__} must set `cell_class` to its cell, a "
                "subclass of `RNNCellBase`. Received: "
                f"cell_class={self.cell_class!r}."
            )
        modes = self.modes()
        if mode not in modes:
            raise ValueError(
                f"Argument `mode` must be one of {modes}: "
                + (
                    f"{' and '.join(map(repr, self.whole_sequence_modes()))}"
                    f" run {self.whole_sequence_description}, "
                    if self.whole_sequence_mode else ""
                )
                + "'step' Keras's loop, 'auto' the one measured faster for "
                f"the sequence length. Received: mode={mode!r}."
            )
        flags = checked_flags(
            return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
        )
        if unroll and mode in self.whole_sequence_modes():
            raise ValueError(
                "Argument `unroll` unrolls the step loop, which "
                f"{self.mode_received(mode)} does not run. Received: "
                f"unroll=True, {self.mode_received(mode)}."
            )
        on_accelerator()  # known before any trace asks (`route`)
        cell = self.make_cell(units, kwargs)
        super().__init__(
            cell,
            **flags,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.mode = mode

    def mode_received(self, mode):
        """How the user asked for `mode`, for error messages."""
        return f"mode={mode!r}"

    def build(self, sequences_shape, initial_state_shape=None):
        check_input_shape(
            self, sequences_shape, ("batch", "timesteps", "features")
        )
        super().build(sequences_shape, initial_state_shape)

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

    def route(self, steps):
        """The mode a sequence of `steps` steps (None: not known while
        tracing) runs by here: `mode` itself, or for "auto" `auto_mode`'s
        choice ("step" where the loop is unrolled or `steps` unknown)."""
        if self.mode != "auto":
            return self.mode
        if not self.whole_sequence_modes() or steps is None or self.unroll:
            return "step"
        return self.auto_mode(steps)

    def auto_mode(self, steps):
        """`mode="auto"`'s route for `steps` steps: the family's first
        whole-sequence mode where `whole_sequence_from_steps` (per device
        and backend) says it pays, else "step"."""
        if at_least(self.whole_sequence_from_steps, steps):
            return self.whole_sequence_modes()[0]
        return "step"

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        initial_state = list(initial_state)
        if self.go_backwards:
            sequences = ops.flip(sequences, axis=1)
            mask = None if mask is None else ops.flip(mask, axis=1)
        if self.route(sequences.shape[1]) in self.whole_sequence_modes():
            try:
                return self.whole_sequence(
                    sequences, initial_state, mask, training
                )
            except Declined as declined:
                if self.mode != "auto":
                    received = self.mode_received(self.mode)
                    raise ValueError(
                        f"{received}, but {self.whole_sequence_description} "
                        f"cannot run this layer here: {declined}. Pass "
                        f"{received.split('=')[0]}='auto' to fall back to "
                        "the loop."
                    ) from None
        return self.loop(sequences, initial_state, mask, training)

    def whole_sequence(self, sequences, initial_state, mask, training):
        """`(last_output, outputs, states)` of the whole sequence without
        Keras's loop, as the loop computes them (masks included), from
        `sequences` already reversed for `go_backwards`; raises
        `backends.Declined` with the reason where the route cannot run this
        call. A family with `whole_sequence_mode` defines it."""
        raise Declined(f"{type(self).__name__} has no whole-sequence route")

    def loop_step(self, inputs, initial_state, training):
        """`(inputs, step)` for Keras's loop: the time-major inputs, which a
        family may transform before the loop (as the LSTM's loop strategies
        do), and `step(x_t, states) -> (output, new_states)`. By default the
        inputs as they are, and the cell's call."""
        cell = self.cell

        def step(x_t, states):
            return cell(x_t, states, training=training)

        return inputs, step

    def loop(self, sequences, initial_state, mask, training):
        """Keras's loop over time, time-major (each step reads one
        contiguous `(batch, features)` slab), then Keras's masking
        semantics on every backend (`masked_outputs`)."""
        cell = self.cell
        inputs = ops.transpose(sequences, (1, 0, 2))
        if mask is not None:
            mask = ops.transpose(mask, (1, 0))
        inputs, cell_step = self.loop_step(inputs, initial_state, training)
        copy_states = keras.backend.backend() == "torch" and self.stateful
        # JAX's masked loop repeats states[0] as the previous output: a cell
        # whose output is not its first state carries it as one more here.
        carry_output = mask is not None and not getattr(
            cell, "output_is_first_state", True
        )

        def step(x_t, states):
            if copy_states:  # torch autograd forbids in-place updates
                states = [ops.copy(state) for state in states]
            if not carry_output:
                return cell_step(x_t, states)
            output, states = cell_step(x_t, states[1:])
            return output, [output, *states]

        if carry_output:
            h0 = ops.zeros(
                (ops.shape(sequences)[0], cell.output_size),
                dtype=cell.compute_dtype,
            )
            initial_state = [h0, *initial_state]
        last_output, outputs, states = backend_rnn(
            step,
            inputs,
            initial_state,
            go_backwards=False,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            time_major=True,
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )
        if carry_output:
            states = states[1:]
        if mask is not None:
            last_output, outputs = masked_outputs(
                mask, last_output, outputs, self.return_sequences,
                self.zero_output_for_mask, time_axis=0,
            )
        return last_output, ops.transpose(outputs, (1, 0, 2)), states

    def _checked_initial_state(self, sequences, initial_state):
        """The states as a list, each checked against the cell's
        `state_size` and named by its `state_names()`."""
        states = (
            list(initial_state)
            if isinstance(initial_state, (list, tuple))
            else [initial_state]
        )
        sizes = self.cell.state_sizes()
        names = self.cell.state_names()
        batch = static_dim(sequences.shape, 0)
        expected = ", ".join(
            f"{name} of shape ({batch}, {size})"
            for name, size in zip(names, sizes, strict=True)
        )
        count = "one tensor" if len(sizes) == 1 else f"{len(sizes)} tensors"
        wrong = None
        if len(states) != len(sizes):
            wrong = f"{len(states)} tensor(s)"
        for name, state, size in zip(names, states, sizes, strict=False):
            shape = tuple(ops.shape(state))
            if wrong is None and (
                len(shape) != 2
                or shape[1] != size
                or None not in (batch, shape[0]) and shape[0] != batch
            ):
                wrong = f"{name}.shape={shape}"
        if wrong is not None:
            raise ValueError(
                f"{type(self).__name__} expects `initial_state` to be "
                f"{count}: {expected}. Received: {wrong}."
            )
        return states

    def get_config(self):
        return flat_layer_config(
            self, super().get_config(), **self.own_config()
        )

    def own_config(self):
        """The layer's own arguments beside the cell's and the RNN's."""
        return {"mode": self.mode}


def at_least(from_steps, steps):
    """Whether `steps` reaches the threshold that the measured table
    `from_steps` (per device, `"cpu"` or `"accelerator"`, then backend;
    None: never) gives where this runs."""
    device = "accelerator" if on_accelerator() else "cpu"
    threshold = from_steps[device].get(keras.backend.backend())
    return threshold is not None and steps >= threshold


def with_zoneout_draws(cell, inputs, training):
    """`inputs` (time-major) with zoneout's per-step draws appended to each
    step's features, and the function that splits a step's slab back into
    `(x_t, keep)`, `keep` one entry per `cell.zoneout_rates()`. At
    inference, or without zoneout, the inputs are unchanged and `keep` holds
    the rates (or None). A loop body that drew the masks would hold random
    state, which JAX's `lax.scan` cannot."""
    shape = ops.shape(inputs)
    keep = cell.zoneout_keep(shape[1], training, steps=shape[0])
    draws = [k for k in keep if k is not None and not isinstance(k, float)]
    if not draws:
        return inputs, lambda x_t: (x_t, keep)
    width = inputs.shape[-1]
    inputs = ops.concatenate(
        [inputs] + [ops.cast(d, inputs.dtype) for d in draws], axis=-1
    )
    sizes = [size for _, _, size in cell.zoneout_rates()]

    def split(x_t):
        entries, start = [], width
        for k, size in zip(keep, sizes, strict=True):
            if k is None or isinstance(k, float):
                entries.append(k)
            else:
                entries.append(x_t[:, start:start + size])
                start += size
        return x_t[:, :width], tuple(entries)

    return inputs, split
