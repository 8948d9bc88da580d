"""What xLSTM's blocks share: `XLSTMBlockBase` (arguments, seeds, states,
masks, config) and the official components they are built from (the
residual LayerNorm, the head-wise projection, the causal convolution, the
gated feed-forward), each as the `xlstm` package computes it."""

import math
import numbers
import zlib

import keras
from keras import initializers
from keras import ops

from keras_lstm_variants._arguments import check_bool
from keras_lstm_variants._arguments import check_input_shape
from keras_lstm_variants._arguments import check_rate
from keras_lstm_variants._numerics import normalize
from keras_lstm_variants._numerics import wide_dtype

# The official LayerNorm's and MultiHeadLayerNorm's epsilon.
NORM_EPSILON = 1e-5

# The official feed-forward's activations (`components.feedforward`), by
# its names: PyTorch's GELU is the exact one (erf), not tanh's approximation.
ACTIVATIONS = {
    "gelu": lambda x: ops.gelu(x, approximate=False),
    "relu": ops.relu,
    "relu^2": lambda x: ops.square(ops.relu(x)),
    "sigmoid": ops.sigmoid,
    "swish": ops.silu,
    "selu": ops.selu,
}


def residual_norm(x, weight, groups=1):
    """The official `LayerNorm` (`groups=1`) or `MultiHeadLayerNorm` (one
    group per head) without bias: x normalised over its last axis (within
    each group), scaled by `1 + weight` (the official stores the offset);
    `weight` None: not scaled."""
    shape = ops.shape(x)
    x = ops.reshape(x, (*shape[:-1], groups, shape[-1] // groups))
    x, _ = normalize(x, NORM_EPSILON)
    x = ops.reshape(x, shape)
    return x if weight is None else x * (1.0 + weight)


def headwise(x, kernel, bias=None):
    """The official `LinearHeadwiseExpand`: `x` `(..., heads * size)` by
    `kernel` `(heads, out, size)`, head by head."""
    heads, _, size = kernel.shape
    shape = ops.shape(x)
    x = ops.reshape(x, (*shape[:-1], heads, size))
    x = ops.einsum("...hd,hod->...ho", x, kernel)
    x = ops.reshape(x, (*shape[:-1], -1))
    return x if bias is None else x + bias


def causal_conv(x, state, kernel, bias):
    """The official `CausalConv1d` (depthwise, `kernel` `(K, D)`, tap
    `K - 1` on the current step) continuing from `state`, the previous
    `K - 1` inputs `(batch, K - 1, D)`; returns the outputs and the state
    after these inputs."""
    taps = kernel.shape[0]
    window = ops.concatenate([state, x], axis=1)
    length = ops.shape(x)[1]
    y = bias + sum(
        window[:, tap:tap + length] * kernel[tap] for tap in range(taps)
    )
    return y, window[:, ops.shape(window)[1] - (taps - 1):]


def gated_feedforward(x, up_kernel, up_bias, down_kernel, down_bias,
                      activation):
    """The official `GatedFeedForward`: `[g, u] = x W_up`, then
    `(act(g) * u) W_down`."""
    up = ops.matmul(x, up_kernel)
    if up_bias is not None:
        up = up + up_bias
    gate, value = ops.split(up, 2, axis=-1)
    y = ops.matmul(ACTIVATIONS[activation](gate) * value, down_kernel)
    return y if down_bias is None else y + down_bias


def check_factor(name, value):
    """A positive, finite number (never a bool): a projection factor."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0 < value < math.inf
    ):
        raise ValueError(
            f"Argument `{name}` must be a positive number. "
            f"Received: {name}={value!r}."
        )
    return float(value)


def projected_size(layer, factor_name, factor, features):
    """The official up-projection's size (`UpProjConfigMixin`): `factor *
    features` rounded up (or down) to a multiple of the layer's
    `round_proj_up_to_multiple_of`; a `ValueError` where that is 0."""
    multiple = layer.round_proj_up_to_multiple_of
    rounded = math.ceil if layer.round_proj_up_dim_up else math.floor
    size = int(rounded(factor * features / multiple)) * multiple
    if size < 1:
        raise ValueError(
            f"{type(layer).__name__}'s projection rounds down to 0: raise "
            f"`{factor_name}` or round up. Received: {factor_name}={factor}, "
            f"features={features}, round_proj_up_to_multiple_of={multiple}, "
            "round_proj_up_dim_up=False."
        )
    return size


class XLSTMBlockBase(keras.layers.Layer):
    """The base of xLSTM's blocks: a layer from `(batch, T, E)` to the same
    shape that, with `return_state=True`, also returns the states to go on
    from (`state_shapes`), and takes them back as `initial_state`.

    It owns what every block has: `dropout` (below 1), `return_state`,
    `seed` (each weight drawn from the seed and the weight's name, so that
    blocks of different seeds differ and a weight's draw does not depend on
    which others exist), the check of `initial_state`, the refusal of a
    mask, and the output shape. A block computes in float32 (or wider)
    whatever the dtype policy: `wide` casts a tensor there, and its weights
    are read unrounded (`add`), and neither its inputs nor the states it is
    given are rounded on the way in. Under a mixed policy, then, only its
    outputs are in the compute dtype; its states stay in float32.
    """

    def __init__(self, dropout=0.0, return_state=False, seed=None, **kwargs):
        self.dropout = check_rate("dropout", dropout)
        if self.dropout == 1.0:
            raise ValueError(
                "Argument `dropout` must be below 1 (1 drops the whole "
                "block's output). Received: dropout=1.0."
            )
        super().__init__(**kwargs)
        # Keras rounds a mixed-precision layer's float arguments to the
        # compute dtype on the way in, states too: a block takes them as
        # they are (it computes in float32).
        self.autocast = False
        self.return_state = check_bool("return_state", return_state)
        self.seed = seed
        # So that Keras hands a mask to `call`, which refuses it by name
        # (without, Keras drops it with a warning).
        self.supports_masking = True

    def seed_for(self, name):
        """The seed of the weight, dropout or block `name`: from `seed` and
        the name (None without a seed)."""
        if self.seed is None:
            return None
        return zlib.crc32(f"{self.seed}/{name}".encode()) % 2**31

    def initializer(self, name, weight, **arguments):
        """Keras's initializer `name` (`"RandomNormal"`, ...), seeded from
        `seed` and the weight's name."""
        if name in ("Zeros", "Ones"):
            return getattr(initializers, name)()
        return getattr(initializers, name)(
            **arguments, seed=self.seed_for(weight)
        )

    def add(self, name, shape, initializer, **arguments):
        """A weight `name` of `shape`, initialised by `initializer`; read
        unrounded under mixed precision (the block computes in float32)."""
        return self.add_weight(
            shape=shape, name=name,
            initializer=self.initializer(initializer, name, **arguments),
            autocast=False,
        )

    def check_features(self, input_shape):
        """The input's features, once its shape is checked; later calls
        with other features are refused by name (`input_spec`)."""
        check_input_shape(self, input_shape,
                          ("batch", "timesteps", "features"))
        self.input_spec = keras.InputSpec(ndim=3,
                                          axes={-1: input_shape[-1]})
        return input_shape[-1]

    def wide(self, t):
        """`t` in the block's computing dtype (float32 or wider); None
        stays None."""
        return None if t is None else ops.cast(
            t, wide_dtype(self.variable_dtype)
        )

    def state_shapes(self, batch):
        """The shapes of the states, for a batch of `batch`."""
        raise NotImplementedError

    def initial_state(self, inputs, initial_state):
        """`initial_state` checked against `state_shapes` (zeros where
        None), in the computing dtype."""
        batch = ops.shape(inputs)[0]
        if initial_state is None:
            return [
                ops.zeros(shape, wide_dtype(self.variable_dtype))
                for shape in self.state_shapes(batch)
            ]
        expected = self.state_shapes(inputs.shape[0])
        received = [
            tuple(getattr(s, "shape", ())) for s in list(initial_state)
        ]
        if len(received) != len(expected) or any(
            len(r) != len(e) or any(
                a is not None and b is not None and a != b
                for a, b in zip(r, e, strict=True)
            )
            for r, e in zip(received, expected, strict=False)
        ):
            raise ValueError(
                f"Argument `initial_state` of {type(self).__name__} must be "
                "the states a call with return_state=True returned: "
                f"shapes {expected}. Received: shapes {received}."
            )
        return [self.wide(s) for s in initial_state]

    def refuse_mask(self, mask):
        if mask is not None:
            raise ValueError(
                f"{type(self).__name__} takes no mask yet (a padded step "
                "would have to keep the convolution's state as well as the "
                "memory's). Remove the mask (`Embedding(mask_zero=False)`, "
                "no `Masking`) and pad at the end, where a causal block's "
                "outputs at the real steps do not see it. Received: a mask."
            )

    def compute_mask(self, inputs, mask=None):
        self.refuse_mask(mask)
        return None

    def outputs(self, inputs, outputs, states):
        """What `call` returns: the outputs in the compute dtype, then the
        states (if `return_state`) in the computing dtype, so that under
        mixed precision generation carries them unrounded."""
        outputs = ops.cast(outputs, self.compute_dtype)
        if not self.return_state:
            return outputs
        return [outputs] + [self.wide(s) for s in states]

    def compute_output_shape(self, inputs_shape, initial_state_shape=None):
        if not self.return_state:
            return tuple(inputs_shape)
        if not self.built:
            self.build(inputs_shape)
        return [tuple(inputs_shape)] + self.state_shapes(inputs_shape[0])

    def compute_output_spec(self, inputs, initial_state=None, mask=None,
                            training=False):
        shapes = self.compute_output_shape(tuple(inputs.shape))
        if not self.return_state:
            return keras.KerasTensor(shapes, dtype=self.compute_dtype)
        wide = wide_dtype(self.variable_dtype)
        return [keras.KerasTensor(shapes[0], dtype=self.compute_dtype)] + [
            keras.KerasTensor(shape, dtype=wide) for shape in shapes[1:]
        ]

    def get_config(self):
        return {
            **super().get_config(),
            "dropout": self.dropout,
            "return_state": self.return_state,
            "seed": self.seed,
        }
