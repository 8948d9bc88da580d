r"""xLSTM's stack of blocks (Beck et al. 2024), equal to the official
`xlstm` package's `xLSTMBlockStack`: mLSTM blocks with sLSTM blocks at the
places `slstm_at` names, then a LayerNorm."""

import numbers

from keras_lstm_variants._arguments import check_bool
from keras_lstm_variants._arguments import check_positive_int
from keras_lstm_variants._arguments import serializable
from keras_lstm_variants._xlstm_block import XLSTMBlockBase
from keras_lstm_variants._xlstm_block import residual_norm
from keras_lstm_variants.mlstm_block import MLSTMBlock
from keras_lstm_variants.slstm_block import SLSTMBlock

# What the stack sets in each kind of block, so that its settings may not.
_SET_BY_THE_STACK = {
    "mlstm_block": ("bias", "dropout", "num_blocks", "return_state", "seed",
                    "name", "dtype"),
    "slstm_block": ("dropout", "num_blocks", "block_index", "return_state",
                    "seed", "name", "dtype"),
}


@serializable
class XLSTMBlockStack(XLSTMBlockBase):
    r"""xLSTM's stack of blocks: the official `xLSTMBlockStack`, in Keras.

    `num_blocks` blocks in a row, each an `MLSTMBlock` except at the
    places listed in `slstm_at`, which hold an `SLSTMBlock`; then a
    LayerNorm without bias (`add_post_blocks_norm`). "xLSTM[7:1]" is
    `num_blocks=8, slstm_at=[1]` (the paper's language models), and
    "xLSTM[1:0]" `slstm_at=[]`. Each block is a residual block, so the
    stack maps `(batch, T, E)` to the same shape.

    The stack sets what the official stack sets in its blocks: the
    mLSTM blocks' `bias` and both kinds' `dropout` (the stack's), and
    each block's place for the initialisation (`num_blocks`,
    `block_index`); the rest of each kind's arguments come from
    `mlstm_block` and `slstm_block`. Every block is built with the
    official initialisation.

    Weights, in `get_weights()` order: `post_blocks_norm` $(E)$ if
    `add_post_blocks_norm`, then each block's, in order
    (`MLSTMBlock` and `SLSTMBlock` document theirs); `migrate.from_xlstm`
    reads an official stack into them.

    Args:
        num_blocks: Positive integer, the number of blocks. Defaults to
            `1`.
        slstm_at: The indices of the sLSTM blocks (a list of integers in
            [0, num_blocks)), or `"all"`. Defaults to `()`: mLSTM blocks
            only.
        mlstm_block: Dict of `MLSTMBlock` arguments for every mLSTM block
            (`num_heads`, `proj_factor`, `conv1d_kernel_size`, `mode`,
            ...), or None for the defaults. Defaults to `None`. (Unlike the
            official configuration, where `mlstm_block=None` makes every
            block an sLSTM block: here `slstm_at` alone says where the
            sLSTM blocks are; `"all"` for all.)
        slstm_block: Dict of `SLSTMBlock` arguments for every sLSTM block
            (`num_heads`, `conv1d_kernel_size`, `feedforward`,
            `ff_proj_factor`, ...), or None for the defaults. Defaults to
            `None`.
        embedding_dim: The input's features $E$, checked when the stack is
            built (it is the official configuration's; ours reads $E$ from
            the input), or None. Defaults to `None`.
        add_post_blocks_norm: Whether a LayerNorm follows the blocks.
            Defaults to `True`.
        bias: Whether the mLSTM blocks' projections have biases. Defaults
            to `False`.
        dropout: Float in [0, 1), every block's `dropout`. Defaults to
            `0.0`.
        return_state: Whether the call also returns the states to continue
            from: every block's states, block after block (`state_shapes`).
            Defaults to `False`.
        seed: Seed of the initializers and of dropout; each block's from
            it and the block's place. Defaults to `None`.
        **kwargs: Base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        - `inputs`: Tensor `(batch, T, E)`.
        - `initial_state`: The states a previous call returned, to continue
          the sequence (generation: the prompt, then one token at a time).
        - `training`: Whether dropout is applied.

    Examples:
        >>> import numpy as np
        >>> from keras_lstm_variants import XLSTMBlockStack
        >>> stack = XLSTMBlockStack(
        ...     num_blocks=3, slstm_at=[1], mlstm_block={"num_heads": 2},
        ...     slstm_block={"num_heads": 2},
        ... )
        >>> x = np.random.default_rng(0).normal(size=(2, 12, 8))
        >>> tuple(stack(x.astype("float32")).shape)
        (2, 12, 8)
        >>> [type(block).__name__ for block in stack.blocks]
        ['MLSTMBlock', 'SLSTMBlock', 'MLSTMBlock']

    References:
        - Beck, Pöppel, Spanring, Auer, Prudnikova, Kopp, Klambauer,
          Brandstetter & Hochreiter, "xLSTM: Extended Long Short-Term
          Memory", NeurIPS 2024, arXiv:2405.04517.
    """

    def __init__(
        self,
        num_blocks=1,
        slstm_at=(),
        mlstm_block=None,
        slstm_block=None,
        embedding_dim=None,
        add_post_blocks_norm=True,
        bias=False,
        dropout=0.0,
        return_state=False,
        seed=None,
        **kwargs,
    ):
        self.num_blocks = check_positive_int("num_blocks", num_blocks)
        self.slstm_at = _checked_places(slstm_at, self.num_blocks)
        self.mlstm_block = _checked_settings("mlstm_block", mlstm_block)
        self.slstm_block = _checked_settings("slstm_block", slstm_block)
        if embedding_dim is not None:
            embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.embedding_dim = embedding_dim
        self.add_post_blocks_norm = check_bool(
            "add_post_blocks_norm", add_post_blocks_norm
        )
        self.bias = check_bool("bias", bias)
        super().__init__(dropout=dropout, return_state=return_state,
                         seed=seed, **kwargs)
        self.blocks = [
            self._block(index) for index in range(self.num_blocks)
        ]

    def _block(self, index):
        # The blocks compute in float32 (or wider) whatever the policy, and
        # pass the residual stream on unrounded; the stack's output is in
        # the compute dtype.
        common = dict(
            dropout=self.dropout, num_blocks=self.num_blocks,
            return_state=True, seed=self.seed_for(f"block_{index}"),
            dtype=self.dtype_policy.variable_dtype,
            name=f"block_{index}",
        )
        kind, settings = "mlstm_block", dict(self.mlstm_block, bias=self.bias)
        cls = MLSTMBlock
        if index in self.slstm_at:
            kind, settings = "slstm_block", dict(self.slstm_block,
                                                 block_index=index)
            cls = SLSTMBlock
        try:
            return cls(**settings, **common)
        except (TypeError, ValueError) as error:  # named by the block
            raise ValueError(
                f"Argument `{kind}` holds an argument that {cls.__name__} "
                f"refuses: {error} Received: {kind}="
                f"{getattr(self, kind)!r}."
            ) from None

    def build(self, input_shape):
        if self.embedding_dim not in (None, input_shape[-1]):
            raise ValueError(
                "Argument `embedding_dim` must be the input's features. "
                f"Received: embedding_dim={self.embedding_dim}, inputs of "
                f"shape {tuple(input_shape)}."
            )
        features = self.check_features(input_shape)
        for block in self.blocks:
            block.build(input_shape)
        self.post_blocks_norm = None
        if self.add_post_blocks_norm:
            self.post_blocks_norm = self.add(
                "post_blocks_norm", (features,), "Zeros"
            )

    def state_shapes(self, batch):
        """Every block's state shapes, block after block."""
        return [
            shape for block in self.blocks
            for shape in block.state_shapes(batch)
        ]

    def call(self, inputs, initial_state=None, mask=None, training=False):
        self.refuse_mask(mask)
        if initial_state is not None:
            initial_state = self.initial_state(inputs, initial_state)
        x, states, start = inputs, [], 0
        for block in self.blocks:
            count = len(block.state_shapes(1))
            given = None
            if initial_state is not None:
                given = initial_state[start:start + count]
            x, *block_states = block(x, initial_state=given,
                                     training=training)
            states += block_states
            start += count
        if self.post_blocks_norm is not None:
            x = residual_norm(self.wide(x), self.wide(self.post_blocks_norm))
        return self.outputs(inputs, x, states)

    def get_config(self):
        return {
            **super().get_config(),
            "num_blocks": self.num_blocks,
            "slstm_at": list(self.slstm_at),
            "mlstm_block": dict(self.mlstm_block),
            "slstm_block": dict(self.slstm_block),
            "embedding_dim": self.embedding_dim,
            "add_post_blocks_norm": self.add_post_blocks_norm,
            "bias": self.bias,
        }


def _checked_places(slstm_at, num_blocks):
    if slstm_at == "all":
        return tuple(range(num_blocks))
    places = None
    if isinstance(slstm_at, (list, tuple)):
        places = tuple(slstm_at)
    if places is None or any(
        isinstance(p, bool) or not isinstance(p, numbers.Integral)
        or not 0 <= p < num_blocks
        for p in places
    ) or len(set(places)) != len(places):
        raise ValueError(
            "Argument `slstm_at` must be 'all' or a list of distinct block "
            f"indices in [0, num_blocks={num_blocks}). Received: "
            f"slstm_at={slstm_at!r}."
        )
    return tuple(sorted(int(p) for p in places))


def _checked_settings(name, settings):
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise ValueError(
            f"Argument `{name}` must be a dict of the block's arguments, or "
            f"None. Received: {name}={settings!r}."
        )
    clashing = sorted(set(settings) & set(_SET_BY_THE_STACK[name]))
    if clashing:
        raise ValueError(
            f"Argument `{name}` may not set {clashing}: the stack sets them "
            f"in every block (pass the stack's own `bias`, `dropout`, "
            f"`seed`, ...). Received: {name}={settings!r}."
        )
    return dict(settings)
