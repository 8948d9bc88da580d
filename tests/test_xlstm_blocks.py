"""xLSTM's blocks and stack against the official `xlstm` package's modules.

The truth is the official PyTorch module itself (`mLSTMBlock`,
`sLSTMBlock` on the vanilla backend, `xLSTMBlockStack`, `xLSTMLMModel`),
built with random weights, run in float64; ours is made from it by
`migrate.from_xlstm` and held to the precision that the official module's
own float32 run attains. On every backend.
"""

import keras
import numpy as np
import pytest
from conftest import input_gradient
from conftest import to_numpy

import keras_lstm_variants as klv
from keras_lstm_variants import migrate

torch = pytest.importorskip("torch")
pytest.importorskip("xlstm")

EMBEDDING = 16


def _official_mlstm_block(steps, bias, seed, num_heads=2, kernel_size=4,
                          num_blocks=1):
    """The official block, every parameter random (the gates, norms and
    skip too: their initial values would hide a mix-up)."""
    from xlstm.blocks.mlstm.block import mLSTMBlock
    from xlstm.blocks.mlstm.block import mLSTMBlockConfig
    from xlstm.blocks.mlstm.layer import mLSTMLayerConfig

    torch.manual_seed(seed)
    block = mLSTMBlock(mLSTMBlockConfig(
        mlstm=mLSTMLayerConfig(
            embedding_dim=EMBEDDING, num_heads=num_heads, bias=bias,
            context_length=steps, conv1d_kernel_size=kernel_size,
            qkv_proj_blocksize=4, proj_factor=2.0,
        ),
        _num_blocks=num_blocks, _block_idx=0,
    ))
    generator = np.random.default_rng(seed)
    with torch.no_grad():
        for name, parameter in block.named_parameters():
            scale = 1.0 if "gate" in name else 0.3
            parameter.copy_(torch.tensor(
                generator.normal(0.0, scale, parameter.shape)
            ))
    return block


def _randomised(module, seed):
    """Every parameter random: the gates' and biases' at scale 1, the rest
    at 0.3 (initial values, zeros and ones, would hide a mix-up)."""
    generator = np.random.default_rng(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            scale = 1.0 if "gate" in name or "bias" in name else 0.3
            parameter.copy_(torch.tensor(
                generator.normal(0.0, scale, parameter.shape)
            ))
    return module


def _slstm_config(num_heads=2, kernel_size=4, group_norm_weight=True,
                  feedforward=None):
    from xlstm.blocks.slstm.block import sLSTMBlockConfig
    from xlstm.blocks.slstm.layer import sLSTMLayerConfig

    return sLSTMBlockConfig(
        slstm=sLSTMLayerConfig(
            embedding_dim=EMBEDDING, num_heads=num_heads, backend="vanilla",
            conv1d_kernel_size=kernel_size,
            group_norm_weight=group_norm_weight, dtype="float32",
            enable_automatic_mixed_precision=False,
        ),
        feedforward=feedforward,
    )


def _official_slstm_block(seed, block_index=0, num_blocks=1, **settings):
    from xlstm.blocks.slstm.block import sLSTMBlock

    config = _slstm_config(**settings)
    config._block_idx, config._num_blocks = block_index, num_blocks
    config.__post_init__()
    torch.manual_seed(seed)
    return _randomised(sLSTMBlock(config), seed)


def _feedforward(**settings):
    from xlstm.components.feedforward import FeedForwardConfig

    return FeedForwardConfig(**settings)


def _official_stack(steps, seed, num_blocks=3, slstm_at=(1,), vocab=None):
    """A stack (or, with `vocab`, a language model) of mLSTM blocks and
    sLSTM blocks at `slstm_at`."""
    from xlstm import xLSTMBlockStack
    from xlstm import xLSTMBlockStackConfig
    from xlstm import xLSTMLMModel
    from xlstm import xLSTMLMModelConfig
    from xlstm.blocks.mlstm.block import mLSTMBlockConfig
    from xlstm.blocks.mlstm.layer import mLSTMLayerConfig

    settings = dict(
        mlstm_block=mLSTMBlockConfig(mlstm=mLSTMLayerConfig(
            num_heads=2, conv1d_kernel_size=3, qkv_proj_blocksize=4,
        )),
        slstm_block=_slstm_config(feedforward=_feedforward(
            proj_factor=1.3, act_fn="gelu",
        )),
        context_length=steps, num_blocks=num_blocks,
        embedding_dim=EMBEDDING, slstm_at=list(slstm_at),
    )
    torch.manual_seed(seed)
    if vocab is None:
        module = xLSTMBlockStack(xLSTMBlockStackConfig(**settings))
    else:
        module = xLSTMLMModel(xLSTMLMModelConfig(
            **settings, vocab_size=vocab, tie_weights=True,
            add_embedding_dropout=True,
        ))
    return _randomised(module, seed)


def _official(block, x, dtype):
    module = block.to(dtype)
    x = torch.tensor(x, dtype=dtype, requires_grad=True)
    y = module(x)
    torch.sum(y**2).backward()
    return y.detach().numpy(), x.grad.numpy()


def _tolerance(truth, yardstick):
    """Four times the official float32 run's error (at least 1e-5),
    relative to the largest entry."""
    scale = max(1.0, np.abs(truth).max())
    return max(1e-5, 4 * np.abs(yardstick - truth).max() / scale) * scale

def _assert_equals_official(ours, module, x, gradients=True):
    """Ours on x (float32) against the official module in float64: the
    outputs (and input gradients) to four times the official float32
    run's own error."""
    expected, expected_gradient = _official(module, x, torch.float64)
    official32, gradient32 = _official(module, x, torch.float32)
    module.to(torch.float64)
    x32 = x.astype("float32")
    np.testing.assert_allclose(
        to_numpy(ours(x32)), expected, rtol=0,
        atol=_tolerance(expected, official32),
    )
    if gradients:
        np.testing.assert_allclose(
            input_gradient(ours, x32), expected_gradient, rtol=0,
            atol=_tolerance(expected_gradient, gradient32),
        )


def _assert_generates_as_official(module, ours, x, prompt, official_step):
    """A prompt's states, then one token at a time: ours (built with
    `return_state=True`) gives the whole float64 forward's outputs, and so
    does `official_step(x_t, state) -> (y_t, state)` from the same point."""
    whole, _ = _official(module, x, torch.float64)
    tolerance = 1e-5 * np.abs(whole).max()
    y, *states = ours(x[:, :prompt].astype("float32"))
    np.testing.assert_allclose(to_numpy(y), whole[:, :prompt], rtol=0,
                               atol=tolerance)
    official_state = None
    with torch.no_grad():
        for t in range(x.shape[1]):
            official_y, official_state = official_step(
                torch.tensor(x[:, t:t + 1]), official_state
            )
            if t < prompt:
                continue
            y, *states = ours(x[:, t:t + 1].astype("float32"),
                              initial_state=states)
            for actual in (to_numpy(y), official_y.numpy()):
                np.testing.assert_allclose(actual, whole[:, t:t + 1],
                                           rtol=0, atol=tolerance)



@pytest.mark.parametrize(
    "bias, mode, steps",
    [(False, "parallel", 24), (True, "chunkwise", 40)],
)
def test_mlstm_block_equals_the_official_block(rng, bias, mode, steps):
    # The chunkwise run uses chunks of 16: the sequence ends inside one.
    block = _official_mlstm_block(steps, bias, seed=steps)
    ours = migrate.from_xlstm(block, mode=mode, chunk_size=16)
    _assert_equals_official(ours, block,
                            rng.normal(size=(2, steps, EMBEDDING)))


def test_mlstm_block_generates_token_by_token_as_the_official_step(rng):
    block = _official_mlstm_block(12, bias=True, seed=5)

    def step(x_t, state):
        y, state = block.step(x_t, **(state or {}))
        return y, {"mlstm_state": state["mlstm_state"],
                   "conv_state": state["conv_state"]}

    _assert_generates_as_official(
        block, migrate.from_xlstm(block, return_state=True),
        rng.normal(size=(2, 12, EMBEDDING)), 7, step,
    )


def test_mlstm_block_saves_and_loads(tmp_path, rng):
    block = _official_mlstm_block(8, bias=False, seed=1)
    inputs = keras.Input((8, EMBEDDING))
    layer = migrate.from_xlstm(block, mode="chunkwise", chunk_size=4)
    model = keras.Model(inputs, layer(inputs))
    x = rng.normal(size=(2, 8, EMBEDDING)).astype("float32")
    path = tmp_path / "block.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        to_numpy(loaded(x)), to_numpy(model(x)), rtol=1e-6, atol=1e-6
    )
    config = loaded.layers[-1].get_config()
    assert config["mode"] == "chunkwise" and config["chunk_size"] == 4


def test_mlstm_block_official_initialisation():
    block = klv.MLSTMBlock(num_heads=4, num_blocks=3, seed=0)
    block.build((None, None, 32))
    assert block.inner == 64  # 2 * 32, rounded up to a multiple of 64
    weights = {w.name: to_numpy(w) for w in block.weights}
    np.testing.assert_array_equal(weights["gate_kernel"], 0.0)
    np.testing.assert_allclose(weights["gate_bias"][4:], [3, 4, 5, 6])
    np.testing.assert_array_equal(weights["skip"], 1.0)
    np.testing.assert_array_equal(weights["norm"], 0.0)
    # N(0, sqrt(2 / 5E)) and N(0, 2 / (n sqrt E)), within sampling error.
    assert abs(weights["up_kernel"].std() / np.sqrt(2 / 160) - 1) < 0.1
    assert abs(weights["down_kernel"].std() / (2 / 3 / np.sqrt(32)) - 1) < 0.1


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"num_heads": 0}, "num_heads=0"),
        ({"proj_factor": -1}, "proj_factor=-1"),
        ({"mode": "step"}, "mode='step'"),
        ({"chunk_size": 0}, "chunk_size=0"),
        ({"dropout": 1.5}, "dropout=1.5"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"proj_factor": float("nan")}, "proj_factor=nan"),
        ({"proj_factor": True}, "proj_factor=True"),
    ],
)
def test_mlstm_block_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        klv.MLSTMBlock(**arguments)


def test_mlstm_block_mixed_precision_computes_in_float32(rng):
    # bfloat16 weights and outputs, the rest in float32: the float32
    # block's outputs to bfloat16 rounding, not an error that grows.
    block = _official_mlstm_block(16, bias=True, seed=2)
    x = rng.normal(size=(2, 16, EMBEDDING)).astype("float32")
    expected = to_numpy(migrate.from_xlstm(block)(x))
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        outputs = migrate.from_xlstm(block, mode="chunkwise",
                                     chunk_size=8)(x)
    finally:
        keras.config.set_dtype_policy(policy)
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"
    np.testing.assert_allclose(
        to_numpy(keras.ops.cast(outputs, "float32")), expected,
        rtol=3e-2, atol=3e-2 * np.abs(expected).max(),
    )


def test_mlstm_block_seeds_and_states_are_checked(rng):
    # Two seeds, two draws (a seed per weight name); a wrong initial state
    # is named, not unpacked.
    blocks = [klv.MLSTMBlock(num_heads=2, seed=s) for s in (0, 1, 0)]
    for block in blocks:
        block.build((None, None, 8))
    draws = [[to_numpy(w) for w in b.weights] for b in blocks]
    np.testing.assert_array_equal(draws[0][1], draws[2][1])  # same seed
    assert not np.allclose(draws[0][5], draws[1][4])  # k of 0, q of 1
    assert not np.allclose(draws[0][1], draws[1][1])
    x = rng.normal(size=(2, 3, 8)).astype("float32")
    with pytest.raises(ValueError, match="initial_state.*Received: shapes"):
        blocks[0](x, initial_state=[np.zeros((2, 2, 32, 32))] * 3)
    with pytest.raises(ValueError, match="initial_state"):
        blocks[0](x, initial_state=[np.zeros((2, 4, 64)),
                                    *[np.zeros(s) for s in
                                      blocks[0].state_shapes(2)[1:]]])


def test_mlstm_block_refuses_a_mask():
    inputs = keras.Input((5, 8))
    masked = keras.layers.Masking(0.0)(inputs)
    with pytest.raises(ValueError, match="takes no mask"):
        klv.MLSTMBlock(num_heads=2)(masked)


def test_mlstm_block_heads_must_divide_the_inner_size():
    with pytest.raises(ValueError, match="num_heads=3"):
        klv.MLSTMBlock(num_heads=3).build((None, None, 8))
    with pytest.raises(ValueError, match="module of type LSTM"):
        migrate.from_xlstm(torch.nn.LSTM(2, 3))
    official = _official_mlstm_block(8, bias=False, seed=0)
    with pytest.raises(ValueError, match=r"\['num_heads'\]"):
        migrate.from_xlstm(official, num_heads=4)


# sLSTM block: pairwise over the convolution (4 taps, none), the
# feed-forward (GELU, ReLU^2 with biases, none), the group norm's weight
# and the block's place in a stack (the forget bias's initialisation is
# checked apart; here every weight is random).
SLSTM_CASES = {
    "conv-gelu": dict(kernel_size=4, feedforward=dict(act_fn="gelu")),
    "noconv-relu2-bias-nonorm": dict(
        kernel_size=0, group_norm_weight=False,
        feedforward=dict(act_fn="relu^2", bias=True, proj_factor=2.0),
    ),
    "conv2-noffn": dict(kernel_size=2, feedforward=None, num_heads=4),
}


@pytest.mark.parametrize("case", sorted(SLSTM_CASES))
def test_slstm_block_equals_the_official_block(rng, case):
    settings = dict(SLSTM_CASES[case])
    if settings["feedforward"] is not None:
        settings["feedforward"] = _feedforward(**settings["feedforward"])
    block = _official_slstm_block(seed=len(case), **settings)
    _assert_equals_official(migrate.from_xlstm(block), block,
                            rng.normal(size=(2, 9, EMBEDDING)),
                            gradients=case == "conv-gelu")


def test_slstm_block_generates_token_by_token_as_the_official_step(rng):
    block = _official_slstm_block(
        seed=3, feedforward=_feedforward(act_fn="gelu")
    )
    _assert_generates_as_official(
        block, migrate.from_xlstm(block, return_state=True),
        rng.normal(size=(2, 10, EMBEDDING)), 6,
        lambda x_t, state: block.step(x_t, **(state or {})),
    )


def test_slstm_block_official_initialisation():
    # The last of three blocks, as the official module initialises it: the
    # biases equal (the forget gate's power law), the recurrent kernel and
    # norms zero, the projections' spreads the official ones.
    official = _official_slstm_block(
        seed=0, block_index=2, num_blocks=3, num_heads=2,
        feedforward=_feedforward(act_fn="gelu"),
    )
    official.reset_parameters()
    expected = dict(zip(
        [w.name for w in migrate.from_xlstm(official).weights],
        migrate.from_xlstm(official).get_weights(), strict=True,
    ))
    block = klv.SLSTMBlock(num_heads=2, num_blocks=3, block_index=2, seed=0)
    block.build((None, None, EMBEDDING))
    weights = {w.name: to_numpy(w) for w in block.weights}
    assert set(weights) == set(expected)
    np.testing.assert_allclose(weights["bias"], expected["bias"], atol=1e-6)
    assert np.ptp(expected["bias"]) > 10  # +5 down to -7: not all zero
    for name in ("recurrent_kernel", "norm", "group_norm", "ffn_norm"):
        np.testing.assert_array_equal(weights[name], expected[name])
    for name in ("gate_kernel", "ffn_up_kernel", "ffn_down_kernel"):
        assert abs(weights[name].std() / expected[name].std() - 1) < 0.25
    assert block.ff_inner == 64  # 1.3 * 16, rounded up to a multiple of 64


def test_stack_equals_the_official_stack_and_generates_as_its_step(rng):
    # xLSTM[2:1]: mLSTM, sLSTM, mLSTM, then the post-blocks norm; the
    # mLSTM blocks chunkwise (chunks of 4, the sequence ends inside one).
    stack = _official_stack(10, seed=4)
    ours = migrate.from_xlstm(stack, mode="chunkwise", chunk_size=4)
    assert [type(b).__name__ for b in ours.blocks] == [
        "MLSTMBlock", "SLSTMBlock", "MLSTMBlock"
    ]
    x = rng.normal(size=(2, 10, EMBEDDING))
    _assert_equals_official(ours, stack, x)
    _assert_generates_as_official(
        stack, migrate.from_xlstm(stack, return_state=True), x, 6,
        lambda x_t, state: stack.step(x_t, state=state),
    )


def test_language_model_equals_the_official_model():
    # Tied weights and the embedding's dropout (off at inference).
    model = _official_stack(8, seed=6, num_blocks=2, slstm_at=(0,),
                            vocab=11).eval()
    tokens = np.random.default_rng(6).integers(0, 11, size=(2, 8))
    with torch.no_grad():
        expected = model.to(torch.float64)(torch.tensor(tokens)).numpy()
    ours = migrate.from_xlstm(model)
    assert [layer.name for layer in ours.layers] == [
        "token_embedding", "emb_dropout", "xlstm_block_stack", "lm_head"
    ] or [type(layer).__name__ for layer in ours.layers] == [
        "Embedding", "Dropout", "XLSTMBlockStack", "Dense"
    ]
    np.testing.assert_allclose(
        to_numpy(ours(tokens.astype("int32"))), expected, rtol=0,
        atol=2e-5 * np.abs(expected).max(),
    )
    with pytest.raises(ValueError, match="return_state=True"):
        migrate.from_xlstm(model, return_state=True)


def test_stack_saves_and_loads_with_mixed_precision(tmp_path, rng):
    # float32 inside and between the blocks, bfloat16 out: the float32
    # stack's outputs rounded once; the states stay float32, so generation
    # does not drift; the file loads to the same model.
    stack = _official_stack(8, seed=7)
    x = rng.normal(size=(2, 8, EMBEDDING)).astype("float32")
    expected = to_numpy(migrate.from_xlstm(stack)(x))
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        inputs = keras.Input((8, EMBEDDING))
        model = keras.Model(inputs, migrate.from_xlstm(stack)(inputs))
        outputs = to_numpy(keras.ops.cast(model(x), "float32"))
        model.save(tmp_path / "stack.keras")
        loaded = keras.saving.load_model(tmp_path / "stack.keras")
        again = to_numpy(keras.ops.cast(loaded(x), "float32"))
        generator = migrate.from_xlstm(stack, return_state=True)
        y, *states = generator(x[:, :2])
        assert {keras.backend.standardize_dtype(s.dtype)
                for s in states} == {"float32"}
        for t in range(2, 8):
            y, *states = generator(x[:, t:t + 1], initial_state=states)
        last = to_numpy(keras.ops.cast(y, "float32"))
    finally:
        keras.config.set_dtype_policy(policy)
    bfloat16 = 2.0**-8 * np.abs(expected).max()  # one rounding
    np.testing.assert_allclose(outputs, expected, rtol=0, atol=bfloat16)
    np.testing.assert_allclose(last, expected[:, -1:], rtol=0, atol=bfloat16)
    np.testing.assert_array_equal(again, outputs)


@pytest.mark.parametrize(
    "cls, arguments, message",
    [
        (klv.SLSTMBlock, {"conv1d_kernel_size": -1}, "conv1d_kernel_size=-1"),
        (klv.SLSTMBlock, {"ff_act_fn": "tanh"}, "ff_act_fn='tanh'"),
        (klv.SLSTMBlock, {"ff_proj_factor": 0}, "ff_proj_factor=0"),
        (klv.SLSTMBlock, {"block_index": 2, "num_blocks": 2},
         "block_index=2"),
        (klv.SLSTMBlock, {"ff_dropout": 1.0}, "ff_dropout=1.0"),
        (klv.XLSTMBlockStack, {"slstm_at": [3]}, r"slstm_at=\[3\]"),
        (klv.XLSTMBlockStack, {"slstm_at": "some"}, "slstm_at='some'"),
        (klv.XLSTMBlockStack, {"mlstm_block": {"bias": True}},
         r"may not set \['bias'\]"),
        (klv.XLSTMBlockStack, {"mlstm_block": {"heads": 2}},
         "mlstm_block.*MLSTMBlock refuses"),
        (klv.XLSTMBlockStack, {"slstm_block": [2]}, r"slstm_block=\[2\]"),
        (klv.XLSTMBlockStack, {"slstm_block": {"num_heads": 0},
                               "slstm_at": [0]},
         "SLSTMBlock refuses.*num_heads=0"),
    ],
)
def test_block_and_stack_bad_arguments_are_named(cls, arguments, message):
    with pytest.raises(ValueError, match=message):
        cls(**arguments)


def test_stack_seeds_each_block_apart():
    # The same seed draws the same stack; another seed, and another block
    # of the same stack, draw other weights.
    stacks = [klv.XLSTMBlockStack(num_blocks=2, slstm_at=[1], seed=s,
                                  mlstm_block={"num_heads": 2},
                                  slstm_block={"num_heads": 2})
              for s in (0, 1, 0)]
    for stack in stacks:
        stack.build((None, None, 8))
    draws = [[to_numpy(w) for w in s.weights] for s in stacks]
    names = [w.name for w in stacks[0].weights]
    assert all(np.array_equal(a, b)
               for a, b in zip(draws[0], draws[2], strict=True))
    up = names.index("up_kernel")
    assert not np.allclose(draws[0][up], draws[1][up])
    # The sLSTM block's gates are drawn, and apart from the mLSTM's.
    gates = names.index("gate_kernel", names.index("gate_kernel") + 1)
    assert draws[0][gates].shape == (4, 2, 4, 4)
    assert draws[0][gates].std() > 0


def test_stack_checks_its_input_and_states(rng):
    stack = klv.XLSTMBlockStack(
        num_blocks=2, slstm_at="all", slstm_block={"num_heads": 2},
        embedding_dim=8,
    )
    with pytest.raises(ValueError, match="embedding_dim=8"):
        stack(np.zeros((1, 3, 6), "float32"))
    with pytest.raises(ValueError, match="num_heads"):
        klv.SLSTMBlock(num_heads=3)(np.zeros((1, 3, 8), "float32"))
    built = klv.SLSTMBlock(num_heads=2)
    built(np.zeros((1, 3, 8), "float32"))
    with pytest.raises(ValueError, match="expected axis -1.*value 8"):
        built(np.zeros((1, 3, 6), "float32"))
    x = rng.normal(size=(2, 3, 8)).astype("float32")
    with pytest.raises(ValueError, match="initial_state"):
        stack(x, initial_state=[np.zeros((2, 8))] * 4)
    with pytest.raises(ValueError, match="takes no mask"):
        stack(keras.layers.Masking(0.0)(keras.Input((5, 8))))
