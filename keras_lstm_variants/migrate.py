r"""Moving models from TensorFlow Addons and `tf.compat.v1` to this package.

TensorFlow Addons' `PeepholeLSTMCell` and `LayerNormLSTMCell` store their
weights in exactly our layout, so only their configs need translating:
`from_tfa_config` makes the equivalent cell (for `LayerNormLSTMCell`, with
`carry_normalized_state=True`, the TFA formulation).

`tf.compat.v1.nn.rnn_cell.LSTMCell` stores one fused kernel of shape
$(D + U, 4U)$, gate blocks in the order $i, j, f, o$ ($j$ is the candidate,
our $c$), and adds `forget_bias` to the forget gate at run time; its
peepholes are the variables `w_i_diag`, `w_f_diag`, `w_o_diag` and its state
is the pair $(c, h)$. `from_compat_v1_config` makes the equivalent cell and
`compat_v1_weights` converts the variables into that cell's weights.

Examples:
    >>> import numpy as np
    >>> from keras_lstm_variants import migrate
    >>> config = {"num_units": 3, "use_peepholes": True, "forget_bias": 1.0}
    >>> cell = migrate.from_compat_v1_config(config)
    >>> type(cell).__name__
    'PeepholeLSTMCell'
    >>> rng = np.random.default_rng(0)
    >>> kernel, bias = rng.normal(size=(2 + 3, 12)), rng.normal(size=12)
    >>> peepholes = [rng.normal(size=3) for _ in range(3)]
    >>> cell.build((None, 2))
    >>> cell.set_weights(migrate.compat_v1_weights(
    ...     kernel, bias, *peepholes, input_dim=2, forget_bias=1.0))
"""

import numpy as np

from keras_lstm_variants.layer_norm_lstm import LayerNormLSTMCell
from keras_lstm_variants.lstm import LSTMCell
from keras_lstm_variants.peephole_lstm import PeepholeLSTMCell

_TFA_CELLS = {
    "PeepholeLSTMCell": PeepholeLSTMCell,
    "LayerNormLSTMCell": LayerNormLSTMCell,
}
# Keras 2 layer keys that Keras 3 takes as they are, or ignores.
_LAYER_KEYS = {"name", "trainable", "dtype"}
_IGNORED_KEYS = {"implementation"}  # Keras 2's cuDNN-era switch; no effect


def from_tfa_config(class_name, config):
    """Our cell equivalent to a TensorFlow Addons LSTM cell's config.

    Args:
        class_name: `"PeepholeLSTMCell"` or `"LayerNormLSTMCell"` (an
            `"Addons>"` prefix, as in saved TFA models, is accepted).
        config: The cell's `get_config()` dict, as TFA saved it.

    Returns:
        A `PeepholeLSTMCell`, or a `LayerNormLSTMCell` with
        `carry_normalized_state=True`. Its weights, once built, have TFA's
        layout: `cell.set_weights(tfa_cell.get_weights())` works as is.

    Raises:
        ValueError: For another class name or a config key this package
            does not know.
    """
    name = class_name.split(">")[-1]
    if name not in _TFA_CELLS:
        raise ValueError(
            "Argument `class_name` must be one of "
            f"{sorted(_TFA_CELLS)}. Received: class_name={class_name!r}."
        )
    cls = _TFA_CELLS[name]
    config = {k: v for k, v in config.items() if k not in _IGNORED_KEYS}
    if cls is PeepholeLSTMCell:
        # TFA initialised the peepholes with the kernel's initializer.
        config.setdefault(
            "peephole_initializer",
            config.get("kernel_initializer", "glorot_uniform"),
        )
    else:
        config["carry_normalized_state"] = True
    _check_keys(config, cls)
    return cls(**config)


def from_compat_v1_config(config):
    """Our cell equivalent to a `tf.compat.v1` `LSTMCell` config.

    Args:
        config: The keyword arguments the `tf.compat.v1` cell was made with
            (`num_units`, `use_peepholes`, `forget_bias`, `activation`, ...).

    Returns:
        A `PeepholeLSTMCell` (with `use_peepholes=True`) or an `LSTMCell`,
        with `unit_forget_bias=False`: `compat_v1_weights` folds
        `forget_bias` into the bias instead.

    Raises:
        ValueError: For options without an equivalent here (`cell_clip`,
            `num_proj`, `proj_clip`, sharding, `state_is_tuple=False`) or
            unknown keys.
    """
    config = dict(config)
    unsupported = {
        key: config.pop(key)
        for key in ("cell_clip", "num_proj", "proj_clip")
        if config.get(key) is not None
    }
    for key in ("num_unit_shards", "num_proj_shards"):
        if config.pop(key, None) not in (None, 1):
            unsupported[key] = "sharded"
    if config.pop("state_is_tuple", True) is not True:
        unsupported["state_is_tuple"] = False
    if unsupported:
        raise ValueError(
            f"These tf.compat.v1 LSTMCell options have no equivalent in "
            f"keras_lstm_variants: {unsupported}."
        )
    if "num_units" not in config:
        raise ValueError(
            "The tf.compat.v1 config needs `num_units`. "
            f"Received keys: {sorted(config)}."
        )
    arguments = {"units": config.pop("num_units"), "unit_forget_bias": False}
    cls = PeepholeLSTMCell if config.pop("use_peepholes", False) else LSTMCell
    config.pop("forget_bias", None)  # goes into the weights
    if config.get("activation") is None:
        config.pop("activation", None)
    if "initializer" in config:
        initializer = config.pop("initializer")
        if initializer is not None:
            arguments["kernel_initializer"] = initializer
            arguments["recurrent_initializer"] = initializer
    arguments.update(config)
    _check_keys(arguments, cls)
    return cls(**arguments)


def compat_v1_weights(
    kernel,
    bias,
    w_i_diag=None,
    w_f_diag=None,
    w_o_diag=None,
    *,
    input_dim,
    forget_bias=1.0,
):
    """Converts `tf.compat.v1` `LSTMCell` variables to our weight list.

    Args:
        kernel: The fused kernel, shape `(input_dim + units, 4 * units)`,
            gate blocks `i, j, f, o`.
        bias: The bias, shape `(4 * units,)`.
        w_i_diag: The input-gate peephole vector, shape `(units,)`; the
            three peepholes are given all or none.
        w_f_diag: The forget-gate peephole vector.
        w_o_diag: The output-gate peephole vector.
        input_dim: The number of input features `D`.
        forget_bias: The cell's `forget_bias`, added to the forget block of
            the bias (the cell added it at run time).

    Returns:
        `[kernel (D, 4U), recurrent_kernel (U, 4U), bias (4U,)]`, gates
        `i, f, c, o`, then the three peepholes if given: the weights of the
        cell `from_compat_v1_config` makes, for `set_weights`.
    """
    kernel = np.asarray(kernel)
    bias = np.asarray(bias)
    units = kernel.shape[-1] // 4
    if kernel.shape != (input_dim + units, 4 * units):
        raise ValueError(
            "Argument `kernel` must have shape (input_dim + units, "
            f"4 * units) = ({input_dim} + {units}, {4 * units}). "
            f"Received: kernel.shape={kernel.shape}."
        )
    if bias.shape != (4 * units,):
        raise ValueError(
            f"Argument `bias` must have shape ({4 * units},). "
            f"Received: bias.shape={bias.shape}."
        )
    peepholes = [w_i_diag, w_f_diag, w_o_diag]
    if any(p is None for p in peepholes) and any(
        p is not None for p in peepholes
    ):
        raise ValueError(
            "Pass all three peepholes (w_i_diag, w_f_diag, w_o_diag) or none."
        )
    i, j, f, o = np.split(kernel, 4, axis=-1)
    fused = np.concatenate([i, f, j, o], axis=-1)
    b_i, b_j, b_f, b_o = np.split(bias, 4)
    weights = [
        fused[:input_dim],
        fused[input_dim:],
        np.concatenate([b_i, b_f + forget_bias, b_j, b_o]),
    ]
    if w_i_diag is not None:
        weights += [np.asarray(p) for p in peepholes]
    return weights


def _check_keys(config, cls):
    known = set(cls.argument_names()) | _LAYER_KEYS
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(
            f"Config keys unknown to {cls.__name__}: {unknown}. "
            f"Known: {sorted(known)}."
        )
