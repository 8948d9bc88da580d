"""The GRU family's layer: the layer base with the GRU's two routes.

`GRULayerBase` is the layer base of the families with a fused kernel
(`_fused.FusedKernelLayer`) over a cell of the GRU recipe (`GRUCellBase`):
its whole-sequence route is the fused kernel of the cell's standard GRU form
(`_fused.fused_gru_sequence`: cuDNN, PyTorch's native GRU op, OpenVINO's
GRU sequence op), asked for by `use_cudnn` as in `keras.layers.GRU`; its
loop draws the dropout and zoneout masks before the loop and runs the cell's
`gru_step` at each step. It knows no variant.
"""

from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._fused import FusedKernelLayer
from keras_lstm_variants._fused import fused_gru_sequence
from keras_lstm_variants._fused import gru_cudnn_problem
from keras_lstm_variants._gru import GRUCellBase
from keras_lstm_variants._layer import with_zoneout_draws
from keras_lstm_variants._tuning import FUSED_GRU_FROM_STEPS


@serializable
class GRULayerBase(FusedKernelLayer):
    """The base of every GRU layer: the layer base over a GRU cell.

    A variant's layer is a subclass that sets `cell_class` (a subclass of
    `GRUCellBase`) and nothing else: it takes the cell's arguments flat
    beside those of `keras.layers.GRU`, exposes each cell argument as a
    read-only property, serialises them all in a flat config, and runs a
    sequence in the backend's fused kernel where the cell's standard GRU form
    allows it, else in the loop (masking, `go_backwards`, `stateful`,
    `unroll`, dropout and zoneout).

    Args:
        units: Positive integer, the cell's `units`.
        **kwargs: Every argument of `cell_class` and of `keras.layers.GRU`
            (`return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll`, `zero_output_for_mask`, `use_cudnn`,
            `activity_regularizer`), and the base layer arguments.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import GRULayerBase, MGUCell
        >>> class MyMGU(GRULayerBase):
        ...     cell_class = MGUCell
        >>> tuple(MyMGU(4)(np.ones((2, 10, 8), "float32")).shape)
        (2, 4)
    """

    cell_class = GRUCellBase
    cell_family = GRUCellBase
    whole_sequence_from_steps = FUSED_GRU_FROM_STEPS

    def cudnn_problem(self):
        return gru_cudnn_problem(self.cell)

    def cudnn_arguments(self):
        return {"reset_after": self.cell.reset_after}

    def whole_sequence(self, sequences, initial_state, mask, training):
        return fused_gru_sequence(
            self, sequences, initial_state, mask, training
        )

    def loop_step(self, inputs, initial_state, training):
        """The cell's `gru_step`, with the dropout masks drawn once per
        sequence and zoneout's masks for every step drawn before the loop
        (`with_zoneout_draws`)."""
        cell = self.cell
        dp_mask, rec_dp_mask = cell.dropout_masks(
            inputs[0], initial_state[0], training
        )
        inputs, split_zoneout = with_zoneout_draws(cell, inputs, training)

        def step(x_t, states):
            x_t, (keep,) = split_zoneout(x_t)
            return cell.gru_step(x_t, states, dp_mask, rec_dp_mask, keep)

        return inputs, step
