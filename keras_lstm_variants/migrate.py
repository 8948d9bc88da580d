r"""Moving models from TensorFlow Addons, `tf.compat.v1` and PyTorch here.

TensorFlow Addons' `PeepholeLSTMCell` and `LayerNormLSTMCell` store their
weights in exactly our layout, so only their configs need translating:
`from_tfa_config` makes the equivalent cell (for `LayerNormLSTMCell`, with
`carry_normalized_state=True`, the TFA formulation).

`tf.compat.v1.nn.rnn_cell.LSTMCell` stores one fused kernel of shape
$(D + U, 4U)$, gate blocks in the order $i, j, f, o$ ($j$ is the candidate,
our $c$), and adds `forget_bias` to the forget gate at run time; its
peepholes are the variables `w_i_diag`, `w_f_diag`, `w_o_diag`, its
projection (`num_proj`) the variable `projection/kernel` $(U, P)$, and its
state is the pair $(c, h)$. `from_compat_v1_config` makes the equivalent cell
(`num_proj`, `cell_clip` and `proj_clip` become `projection_units`,
`cell_clip` and `projection_clip`) and `compat_v1_weights` converts the
variables into that cell's weights.

PyTorch's `torch.nn.LSTM` stores per layer and direction `weight_ih` $(4H,
D)$, `weight_hh` $(4H, P)$, `bias_ih`, `bias_hh` $(4H,)$ and, with
`proj_size` $P$, `weight_hr` $(P, H)$, gate blocks $i, f, g, o$: our order,
transposed, with the two biases summed. `from_torch_lstm` builds the whole
stack (any `num_layers`, `bidirectional`, `proj_size`, `bias`, `dropout`)
as a Keras model holding those weights. `torch.nn.GRU` is `GRU` with
`reset_after=True`, its gate blocks $r, z, n$ reordered to $z, r, h$ and its
two biases the rows of `bias`: `from_torch_gru` builds its stack the same
way.

xLSTM's official `sLSTMCell` (the `xlstm` package) keeps its recurrent
kernel per head, `(H, d, 4, d)`, and its bias `(H, 4, d)`;
`from_xlstm_slstm` makes the equivalent `SLSTMCell` from it and the input
weights $W$ that its caller applies; `from_xlstm` makes an `MLSTMBlock`
from an official `mLSTMBlock`.

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

import keras
import numpy as np

from keras_lstm_variants._from_xlstm import _torch_to_numpy
from keras_lstm_variants._from_xlstm import from_xlstm  # noqa: F401
from keras_lstm_variants._from_xlstm import from_xlstm_slstm  # noqa: F401
from keras_lstm_variants.gru import GRU
from keras_lstm_variants.layer_norm_lstm import LayerNormLSTMCell
from keras_lstm_variants.lstm import LSTM
from keras_lstm_variants.lstm import LSTMCell
from keras_lstm_variants.peephole_lstm import PeepholeLSTMCell

_TFA_CELLS = {
    "PeepholeLSTMCell": PeepholeLSTMCell,
    "LayerNormLSTMCell": LayerNormLSTMCell,
}
# Keras 2 layer keys that Keras 3 takes as they are, or ignores.
_LAYER_KEYS = {"name", "trainable", "dtype"}
_IGNORED_KEYS = {"implementation"}  # Keras 2's cuDNN-era switch; no effect
# tf.compat.v1 LSTMCell options and our names for them.
_COMPAT_V1_OPTIONS = {
    "cell_clip": "cell_clip",
    "num_proj": "projection_units",
    "proj_clip": "projection_clip",
}


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
        `forget_bias` into the bias instead. `num_proj`, `cell_clip` and
        `proj_clip` become `projection_units`, `cell_clip` and
        `projection_clip` (`proj_clip` without `num_proj` had no effect
        there, and is dropped).

    Raises:
        ValueError: For options without an equivalent here (sharding,
            `state_is_tuple=False`) or unknown keys.
    """
    config = dict(config)
    unsupported = {}
    options = {}
    for theirs, ours in _COMPAT_V1_OPTIONS.items():
        value = config.pop(theirs, None)
        if value is not None:
            options[ours] = value
    if "projection_units" not in options:
        options.pop("projection_clip", None)
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
    arguments = {
        "units": config.pop("num_units"),
        "unit_forget_bias": False,
        **options,
    }
    cls = PeepholeLSTMCell if config.pop("use_peepholes", False) else LSTMCell
    config.pop("forget_bias", None)  # goes into the weights
    if config.get("activation") is None:
        config.pop("activation", None)
    if "initializer" in config:
        initializer = config.pop("initializer")
        if initializer is not None:
            arguments["kernel_initializer"] = initializer
            arguments["recurrent_initializer"] = initializer
            if "projection_units" in options:
                arguments["projection_initializer"] = initializer
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
    projection_kernel=None,
):
    """Converts `tf.compat.v1` `LSTMCell` variables to our weight list.

    Args:
        kernel: The fused kernel, shape `(input_dim + P, 4 * units)`, where
            `P` is `num_proj` if the cell had one, else `units`; gate blocks
            `i, j, f, o`.
        bias: The bias, shape `(4 * units,)`.
        w_i_diag: The input-gate peephole vector, shape `(units,)`; the
            three peepholes are given all or none.
        w_f_diag: The forget-gate peephole vector.
        w_o_diag: The output-gate peephole vector.
        input_dim: The number of input features `D`.
        forget_bias: The cell's `forget_bias`, added to the forget block of
            the bias (the cell added it at run time).
        projection_kernel: The variable `projection/kernel`, shape
            `(units, num_proj)`, if the cell had `num_proj`.

    Returns:
        `[kernel (D, 4U), recurrent_kernel (P, 4U), bias (4U,)]`, gates
        `i, f, c, o`, then the three peepholes if given, then
        `projection_kernel (U, P)` if given: the weights of the cell
        `from_compat_v1_config` makes, for `set_weights`.
    """
    kernel = np.asarray(kernel)
    bias = np.asarray(bias)
    units = kernel.shape[-1] // 4
    outputs = units
    if projection_kernel is not None:
        projection_kernel = np.asarray(projection_kernel)
        outputs = projection_kernel.shape[-1]
        if projection_kernel.shape != (units, outputs):
            raise ValueError(
                "Argument `projection_kernel` must have shape (units, "
                f"num_proj) with units={units} (the kernel's width / 4). "
                f"Received: projection_kernel.shape={projection_kernel.shape}."
            )
    if kernel.shape != (input_dim + outputs, 4 * units):
        raise ValueError(
            "Argument `kernel` must have shape (input_dim + P, 4 * units) = "
            f"({input_dim} + {outputs}, {4 * units}), P being num_proj or "
            f"units. Received: kernel.shape={kernel.shape}."
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
    if projection_kernel is not None:
        weights.append(projection_kernel)
    return weights


def from_torch_lstm(module):
    """A Keras model computing what a PyTorch `torch.nn.LSTM` computes.

    Args:
        module: A `torch.nn.LSTM` (read through its attributes and
            parameters; any `num_layers`, `bidirectional`, `proj_size`,
            `bias`, `batch_first`, `dropout`).

    Returns:
        A `keras.Sequential` of `num_layers` `LSTM` layers (each in
        `keras.layers.Bidirectional` if `bidirectional`), each with
        `return_sequences=True` and the module's weights, with
        `keras.layers.Dropout(dropout)` between layers as torch applies it.
        Its output is torch's `output`, batch-major: Keras layers take
        `(batch, time, features)`, so transpose what fed a module with
        `batch_first=False`. `model.layers[k]` holds layer `k`; with
        `return_state=True` set on copies of them, their final states are
        torch's `h_n` and `c_n` slices.

    Raises:
        ValueError: For a module that is not an LSTM (`mode` other than
            "LSTM", e.g. a GRU).
    """

    def layer():
        return LSTM(
            module.hidden_size,
            projection_units=module.proj_size or None,
            use_bias=module.bias,
            unit_forget_bias=False,
            return_sequences=True,
        )

    def weights(parameter):
        found = [parameter("weight_ih").T, parameter("weight_hh").T]
        if module.bias:
            found.append(parameter("bias_ih") + parameter("bias_hh"))
        if module.proj_size:
            found.append(parameter("weight_hr").T)
        return found

    return _from_torch_rnn(module, "LSTM", layer, weights)


def from_torch_gru(module):
    """A Keras model computing what a PyTorch `torch.nn.GRU` computes.

    PyTorch's GRU is Keras's `reset_after=True` form (its candidate is
    $\tanh(W_{in} x + b_{in} + r \\odot (W_{hn} h + b_{hn}))$) with the gate
    blocks in the order r, z, n, which become `GRU`'s z, r, h; its two
    biases are the rows of `GRU`'s `bias`.

    Args:
        module: A `torch.nn.GRU` (any `num_layers`, `bidirectional`,
            `bias`, `batch_first`, `dropout`).

    Returns:
        A `keras.Sequential` of `num_layers` `GRU` layers, as
        `from_torch_lstm` builds for an LSTM (its output is torch's
        `output`, batch-major).

    Raises:
        ValueError: For a module that is not a GRU.
    """
    def layer():
        return GRU(
            module.hidden_size, use_bias=module.bias, return_sequences=True
        )

    def keras_order(w):  # PyTorch's r, z, n blocks -> Keras's z, r, h
        r, z, n = np.split(w, 3, axis=0)
        return np.concatenate([z, r, n], axis=0)

    def weights(parameter):
        found = [
            keras_order(parameter("weight_ih")).T,
            keras_order(parameter("weight_hh")).T,
        ]
        if module.bias:
            found.append(np.stack([
                keras_order(parameter("bias_ih")),
                keras_order(parameter("bias_hh")),
            ]))
        return found

    return _from_torch_rnn(module, "GRU", layer, weights)


def _from_torch_rnn(module, mode, make_layer, weights_of):
    """The `keras.Sequential` of `module`'s layers (`make_layer()` each,
    in `Bidirectional` if it is), with the weights `weights_of(parameter)`
    reads from torch's `parameter(name)` of each layer and direction."""
    found = getattr(module, "mode", None)
    if found != mode:
        raise ValueError(
            f"Argument `module` must be a torch.nn.{mode}. "
            f"Received: a {type(module).__name__} with mode={found!r}."
        )
    directions = ["", "_reverse"] if module.bidirectional else [""]
    model = keras.Sequential(
        [keras.Input((None, module.input_size))],
        name=f"from_torch_{mode.lower()}",
    )
    for k in range(module.num_layers):
        if k and module.dropout:
            model.add(keras.layers.Dropout(module.dropout))
        layer = make_layer()
        if module.bidirectional:
            layer = keras.layers.Bidirectional(layer)
        model.add(layer)
        weights = []
        for suffix in directions:
            tag = f"l{k}{suffix}"
            weights += weights_of(
                lambda name, tag=tag: _torch_to_numpy(
                    getattr(module, f"{name}_{tag}")
                )
            )
        model.layers[-1].set_weights(weights)
    return model


def _check_keys(config, cls):
    known = set(cls.argument_names()) | _LAYER_KEYS
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(
            f"Config keys unknown to {cls.__name__}: {unknown}. "
            f"Known: {sorted(known)}."
        )
