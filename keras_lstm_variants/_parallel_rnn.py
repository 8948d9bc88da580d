"""The base of a layer with two routes: a parallel form, and Keras's loop.

Some recurrences can be computed for a whole sequence at once, in work
that runs in parallel over time: the minimal RNNs' linear recurrence by a
scan (`_min_rnn.py`), mLSTM's matrix memory by matrix products over time
(`mlstm.py`). `ParallelRNNLayerBase` is the `keras.layers.RNN` of such a
family: it runs a sequence either by that parallel form or by the cell's
step in Keras's loop ("step"), whichever `mode` asks for, or ("auto") the
one its measured crossover (`parallel_from_steps`) says is faster for the
sequence length, device and backend. The cell stays an ordinary Keras RNN
cell, for streaming and generation one step at a time.

A family's base subclasses it and sets `parallel_mode` (the name of the
parallel route), `parallel_description`, `parallel_from_steps` and
`meaningless` (the Keras arguments the family has no use for), and writes
`parallel(sequences, initial_state, mask, training)`.
"""

import functools

import keras
from keras import ops

from keras_lstm_variants._arguments import LayerArguments
from keras_lstm_variants._arguments import check_input_shape
from keras_lstm_variants._arguments import check_sequences
from keras_lstm_variants._arguments import checked_flags
from keras_lstm_variants._arguments import flat_layer_config
from keras_lstm_variants._arguments import static_dim
from keras_lstm_variants._keras_internal import backend_rnn
from keras_lstm_variants._numerics import masked_outputs


def check_meaningful(cls, kwargs, meaningless):
    """Raises a ValueError naming the first argument in `kwargs` that `cls`
    does not take (a key of `meaningless`), with the reason."""
    for name in kwargs:
        if name in meaningless:
            raise ValueError(
                f"{cls.__name__} does not take `{name}`: "
                f"{meaningless[name]}. Received: {name}={kwargs[name]!r}."
            )


@functools.cache
def on_accelerator():
    """Whether Keras computes on a GPU or TPU here."""
    try:
        devices = keras.distribution.list_devices()
    except (AttributeError, NotImplementedError):
        # The torch backend has no distribution API; nor have the inference
        # backends, whose tensors may not say where they are (OpenVINO's):
        # they compute on the CPU here.
        devices = [str(getattr(ops.zeros(()), "device", "cpu"))]
    return any(not device.lower().startswith("cpu") for device in devices)




class ParallelRNNLayerBase(LayerArguments, keras.layers.RNN):
    """A `keras.layers.RNN` over a cell, with a parallel form beside
    Keras's loop.

    A layer is a subclass that sets `cell_class` (whose `argument_names()`
    lists its constructor arguments); it takes the cell's arguments flat, as
    `keras.layers.GRU` does, exposes them as read-only properties and
    serialises them in a flat config.
    """

    cell_class = None
    parallel_mode = "parallel"
    parallel_description = "the parallel form"
    # Per device ("cpu", "accelerator") and backend, the number of steps
    # from which mode="auto" runs the parallel form (None: never).
    parallel_from_steps = {"cpu": {}, "accelerator": {}}
    meaningless = {}

    @classmethod
    def modes(cls):
        return ("auto", cls.parallel_mode, "step")

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
        check_meaningful(type(self), kwargs, self.meaningless)
        modes = self.modes()
        if mode not in modes:
            raise ValueError(
                f"Argument `mode` must be one of {modes}: "
                f"'{self.parallel_mode}' runs {self.parallel_description}, "
                "'step' Keras's loop, 'auto' the one measured faster for "
                f"the sequence length. Received: mode={mode!r}."
            )
        flags = checked_flags(
            return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
        )
        cell = self.make_cell(units, kwargs)
        super().__init__(
            cell,
            **flags,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        if unroll and mode == self.parallel_mode:
            raise ValueError(
                "Argument `unroll` unrolls the step loop, which "
                f"mode='{mode}' does not run. Received: unroll=True, "
                f"mode='{mode}'."
            )
        self.mode = mode

    def build(self, sequences_shape, initial_state_shape=None):
        check_input_shape(
            self, sequences_shape, ("batch", "timesteps", "features")
        )
        super().build(sequences_shape, initial_state_shape)

    def route(self, steps):
        """The parallel mode's name or "step": how a sequence of `steps`
        steps (None: not known while tracing) runs here, by `mode` and
        `parallel_from_steps`."""
        if self.mode != "auto":
            return self.mode
        if steps is None or self.unroll:
            return "step"
        device = "accelerator" if on_accelerator() else "cpu"
        threshold = self.parallel_from_steps[device].get(
            keras.backend.backend()
        )
        if threshold is not None and steps >= threshold:
            return self.parallel_mode
        return "step"

    def call(self, sequences, initial_state=None, mask=None, training=False):
        check_sequences(self, sequences, mask)
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
        initial_state = list(initial_state)
        if self.go_backwards:
            sequences = ops.flip(sequences, axis=1)
            mask = None if mask is None else ops.flip(mask, axis=1)
        if self.route(sequences.shape[1]) == self.parallel_mode:
            last_output, outputs, states = self.parallel(
                sequences, initial_state, mask, training
            )
        else:
            last_output, outputs, states = self._step_loop(
                sequences, initial_state, mask, training
            )
        if mask is not None:
            last_output, outputs = masked_outputs(
                mask, last_output, outputs, self.return_sequences,
                self.zero_output_for_mask, time_axis=1,
            )
        return last_output, outputs, states

    def parallel(self, sequences, initial_state, mask, training):
        """`(last_output, outputs, states)` of the whole sequence, as the
        step loop computes them (before `masked_outputs`)."""
        raise NotImplementedError

    def _step_loop(self, sequences, initial_state, mask, training):
        """Keras's loop over time (`lax.scan`, `tf.while_loop`, a Python
        loop on torch), the cell's step at each."""
        cell = self.cell
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
                return cell(x_t, states, training=training)
            output, states = cell(x_t, states[1:], training=training)
            return output, [output, *states]

        if carry_output:
            h0 = ops.zeros(
                (ops.shape(sequences)[0], cell.output_size),
                dtype=cell.compute_dtype,
            )
            initial_state = [h0, *initial_state]
        last_output, outputs, states = backend_rnn(
            step,
            sequences,
            initial_state,
            go_backwards=False,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )
        if carry_output:
            states = states[1:]
        return last_output, outputs, states

    def _checked_initial_state(self, sequences, initial_state):
        """The states as a list, each checked against the cell's
        `state_size` (one int, or a list of ints, per state)."""
        states = (
            list(initial_state)
            if isinstance(initial_state, (list, tuple))
            else [initial_state]
        )
        sizes = self.cell.state_size
        sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
        names = getattr(self.cell, "state_names", ["h"] * len(sizes))
        batch = static_dim(sequences.shape, 0)
        shapes = [tuple(ops.shape(state)) for state in states]
        if len(states) != len(sizes) or any(
            len(shape) != 2
            or shape[1] != size
            or None not in (batch, shape[0]) and shape[0] != batch
            for shape, size in zip(shapes, sizes, strict=True)
        ):
            expected = ", ".join(
                f"{name} of shape ({batch}, {size})"
                for name, size in zip(names, sizes, strict=True)
            )
            count = (
                "one tensor" if len(sizes) == 1 else f"{len(sizes)} tensors"
            )
            raise ValueError(
                f"{type(self).__name__} expects `initial_state` to be "
                f"{count}: {expected}. Received: {len(states)} tensor(s) "
                f"of shapes {shapes}."
            )
        return states

    def get_config(self):
        return flat_layer_config(
            self, super().get_config(), mode=self.mode
        )





