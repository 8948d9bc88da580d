"""The LSTM family's layer: the layer base with the LSTM's two routes.

`LSTMLayerBase` is the layer base of the families with a fused kernel
(`_fused.FusedKernelLayer`, over `_layer.RNNLayerBase`) over a cell of the
LSTM recipe (`LSTMCellBase`). Its whole-sequence route is the fused kernel
of the cell's standard form (`_fused.fused_sequence`), asked for by Keras's
own word, `use_cudnn` (`mode` "fused"); its loop step computes the
gate pre-activations as `LOOP_STRATEGY` says is fastest where the loop runs,
and hands the rest of each step to the cell. It knows no variant.
"""

import keras
from keras import ops

from keras_lstm_variants import backends
from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._fused import FusedKernelLayer
from keras_lstm_variants._fused import fused_sequence
from keras_lstm_variants._fused import lstm_cudnn_problem
from keras_lstm_variants._layer import with_zoneout_draws
from keras_lstm_variants._lstm import LSTMCellBase
from keras_lstm_variants._tuning import LOOP_STRATEGY
from keras_lstm_variants._tuning import STACKED_KERNEL_LIMIT

# The ways the loop computes the gate pre-activations (`_tuning.LOOP_STRATEGY`
# says which runs where): "stacked", one [x_t, h_{t-1}] @ [W; U] matmul per
# step; "step", x_t W and h_{t-1} U per step; "hoist", x W for every step
# before the loop.
LOOP_STRATEGIES = ("stacked", "step", "hoist")


def loop_strategy(stacked_kernel_size):
    """`LOOP_STRATEGY`'s choice for the loop being built now, for a cell
    whose stacked kernel [W; U] has `stacked_kernel_size` elements
    (`STACKED_KERNEL_LIMIT`)."""
    strategy = LOOP_STRATEGY.get(backends.loop_context(), "step")
    limit = STACKED_KERNEL_LIMIT.get(keras.backend.backend(), 0)
    if strategy == "stacked" and stacked_kernel_size > limit:
        return "step"
    return strategy


@serializable
class LSTMLayerBase(FusedKernelLayer):
    """The base of every LSTM layer: the layer base over a variant's cell.

    A variant's layer is a subclass that sets `cell_class`, its cell (a
    subclass of `LSTMCellBase`), and nothing else: it takes the cell's
    arguments flat beside those of `keras.layers.LSTM` (as that layer does),
    exposes each cell argument as a read-only property, serialises them all
    in a flat config, and runs a sequence in the backend's fused kernel
    where the cell's standard form allows it, else in the package's loop
    (masking, `go_backwards`, `stateful`, `unroll`, dropout and zoneout, the
    loop strategy measured fastest on each backend).

    Args:
        units: Positive integer, the cell's `units`.
        use_cudnn: `"auto"` (the fused kernel where it runs, else the
            loop), `True` (the fused kernel, or a `ValueError` naming what
            stops it) or `False` (the loop). Defaults to `"auto"`.
        **kwargs: Every argument of `cell_class` and of `LSTM`
            (`return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll`, `zero_output_for_mask`, `activity_regularizer`), and
            the base layer arguments.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import LSTMLayerBase, PeepholeLSTMCell
        >>> class MyPeepholeLSTM(LSTMLayerBase):
        ...     cell_class = PeepholeLSTMCell
        >>> tuple(MyPeepholeLSTM(4)(np.ones((2, 10, 8), "float32")).shape)
        (2, 4)
    """

    cell_class = LSTMCellBase
    cell_family = LSTMCellBase
    _loop_strategy = None  # None: LOOP_STRATEGY's choice; set by benchmarks

    def cudnn_problem(self):
        return lstm_cudnn_problem(self.cell)

    def whole_sequence(self, sequences, initial_state, mask, training):
        return fused_sequence(self, sequences, initial_state, mask, training)

    def loop_step(self, inputs, initial_state, training):
        """The LSTM's step in the loop: the gate pre-activations computed
        as `LOOP_STRATEGY` says is fastest where the loop runs, then the
        cell's `_finish_step`. Zoneout's draws for every step are made here,
        before the loop, and travel with the inputs (a loop body that drew
        them would hold random state, which JAX's `lax.scan` cannot)."""
        cell = self.cell
        dp_mask, rec_dp_mask = cell.dropout_masks(
            inputs[0], initial_state[0], training
        )
        kernel_rows = cell.kernel.shape[0] + cell.recurrent_kernel.shape[0]
        strategy = self._loop_strategy or loop_strategy(
            kernel_rows * cell.kernel.shape[1]
        )
        if strategy == "stacked" and not _can_stack(
            cell, dp_mask, rec_dp_mask
        ):
            strategy = "step"
        if strategy == "stacked":
            stacked_kernel = ops.concatenate(
                [cell.kernel, cell.recurrent_kernel], axis=0
            )
        else:
            kernel, recurrent_kernel = cell.sequence_kernels(
                dp_mask, rec_dp_mask
            )
        if strategy == "hoist":
            inputs = cell.input_part(inputs, dp_mask, kernel)
        inputs, split_zoneout = with_zoneout_draws(cell, inputs, training)

        def step(x_t, states):
            x_t, zoneout = split_zoneout(x_t)
            if strategy == "stacked":
                return _stacked_step(
                    cell, stacked_kernel, x_t, states, dp_mask, rec_dp_mask,
                    zoneout,
                )
            if strategy == "step":
                x_t = cell.input_part(x_t, dp_mask, kernel)
            return cell._step(
                x_t, states, rec_dp_mask, recurrent_kernel, zoneout
            )

        return inputs, step


def _can_stack(cell, dp_mask, rec_dp_mask):
    """Whether `_stacked_step` computes the cell's step: the parts are the
    base's, with at most one dropout mask per input."""
    cls = type(cell)
    return (
        cls.input_part is LSTMCellBase.input_part
        and cls.recurrent_part is LSTMCellBase.recurrent_part
        and cls.sequence_kernels is LSTMCellBase.sequence_kernels
        and not isinstance(dp_mask, (list, tuple))
        and not isinstance(rec_dp_mask, (list, tuple))
    )


def _stacked_step(cell, stacked_kernel, x_t, states, dp_mask, rec_mask,
                  zoneout):
    """The cell's `_step` with one matmul: [x_t, h_{t-1}] @ [W; U] + b,
    `stacked_kernel` being `kernel` stacked on `recurrent_kernel` (made once
    per sequence). Only where `_can_stack`."""
    h_tm1 = states[0]
    h_in = h_tm1 if rec_mask is None else h_tm1 * rec_mask
    if dp_mask is not None:
        x_t = x_t * dp_mask
    z = ops.matmul(ops.concatenate([x_t, h_in], axis=-1), stacked_kernel)
    if cell.use_bias:
        z = ops.add(z, cell.bias)
    return cell._finish_step(z, states, zoneout)
