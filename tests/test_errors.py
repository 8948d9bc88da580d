"""Bad input raises ValueError (or TypeError) naming the argument and value.

Two tables: constructor arguments, and what a user passes later (inputs,
states, masks, configs). Each case runs for every variant's cell or layer on
the backend under test, and must fail before any computation: at
construction, at build, or on symbolic `keras.Input`s where it can.
"""

import re

import keras
import numpy as np
import pytest
from conftest import VARIANTS

import keras_lstm_variants as klv

# Every distinct class: the variants list LSTM and PeepholeLSTM twice.
VARIANTS_ONCE = [
    v
    for v in VARIANTS
    if v.name in ("lstm", "peephole", "coupled", "layer_norm")
]
CLASSES = [v.cell for v in VARIANTS_ONCE] + [v.layer for v in VARIANTS_ONCE]

BAD_ARGUMENTS = [
    ({"units": 0}, ValueError, "units=0"),
    ({"units": -3}, ValueError, "units=-3"),
    ({"units": 2.5}, ValueError, "units=2.5"),
    ({"units": "8"}, ValueError, "units='8'"),
    ({"units": True}, ValueError, "units=True"),
    ({"dropout": 1.5}, ValueError, "dropout=1.5"),
    ({"dropout": -0.1}, ValueError, "dropout=-0.1"),
    ({"recurrent_dropout": 2}, ValueError, "recurrent_dropout=2"),
    ({"recurrent_dropout": "0.1"}, ValueError, "recurrent_dropout='0.1'"),
    ({"implementation": 3}, ValueError, "implementation=3"),
    ({"activation": "no_such_activation"}, ValueError, "no_such_activation"),
    ({"recurrent_activation": "no_such_one"}, ValueError, "no_such_one"),
    ({"kernel_initializer": "no_such_init"}, ValueError, "no_such_init"),
    ({"recurrent_initializer": "nope_init"}, ValueError, "nope_init"),
]
# The shared options' checks live in the cell base: one cell, one layer.
OPTION_CLASSES = [klv.LSTMCell, klv.LayerNormLSTM]
BAD_OPTIONS = [
    ({"projection_units": 0}, ValueError, "projection_units=0"),
    ({"projection_units": -2}, ValueError, "projection_units=-2"),
    ({"projection_units": 2.5}, ValueError, "projection_units=2.5"),
    ({"projection_units": "3"}, ValueError, "projection_units='3'"),
    ({"cell_clip": 0}, ValueError, "cell_clip=0"),
    ({"cell_clip": -1.0}, ValueError, "cell_clip=-1.0"),
    ({"cell_clip": float("nan")}, ValueError, "cell_clip=nan"),
    ({"cell_clip": True}, ValueError, "cell_clip=True"),
    ({"projection_units": 2, "projection_clip": 0.0}, ValueError,
     "projection_clip=0.0"),
    ({"projection_clip": 1.0}, ValueError, "projection_units=None"),
    ({"cell_zoneout": 1.5}, ValueError, "cell_zoneout=1.5"),
    ({"output_zoneout": -0.1}, ValueError, "output_zoneout=-0.1"),
    ({"output_zoneout": "0.5"}, ValueError, "output_zoneout='0.5'"),
]


@pytest.mark.parametrize(
    "cls, arguments, error, message",
    [(cls, *case) for cls in CLASSES for case in BAD_ARGUMENTS]
    + [(cls, *case) for cls in OPTION_CLASSES for case in BAD_OPTIONS],
    ids=lambda x: x.__name__ if isinstance(x, type) else str(x),
)
def test_bad_constructor_argument(cls, arguments, error, message):
    arguments = {"units": 4, **arguments}
    with pytest.raises(error, match=re.escape(message)):
        cls(**arguments)


@pytest.mark.parametrize("cls", [klv.LayerNormLSTMCell, klv.LayerNormLSTM])
@pytest.mark.parametrize("epsilon", [-1e-3, 0.0, float("nan")], ids=str)
def test_norm_epsilon_must_be_positive(cls, epsilon):
    with pytest.raises(ValueError, match=f"norm_epsilon={epsilon}"):
        cls(4, norm_epsilon=epsilon)


class _PeepholeCellInLSTM(klv.LSTM):
    """A subclass of `LSTM` over a peephole cell: it must not inherit
    cuDNN (which would drop the peepholes)."""

    cell_class = klv.PeepholeLSTMCell


class _RedefinedLSTMCell(klv.LSTMCell):
    def hidden(self, z, c):
        return super().hidden(z, c) * 0.5


class _RedefinedLSTM(klv.LSTMLayerBase):
    cell_class = _RedefinedLSTMCell


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda: klv.PeepholeLSTM(4, use_cudnn=True), "peepholes"),
        (lambda: klv.CoupledLSTM(4, use_peepholes=True, use_cudnn=True),
         "peepholes"),
        (lambda: klv.LayerNormLSTM(4, use_cudnn=True),
         "LayerNormLSTMCell declares no standard LSTM form"),
        (lambda: _PeepholeCellInLSTM(4, use_cudnn=True), "peepholes"),
        (lambda: _RedefinedLSTM(4, use_cudnn=True),
         "_RedefinedLSTMCell redefines hidden of LSTMCell"),
        (lambda: klv.search_space.layer("NIG", 4, use_cudnn=True),
         "NoInputGateLSTMCell redefines"),
        (lambda: klv.LSTM(4, activation="relu", use_cudnn=True),
         "activation='relu'"),
    ],
    ids=["peephole", "coupled_peepholes", "layer_norm", "peephole_subclass",
         "redefined_subclass", "search_space", "activation"],
)
def test_use_cudnn_true_is_refused_where_cudnn_cannot_compute(make, problem):
    with pytest.raises(ValueError, match="use_cudnn=True") as error:
        make()
    assert problem in str(error.value)


def test_use_cudnn_true_is_taken_by_the_forms_cudnn_computes():
    """LSTM and CoupledLSTM (tied gates: a standard form without
    peepholes) accept it, and so does a subclass that changes only
    arguments."""

    class MyLSTMCell(klv.LSTMCell):
        def __init__(self, units, unit_forget_bias=False, **kwargs):
            super().__init__(units, unit_forget_bias=unit_forget_bias, **kwargs)

    class MyLSTM(klv.LSTMLayerBase):
        cell_class = MyLSTMCell

    for layer in (klv.LSTM, klv.CoupledLSTM, MyLSTM):
        assert layer(4, use_cudnn=True).use_cudnn is True


@pytest.mark.parametrize(
    "option",
    [{"projection_units": 2}, {"cell_clip": 1.0}, {"cell_zoneout": 0.1},
     {"output_zoneout": 0.1}],
    ids=str,
)
def test_use_cudnn_true_is_refused_with_what_cudnn_cannot_compute(option):
    name, value = next(iter(option.items()))
    with pytest.raises(ValueError, match=re.escape(f"{name}={value}")):
        klv.LSTM(4, use_cudnn=True, **option)


@pytest.mark.parametrize(
    "kwargs, mask, problem",
    [
        ({}, None, "no GPU is visible"),
        ({"recurrent_dropout": 0.5}, None, "recurrent_dropout=0.5 while"),
        ({}, "left", "no GPU is visible"),  # the device is checked first
    ],
    ids=["device", "recurrent_dropout", "mask"],
)
def test_use_cudnn_true_names_the_condition_that_failed_here(
    kwargs, mask, problem
):
    """A configuration cuDNN could compute, on a machine or with an input
    where the kernel cannot run, names the one condition that failed,
    not all of them. PyTorch's native op runs on CPU, so there only what
    it cannot take (recurrent dropout, a mask) is refused."""
    on_torch = keras.backend.backend() == "torch"
    if on_torch and problem == "no GPU is visible":
        problem = None  # the native op runs on this CPU
    if on_torch and mask:
        problem = "takes no mask"
    layer = klv.LSTM(4, use_cudnn=True, **kwargs)
    x = np.ones((2, 5, 3), "float32")
    call_mask = None
    if mask:
        call_mask = np.array([[False, True, True, True, True]] * 2)
    if problem is None:
        assert layer(x, mask=call_mask, training=True).shape == (2, 4)
        return
    with pytest.raises(ValueError, match="use_cudnn=True") as error:
        layer(x, mask=call_mask, training=True)
    reason = str(error.value).split("cannot run this layer here: ")[1]
    assert reason.split(". Pass use_cudnn")[0].find(problem) >= 0, reason


def test_use_cudnn_true_with_unroll_is_refused_at_construction():
    """The fused kernel runs a whole sequence, which unrolling cannot: the
    two are refused together when the layer is made, on every machine."""
    with pytest.raises(ValueError, match="unroll=True, use_cudnn=True"):
        klv.LSTM(4, use_cudnn=True, unroll=True)


def test_use_cudnn_must_be_auto_or_bool():
    with pytest.raises(ValueError, match="use_cudnn='yes'"):
        klv.LSTM(4, use_cudnn="yes")


def _zeros(*shape):
    return np.zeros(shape, "float32")


X = np.ones((2, 5, 3), "float32")  # batch 2, 5 steps, 3 features; units 4


def _config(variant, cell=False, drop=(), **extra):
    cls = variant.cell if cell else variant.layer
    config = cls(4, **variant.kwargs).get_config()
    for key in drop:
        del config[key]
    return cls, {**config, **extra}


def _from_config(variant, cell=False, **kwargs):
    cls, config = _config(variant, cell, **kwargs)
    cls.from_config(config)


def _built(layer, x=X):
    """`layer`, built for inputs shaped as `x` (of 3 features)."""
    layer.build(x.shape)
    return layer


# (id, what the user does with a variant, the error, what its message names)
BAD_CALLS = [
    ("layer input rank 2",
     lambda v: v.layer(4)(_zeros(2, 3)),
     ValueError, r"inputs.shape=(2, 3)"),
    ("layer input rank 4",
     lambda v: v.layer(4)(_zeros(2, 5, 3, 1)),
     ValueError, r"inputs.shape=(2, 5, 3, 1)"),
    ("no time steps",
     lambda v: v.layer(4)(_zeros(2, 0, 3)),
     ValueError, r"inputs.shape=(2, 0, 3)"),
    ("symbolic input rank 2",
     lambda v: v.layer(4)(keras.Input((3,))),
     ValueError, r"inputs.shape=(None, 3)"),
    ("undefined feature dimension",
     lambda v: v.layer(4)(keras.Input((5, None))),
     ValueError, r"inputs.shape=(None, 5, None)"),
    ("cell undefined feature dimension",
     lambda v: keras.layers.RNN(v.cell(4))(keras.Input((5, None))),
     ValueError, r"inputs.shape=(None, None)"),
    ("cell input rank 3",
     lambda v: v.cell(4).build((2, 5, 3)),
     ValueError, r"inputs.shape=(2, 5, 3)"),
    ("cell states of the wrong shape",
     lambda v: v.cell(4)(_zeros(2, 3), [_zeros(2, 4), _zeros(2, 5)]),
     ValueError, r"c.shape=(2, 5)"),
    ("cell states of the wrong count",
     lambda v: v.cell(4)(_zeros(2, 3), [_zeros(2, 4)]),
     ValueError, r"Received: 1 state"),
    ("initial_state count 1",
     lambda v: v.layer(4)(X, initial_state=[_zeros(2, 4)]),
     ValueError, "Received: 1 tensor"),
    ("initial_state count 3",
     lambda v: v.layer(4)(X, initial_state=[_zeros(2, 4)] * 3),
     ValueError, "Received: 3 tensor"),
    ("initial_state units",
     lambda v: v.layer(4)(X, initial_state=[_zeros(2, 4), _zeros(2, 3)]),
     ValueError, r"c.shape=(2, 3)"),
    ("initial_state batch",
     lambda v: v.layer(4)(X, initial_state=[_zeros(3, 4), _zeros(3, 4)]),
     ValueError, r"h.shape=(3, 4)"),
    ("initial_state rank",
     lambda v: v.layer(4)(X, initial_state=[_zeros(2, 4), _zeros(2, 4, 1)]),
     ValueError, r"c.shape=(2, 4, 1)"),
    ("features other than built",
     lambda v: _built(v.layer(4))(_zeros(2, 5, 4)),
     ValueError, r"built for inputs of 3 features"),
    ("cell features other than built",
     lambda v: _built(v.cell(4), _zeros(2, 3))(
         _zeros(2, 4), [_zeros(2, 4)] * 2
     ),
     ValueError, r"inputs.shape=(2, 4)"),
    ("mask timesteps",
     lambda v: v.layer(4)(X, mask=np.ones((2, 4), bool)),
     ValueError, r"mask.shape=(2, 4)"),
    ("mask batch",
     lambda v: v.layer(4)(X, mask=np.ones((3, 5), bool)),
     ValueError, r"mask.shape=(3, 5)"),
    ("mask rank",
     lambda v: v.layer(4)(X, mask=np.ones((2, 5, 1), bool)),
     ValueError, r"mask.shape=(2, 5, 1)"),
    ("mask in Bidirectional",
     lambda v: keras.layers.Bidirectional(v.layer(4))(
         X, mask=np.ones((2, 6), bool)
     ),
     ValueError, r"mask.shape=(2, 6)"),
    ("layer config without units",
     lambda v: _from_config(v, drop=["units"]),
     ValueError, "no `units`"),
    ("layer config with an unknown key",
     lambda v: _from_config(v, unitz=4),
     ValueError, "unknown config key(s) ['unitz']"),
    ("cell config without units",
     lambda v: _from_config(v, cell=True, drop=["units"]),
     ValueError, "no `units`"),
    ("cell config with an unknown key",
     lambda v: _from_config(v, cell=True, return_sequences=True),
     ValueError, "unknown config key(s) ['return_sequences']"),
    ("layer config with a bad value",
     lambda v: _from_config(v, dropout=3.0),
     ValueError, "dropout=3.0"),
]


@pytest.mark.parametrize("variant", VARIANTS_ONCE, ids=lambda v: v.name)
@pytest.mark.parametrize(
    "action, error, message",
    [case[1:] for case in BAD_CALLS],
    ids=[case[0] for case in BAD_CALLS],
)
def test_bad_input(variant, action, error, message):
    with pytest.raises(error, match=re.escape(message)):
        action(variant)


@pytest.mark.parametrize("variant", VARIANTS_ONCE, ids=lambda v: v.name)
def test_config_without_an_optional_key_takes_its_default(variant):
    """Configs saved before an argument existed still load, with its default."""
    cls, config = _config(variant, drop=["dropout", "zero_output_for_mask"])
    layer = cls.from_config(config)
    assert layer.dropout == 0.0 and layer.zero_output_for_mask is False


@pytest.mark.parametrize(
    "make, name, value",
    [
        (klv.LSTM, "use_bias", "no"),
        (klv.LSTMCell, "unit_forget_bias", 0),
        (klv.CoupledLSTM, "use_peepholes", "no"),
        (klv.LayerNormLSTM, "carry_normalized_state", "False"),
        (klv.MinLSTM, "normalize_gates", None),
        (klv.MinGRU, "use_bias", 1),
        # keras.layers.RNN's flags, which Keras itself takes as truthy.
        (klv.PeepholeLSTM, "return_sequences", "no"),
        (klv.MinLSTM, "return_state", 1),
        (klv.SLSTM, "go_backwards", "False"),
        (klv.MLSTM, "stateful", None),
    ],
    ids=["use_bias", "unit_forget_bias", "use_peepholes",
         "carry_normalized_state", "normalize_gates", "min_use_bias",
         "return_sequences", "return_state", "go_backwards", "stateful"],
)
def test_flags_must_be_booleans(make, name, value):
    """`bool("no")` is True: a flag given as a string or number is refused
    rather than silently turned on or off."""
    with pytest.raises(ValueError, match=re.escape(f"{name}={value!r}")):
        make(4, **{name: value})
    assert getattr(make(4, **{name: np.bool_(False)}), name) is False


# The layers of the other families (their own bases): what a user passes
# later, each case on each class.
def _new(name, cell=False):
    heads = {"num_heads": 2} if name in ("SLSTM", "MLSTM") else {}
    return getattr(klv, name + ("Cell" if cell else ""))(8, **heads)


NEW_LAYER_CALLS = [
    ("features other than built",
     lambda n: _built(_new(n))(_zeros(2, 5, 4)),
     r"built for inputs of 3 features"),
    ("no time steps", lambda n: _new(n)(_zeros(2, 0, 3)),
     r"inputs.shape=(2, 0, 3)"),
    ("mask timesteps", lambda n: _new(n)(X, mask=np.ones((2, 4), bool)),
     r"mask.shape=(2, 4)"),
    ("mask rank", lambda n: _new(n)(X, mask=np.ones((2, 5, 3), bool)),
     r"mask.shape=(2, 5, 3)"),
    ("cell input rank 3",
     lambda n: _built(_new(n, cell=True), _zeros(2, 3))(
         X, _new(n, cell=True).get_initial_state(batch_size=2)),
     r"inputs.shape=(2, 5, 3)"),
    ("cell states of the wrong shape",
     lambda n: _built(_new(n, cell=True), _zeros(2, 3))(
         _zeros(2, 3), [_zeros(2, 5)] * len(
             _new(n, cell=True).get_initial_state(batch_size=2))),
     r".shape=(2, 5)"),
    ("kernel_initializer name",
     lambda n: getattr(klv, n)(8, kernel_initializer="nope"),
     "kernel_initializer='nope'"),
]


@pytest.mark.parametrize("name", ["SLSTM", "MLSTM", "MinLSTM", "MinGRU"])
@pytest.mark.parametrize(
    "action, message",
    [case[1:] for case in NEW_LAYER_CALLS],
    ids=[case[0] for case in NEW_LAYER_CALLS],
)
def test_bad_input_to_the_other_families(name, action, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        action(name)


def test_mlstm_cell_states_of_the_wrong_count():
    cell = _built(_new("MLSTM", cell=True), _zeros(2, 3))
    with pytest.raises(ValueError, match=re.escape("[C, n, m]. Received: 1")):
        cell(_zeros(2, 3), [_zeros(2, 32)])
