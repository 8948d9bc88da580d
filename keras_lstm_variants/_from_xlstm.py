"""The official xLSTM modules (the `xlstm` package, PyTorch) as ours,
holding their weights: `from_xlstm_slstm` (a cell) and `from_xlstm` (a
block, a stack, a language model). `migrate` exports both."""

import keras
import numpy as np


def from_xlstm_slstm(cell, kernel, **kwargs):
    """The official xLSTM `sLSTMCell` (the `xlstm` package's, either
    backend) as an `SLSTMCell`, built and holding its weights.

    The official cell takes $x_t W$ already computed, in its gate layout
    (blocks $i, f, z, o$, each head by head), which is `SLSTMCell`'s
    `kernel` layout: pass that `kernel` $W$, `(features, 4 * hidden_size)`.
    The recurrent kernel and bias are converted as `SLSTMCell` documents;
    `kwargs` go to `SLSTMCell` (`dtype="float64"` for a float64 official
    cell: the weights keep their precision, none is rounded to float32).

    From the official `sLSTMLayer` (without convolution), $W$ is its four
    head-wise input projections made block-diagonal, and mind their order:
    the layer computes `i, f, z, o = fgate(x), igate(x), zgate(x),
    ogate(x)`, so the cell's $i$ block is the layer's `fgate` projection and
    its $f$ block the `igate` projection (`xlstm` 2.0.6). Mapping `igate` to
    $i$ by its name gives other outputs (off by up to 1.28 where it was tried).
    """
    from keras_lstm_variants.slstm import SLSTMCell

    config = cell.config
    if config.function != "slstm":
        raise ValueError(
            "from_xlstm_slstm converts the official cell with "
            "function='slstm'. Received: a cell with "
            f"function={config.function!r}."
        )
    units, heads = config.hidden_size, config.num_heads
    head_dim = units // heads
    kernel = np.asarray(kernel)
    if kernel.ndim != 2 or kernel.shape[1] != 4 * units:
        raise ValueError(
            "Argument `kernel` must be the input weights W of shape "
            f"(features, 4 * hidden_size) = (features, {4 * units}). "
            f"Received: kernel.shape={kernel.shape}."
        )
    recurrent_kernel = cell.recurrent_kernel[...]  # (H, d, 4, d)
    bias = cell.bias[...]  # (H, 4, d)
    new = SLSTMCell(units, num_heads=heads, **kwargs)
    new.build((None, kernel.shape[0]))
    new.set_weights([
        kernel,
        _torch_to_numpy(recurrent_kernel).reshape(
            heads, head_dim, 4 * head_dim
        ),
        _torch_to_numpy(bias).transpose(1, 0, 2).reshape(-1),
    ])
    return new


def from_xlstm(module, **kwargs):
    """An official xLSTM module (the `xlstm` package, PyTorch) as ours,
    holding its weights:

    - an `mLSTMBlock` becomes an `MLSTMBlock`, an `sLSTMBlock` an
      `SLSTMBlock`, each built for the block's `embedding_dim`;
    - an `xLSTMBlockStack` becomes an `XLSTMBlockStack`;
    - an `xLSTMLMModel` becomes a `keras.Sequential` of an `Embedding`,
      the embedding's `Dropout` (if `add_embedding_dropout`), the
      `XLSTMBlockStack` and a `Dense` head without bias, taking token ids
      `(batch, T)` to logits `(batch, T, vocab_size)`. With `tie_weights`,
      the head holds a copy of the embedding (equal at conversion; Keras
      trains the two apart).

    The configuration carries over (heads, projection factors and their
    rounding, convolutions, `qkv_proj_blocksize`, biases, dropouts, the
    feed-forward, norms' weights, each block's place in the stack);
    `kwargs` go to our layer: `mode`, `chunk_size` (the mLSTM blocks'),
    `return_state`, `dtype`, `name`; an argument that the official
    configuration sets is refused. The weights map one to one, as
    `MLSTMBlock` and `SLSTMBlock` document (PyTorch's `(out, in)` matrices
    transposed, the convolution's `(D, 1, K)` as `(K, D)`, the sLSTM's
    recurrent kernel and bias as `from_xlstm_slstm` converts them).
    """
    kind = type(module).__name__
    convert = {
        "mLSTMBlock": _mlstm_block, "sLSTMBlock": _slstm_block,
        "xLSTMBlockStack": _stack, "xLSTMLMModel": _language_model,
    }.get(kind)
    if convert is None:
        raise ValueError(
            "Argument `module` must be one of the official mLSTMBlock, "
            "sLSTMBlock, xLSTMBlockStack or xLSTMLMModel (the `xlstm` "
            f"package's). Received: module of type {kind}."
        )
    return convert(module, kwargs)


def _refuse_clashes(carried, kwargs):
    clashing = sorted(set(kwargs) & set(carried))
    if clashing:
        raise ValueError(
            f"from_xlstm takes {', '.join(clashing)} from the official "
            "module's configuration; pass only our own arguments (mode, "
            f"chunk_size, return_state, dtype, ...). Received: {clashing}."
        )


def _converted(cls, carried, kwargs, features, weights):
    """`cls(**carried, **kwargs)` (an argument in both refused), built for
    `features` and holding `weights`."""
    _refuse_clashes(carried, kwargs)
    layer = cls(**carried, **kwargs)
    layer.build((None, None, features))
    layer.set_weights(weights)
    return layer


def _array(tensor, transpose=False):
    value = _torch_to_numpy(tensor)
    return value.T if transpose else value


def _biased(linear):
    return [] if linear.bias is None else [_array(linear.bias)]


def _mlstm_settings(config):
    """Our `MLSTMBlock` arguments from an official `mLSTMLayerConfig`, but
    those a stack sets."""
    return dict(
        num_heads=config.num_heads,
        proj_factor=config.proj_factor,
        round_proj_up_dim_up=config.round_proj_up_dim_up,
        round_proj_up_to_multiple_of=config.round_proj_up_to_multiple_of,
        conv1d_kernel_size=config.conv1d_kernel_size,
        qkv_proj_blocksize=config.qkv_proj_blocksize,
    )


def _slstm_settings(block_config):
    """Our `SLSTMBlock` arguments from an official `sLSTMBlockConfig`, but
    those a stack sets."""
    layer = block_config.slstm
    settings = dict(
        num_heads=layer.num_heads,
        conv1d_kernel_size=layer.conv1d_kernel_size,
        group_norm_weight=layer.group_norm_weight,
        feedforward=block_config.feedforward is not None,
    )
    ff = block_config.feedforward
    if ff is not None:
        if ff.ff_type != "ffn_gated":
            raise ValueError(
                "from_xlstm converts the official gated feed-forward. "
                f"Received: a feed-forward with ff_type={ff.ff_type!r}."
            )
        settings.update(
            ff_proj_factor=ff.proj_factor, ff_act_fn=ff.act_fn,
            ff_dropout=ff.dropout, ff_bias=ff.bias,
            round_proj_up_dim_up=ff.round_proj_up_dim_up,
            round_proj_up_to_multiple_of=ff.round_proj_up_to_multiple_of,
        )
    return settings


def _mlstm_block_weights(module):
    layer = module.xlstm
    cell = layer.mlstm_cell
    conv = layer.conv1d.conv
    return [
        _array(module.xlstm_norm.weight),
        _array(layer.proj_up.weight, transpose=True),
        *_biased(layer.proj_up),
        _array(conv.weight[:, 0, :], transpose=True),
        _array(conv.bias),
        *(_array(p.weight) for p in (layer.q_proj, layer.k_proj,
                                     layer.v_proj)),
        *(b for p in (layer.q_proj, layer.k_proj, layer.v_proj)
          for b in _biased(p)),
        np.concatenate([_array(cell.igate.weight, transpose=True),
                        _array(cell.fgate.weight, transpose=True)], axis=1),
        np.concatenate([_array(cell.igate.bias), _array(cell.fgate.bias)]),
        _array(cell.outnorm.weight),
        _array(layer.learnable_skip),
        _array(layer.proj_down.weight, transpose=True),
        *_biased(layer.proj_down),
    ]


def _slstm_block_weights(module):
    layer = module.xlstm
    cell = layer.slstm_cell
    heads = layer.config.num_heads
    units = layer.config.embedding_dim
    weights = [_array(module.xlstm_norm.weight)]
    if layer.config.conv1d_kernel_size > 0:
        conv = layer.conv1d.conv
        weights += [_array(conv.weight[:, 0, :], transpose=True),
                    _array(conv.bias)]
    # The official layer feeds `fgate` to the input gate, `igate` to the
    # forget gate (`SLSTMBlock`'s docstring).
    weights.append(np.stack([_array(g.weight) for g in (
        layer.fgate, layer.igate, layer.zgate, layer.ogate
    )]))
    if layer.group_norm.weight is not None:
        weights.append(_array(layer.group_norm.weight))
    if module.ffn is not None:
        weights += [
            _array(module.ffn_norm.weight),
            _array(module.ffn.proj_up.weight, transpose=True),
            *_biased(module.ffn.proj_up),
            _array(module.ffn.proj_down.weight, transpose=True),
            *_biased(module.ffn.proj_down),
        ]
    head_dim = units // heads
    weights += [
        _array(cell.recurrent_kernel[...]).reshape(
            heads, head_dim, 4 * head_dim
        ),
        _array(cell.bias[...]).transpose(1, 0, 2).reshape(-1),
    ]
    return weights


def _block_weights(module):
    if type(module).__name__ == "mLSTMBlock":
        return _mlstm_block_weights(module)
    return _slstm_block_weights(module)


def _mlstm_block(module, kwargs):
    from keras_lstm_variants.mlstm_block import MLSTMBlock

    config = module.config.mlstm
    carried = dict(
        _mlstm_settings(config), bias=config.bias, dropout=config.dropout,
        num_blocks=config._num_blocks or 1,
    )
    return _converted(MLSTMBlock, carried, kwargs, config.embedding_dim,
                      _mlstm_block_weights(module))


def _slstm_block(module, kwargs):
    from keras_lstm_variants.slstm_block import SLSTMBlock

    config = module.config.slstm
    carried = dict(
        _slstm_settings(module.config), dropout=config.dropout,
        num_blocks=config._num_blocks or 1,
        block_index=config._block_idx or 0,
    )
    return _converted(SLSTMBlock, carried, kwargs, config.embedding_dim,
                      _slstm_block_weights(module))


def _stack(module, kwargs):
    from keras_lstm_variants.xlstm_stack import XLSTMBlockStack

    config = module.config
    mlstm = {}
    if config.mlstm_block is not None:
        mlstm = _mlstm_settings(config.mlstm_block.mlstm)
    for name in ("mode", "chunk_size"):  # the mLSTM blocks' own
        if name in kwargs:
            mlstm[name] = kwargs.pop(name)
    carried = dict(
        num_blocks=config.num_blocks, slstm_at=list(config.slstm_at),
        mlstm_block=mlstm,
        slstm_block=(
            None if config.slstm_block is None
            else _slstm_settings(config.slstm_block)
        ),
        embedding_dim=config.embedding_dim,
        add_post_blocks_norm=config.add_post_blocks_norm,
        bias=config.bias, dropout=config.dropout,
    )
    weights = []
    if config.add_post_blocks_norm:
        weights.append(_array(module.post_blocks_norm.weight))
    for block in module.blocks:
        weights += _block_weights(block)
    return _converted(XLSTMBlockStack, carried, kwargs, config.embedding_dim,
                      weights)


def _language_model(module, kwargs):
    config = module.config
    if "return_state" in kwargs:
        raise ValueError(
            "from_xlstm makes a language model without states (a "
            "`keras.Sequential`). To generate with states, convert its "
            "stack: `from_xlstm(model.xlstm_block_stack, "
            "return_state=True)`, and use the Sequential's embedding and "
            "head around it. Received: return_state="
            f"{kwargs['return_state']!r}."
        )
    dtype = kwargs.get("dtype")
    name = kwargs.pop("name", "xlstm_lm_model")
    stack = _stack(module.xlstm_block_stack, kwargs)
    embedding = keras.layers.Embedding(
        config.vocab_size, config.embedding_dim, dtype=dtype,
        name="token_embedding",
    )
    head = keras.layers.Dense(config.vocab_size, use_bias=False,
                              dtype=dtype, name="lm_head")
    layers = [keras.Input((None,), dtype="int32"), embedding]
    if config.add_embedding_dropout:
        layers.append(keras.layers.Dropout(config.dropout, dtype=dtype,
                                           name="emb_dropout"))
    model = keras.Sequential([*layers, stack, head], name=name)
    embedding.set_weights([_array(module.token_embedding.weight)])
    head.set_weights([_array(module.lm_head.weight, transpose=True)])
    return model


def _torch_to_numpy(tensor):
    """A torch tensor as a NumPy array of its own precision (bfloat16, which
    NumPy lacks, as float32)."""
    tensor = tensor.detach().cpu()
    if str(tensor.dtype) == "torch.bfloat16":
        tensor = tensor.float()
    return tensor.numpy()
