"""The fused routes: a whole sequence of a standard form in one backend
kernel, and `FusedKernelLayer`, the layer base of the families that have
one (the LSTM's, the GRU's), which asks for it by Keras's word `use_cudnn`.

A cell whose step is the standard LSTM op with some operands says so once,
in `LSTMCellBase.standard_lstm_form` (`LSTM`, `CoupledLSTM`, `PeepholeLSTM`
and any variant that declares `standard_lstm_gates`). Every fused route
reads that form, and none asks what class a cell is:

- cuDNN, through Keras's backend `lstm` (the kernel and the conditions of
  `keras.layers.LSTM`: a GPU, `use_bias`, no unroll; on JAX no mask, on
  TensorFlow a right-padded one) on TensorFlow and JAX, for forms without
  peepholes, projection or clips;
- on PyTorch, its native LSTM op (`torch.lstm`: cuDNN on a GPU,
  ATen's kernel on CPU), for forms without peepholes or clips, projection
  included, without a mask;
- on OpenVINO (inference), its LSTM sequence op, through Keras's backend
  `lstm` as `keras.layers.LSTM` takes it (tanh/sigmoid, `use_bias`, no
  mask), for the forms cuDNN takes.

Input dropout is applied to the sequence before the kernel (one mask for
all gates, as `keras.layers.LSTM` does); recurrent dropout, one input mask
per gate (`implementation=1`) and `unroll` leave the sequence to the loop.
`fused_sequence` is the LSTM layers' `whole_sequence`: it checks what the
form and the call allow, and each backend's module (`backends/`) what its
kernel takes; a route that cannot run raises `backends.Declined`, and the
layer base then runs the loop (or, with `use_cudnn=True`, raises). The
GRU's (`fused_gru_sequence`) reads `GRUCellBase.standard_gru_form` the same
way: cuDNN's GRU (Keras's backend `gru`), PyTorch's native GRU op and
OpenVINO's GRU sequence op, for the `reset_after=True` form without a mask
(cuDNN: a right-padded one on TensorFlow).
"""

import random

import keras
from keras import ops

from keras_lstm_variants import backends
from keras_lstm_variants._arguments import VariantDefinitionError
from keras_lstm_variants._keras_internal import cudnn_ok
from keras_lstm_variants._layer import RNNLayerBase
from keras_lstm_variants._tuning import FUSED_FROM_STEPS
from keras_lstm_variants.backends import Declined

# `use_cudnn`, Keras's word, as the layer base's `mode`.
_MODES = {"auto": "auto", True: "fused", False: "step"}


class FusedKernelLayer(RNNLayerBase):
    """The layer base of a family whose whole-sequence route is a fused
    kernel of its cells' standard form (`LSTMLayerBase`, `GRULayerBase`):
    it takes Keras's `use_cudnn` for `mode` ("auto", True: "fused", False:
    "step"), refuses `use_cudnn=True` at once where the configuration has no
    form the kernel computes (`cudnn_problem`), and, as Keras's layers do,
    keeps TensorFlow from compiling with XLA a model that will run cuDNN.

    A family's subclass sets `cell_family` (its cells' base) and defines
    `whole_sequence` and `cudnn_problem()` (and `cudnn_arguments()`).

    Args:
        units: Positive integer, the cell's `units`.
        use_cudnn: `"auto"` (the fused kernel where it runs, else the
            loop), `True` (the fused kernel, or a `ValueError` naming what
            stops it) or `False` (the loop). Defaults to `"auto"`.
        **kwargs: Every argument of `cell_class` and of `keras.layers.RNN`
            (`return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll`, `zero_output_for_mask`, `activity_regularizer`), and
            the base layer arguments.
    """

    cell_family = None
    whole_sequence_mode = "fused"
    whole_sequence_description = "the backend's fused kernel"
    whole_sequence_from_steps = FUSED_FROM_STEPS
    hidden_arguments = ("mode",)  # `use_cudnn` says it

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
        if use_cudnn not in _MODES:
            raise ValueError(
                "Argument `use_cudnn` must be one of 'auto', True, False. "
                f"Received: use_cudnn={use_cudnn!r}."
            )
        family = self.cell_family
        if not (
            isinstance(self.cell_class, type)
            and issubclass(self.cell_class, family)
            and self.cell_class.gates is not None
        ):
            raise VariantDefinitionError(
                f"{type(self).__name__} must set `cell_class` to its cell, a "
                f"subclass of `{family.__name__}`. "
                f"Received: cell_class={self.cell_class!r}."
            )
        super().__init__(
            units,
            mode=_MODES[use_cudnn],
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
        problem = self.cudnn_problem() if use_cudnn is True else None
        if problem is not None:
            raise ValueError(
                f"{type(self).__name__} cannot run the fused kernel: "
                f"{problem}. Received: use_cudnn=True; pass 'auto' or False."
            )

    def mode_received(self, mode):
        use_cudnn = next(key for key, value in _MODES.items() if value == mode)
        return f"use_cudnn={use_cudnn!r}"

    def own_config(self):
        return {"use_cudnn": self.use_cudnn}

    def build(self, sequences_shape, initial_state_shape=None):
        super().build(sequences_shape, initial_state_shape)
        # cuDNN ops are not XLA-compatible: as Keras's layers do, keep
        # `jit_compile="auto"` from compiling a model that will use them.
        if keras.backend.backend() == "tensorflow" and self.takes_cudnn():
            self.supports_jit = False

    def cudnn_problem(self):
        """Why cuDNN can never run this layer's cell (a sentence), or None."""
        return None

    def cudnn_arguments(self):
        """What Keras's `cudnn_ok` needs beyond the activations, `unroll`
        and `use_bias` for this family (the GRU's `reset_after`)."""
        return {}

    def takes_cudnn(self):
        """Whether Keras's layer would run cuDNN here (a built layer): the
        cell has a form cuDNN computes and `cudnn_ok` says yes."""
        cell = self.cell
        return (
            bool(self.use_cudnn)
            and self.cudnn_problem() is None
            and cudnn_ok(
                cell.activation, cell.recurrent_activation, self.unroll,
                cell.use_bias, **self.cudnn_arguments(),
            )
        )


def lstm_cudnn_problem(cell):
    """Why cuDNN can never run `cell`'s layer, or None: its form (on a
    probe of the same configuration where `cell` is not built yet) has
    peepholes, a projection or clips, or it has none."""
    problem = cell.standard_lstm_form_problem()
    if problem is not None:
        return problem
    options = {
        "projection_units": cell.projection_units,
        "cell_clip": cell.cell_clip,
        "projection_clip": cell.projection_clip,
    }
    if any(value is not None for value in options.values()):
        return "cuDNN computes neither a projection nor clipping; received " + (
            ", ".join(f"{name}={value!r}" for name, value in options.items())
        )
    try:
        form = cell.standard_lstm_form() if cell.built else _probe_form(cell)
    except Exception:  # a user's cell that its config cannot rebuild:
        return None  # the call decides (`fused_sequence` declines there)
    if form is None:
        return f"{type(cell).__name__} has no standard LSTM form here"
    if form.peepholes is not None:
        return (
            f"the standard LSTM form of {type(cell).__name__} has peepholes, "
            "which cuDNN does not compute"
        )
    return None


def _probe_form(cell):
    """The standard form of a cell configured as `cell` (built for one
    feature, zero weights), drawing nothing from the global seed stream."""
    config = cell.get_config()
    for key in config:
        if key.endswith("_initializer"):
            config[key] = "zeros"
    state = random.getstate()
    try:
        probe = type(cell).from_config(config)
        probe.build((None, 1))
        return probe.standard_lstm_form()
    finally:
        random.setstate(state)


def fused_sequence(layer, sequences, initial_state, mask, training):
    """`(last_output, outputs, states)` of the layer's standard LSTM form in
    the backend's fused kernel, or `Declined` naming the condition that
    fails: the call's, the form's, then the kernel's (`backends`)."""
    cell = layer.cell
    if training and 0.0 < cell.recurrent_dropout < 1.0:
        raise Declined(
            f"recurrent_dropout={cell.recurrent_dropout} while training "
            "(no fused kernel drops from h)"
        )
    problem = cell.standard_lstm_form_problem()
    if problem is not None:
        raise Declined(problem)
    form = cell.standard_lstm_form()
    if form is None:
        raise Declined(f"{type(cell).__name__} has no standard form here")
    sequences = _dropped(cell, sequences, training)
    return backends.fused_lstm(
        sequences, initial_state[0], initial_state[1], mask, form,
        layer.return_sequences, training,
    )


def gru_cudnn_problem(cell):
    """Why cuDNN can never run `cell`'s GRU layer, or None."""
    return cell.standard_gru_form_problem()


def fused_gru_sequence(layer, sequences, initial_state, mask, training):
    """`(last_output, outputs, [h])` of the layer's standard GRU form in the
    backend's fused kernel, or `Declined` naming the condition that fails."""
    cell = layer.cell
    if training and 0.0 < cell.recurrent_dropout < 1.0:
        raise Declined(
            f"recurrent_dropout={cell.recurrent_dropout} while training "
            "(no fused kernel drops from h)"
        )
    problem = cell.standard_gru_form_problem()
    if problem is not None:
        raise Declined(problem)
    sequences = _dropped(cell, sequences, training)
    return backends.fused_gru(
        sequences, initial_state[0], mask, cell.standard_gru_form(),
        layer.return_sequences, training,
    )


def _dropped(cell, sequences, training):
    """The sequence under the input dropout mask (one for all gates, as
    Keras's layers apply it before their kernels), or `Declined` where the
    masks are one per gate."""
    if not (training and 0.0 < cell.dropout < 1.0):
        return sequences
    dropout_mask = cell.get_dropout_mask(sequences[:, 0, :])
    if isinstance(dropout_mask, (list, tuple)):
        raise Declined(
            "one input dropout mask per gate (implementation=1), which no "
            "fused kernel takes"
        )
    return sequences * ops.expand_dims(dropout_mask, axis=1)
