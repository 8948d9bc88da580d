"""Greff et al.'s search space against the paper's equations, and the open
variant API's checks of an incomplete variant."""

import keras
import numpy as np
import pytest
import reference
from conftest import assert_close

import keras_lstm_variants as klv
from keras_lstm_variants import search_space

# The documented gate blocks of each variant (docs/variants/search_space.md);
# our "c" block is the paper's block input z.
BLOCKS = {
    "V": "ifco", "NIG": "fco", "NFG": "ico", "NOG": "ifc", "NIAF": "ifco",
    "NOAF": "ifco", "NP": "ifco", "CIFG": "fco", "FGR": "ifco",
}
PEEPHOLES = {"input": "i", "forget": "f", "output": "o"}


def greff_parameters(name, weights):
    """Our documented weights, by name, in the paper's notation."""
    p = {}
    for ours, theirs in (("kernel", "W"), ("recurrent_kernel", "R"),
                         ("bias", "b")):
        blocks = np.split(weights[ours], len(BLOCKS[name]), axis=-1)
        for gate, block in zip(BLOCKS[name], blocks, strict=True):
            p[f"{theirs}_{'z' if gate == 'c' else gate}"] = block
    for gate, short in PEEPHOLES.items():
        if f"{gate}_gate_peephole_weights" in weights:
            p[f"p_{short}"] = weights[f"{gate}_gate_peephole_weights"]
    if name == "CIFG":
        # The paper's input gate is our forget gate negated: f = 1 - i.
        for key in ("W", "R", "b", "p"):
            p[f"{key}_i"] = -p.pop(f"{key}_f")
    if "gate_recurrent_kernel" in weights:
        p["R"] = weights["gate_recurrent_kernel"]
    if "projection_kernel" in weights:
        p["P"] = weights["projection_kernel"]
    return p


def randomised(layer, rng):
    weights = {
        w.name: rng.normal(0.0, 0.5, tuple(w.shape)) for w in layer.weights
    }
    layer.set_weights([np.asarray(v, "float32") for v in weights.values()])
    return weights


CASES = [(name, {}) for name in search_space.NAMES] + [
    ("FGR", {"projection_units": 3, "cell_clip": 0.5}),
    ("NFG", {"cell_clip": 0.8}),
]


@pytest.mark.parametrize(
    "name, options", CASES,
    ids=[n + "".join(f"-{k}" for k in o) for n, o in CASES],
)
def test_layer_matches_the_papers_equations(name, options, rng):
    layer = search_space.layer(
        name, 4, return_sequences=True, return_state=True, **options
    )
    layer.build((None, 6, 3))
    weights = randomised(layer, rng)
    x = rng.normal(size=(3, 6, 3))
    mask = np.ones((3, 6), bool)
    mask[1, 4:] = False  # right-padded
    mask[2, :2] = False  # left-padded
    outputs, *states = layer(x.astype("float32"), mask=mask)
    ref_out, ref_y, ref_c, ref_gates = reference.greff_run(
        name, greff_parameters(name, weights), x, mask,
        cell_clip=options.get("cell_clip"),
    )
    assert_close(outputs, ref_out)
    assert_close(states[0], ref_y)
    assert_close(states[1], ref_c)
    if name == "FGR":  # the third state: the gate activations
        assert len(states) == 3
        assert_close(states[2], ref_gates)
    else:
        assert len(states) == 2


@pytest.mark.parametrize("name", ["NOG", "FGR"])
def test_cell_in_keras_rnn_matches_the_papers_equations(name, rng):
    cell = search_space.cell(name, 4)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    x = rng.normal(size=(2, 5, 3))
    rnn.build((None, 5, 3))
    weights = randomised(rnn, rng)
    ref_out, *_ = reference.greff_run(
        name, greff_parameters(name, weights), x
    )
    assert_close(rnn(x.astype("float32")), ref_out)


def test_full_gate_recurrence_takes_and_returns_three_states(rng):
    layer = klv.FullGateRecurrenceLSTM(4, return_state=True)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    _, h, c, gates = layer(x)
    assert tuple(gates.shape) == (2, 12)
    # Continuing from the returned states equals one longer sequence.
    longer = klv.FullGateRecurrenceLSTM(4, return_state=True)
    longer.build((None, 10, 3))
    longer.set_weights(layer.get_weights())
    y = rng.normal(size=(2, 5, 3)).astype("float32")
    _, *continued = layer(y, initial_state=[h, c, gates])
    _, *whole = longer(np.concatenate([x, y], axis=1))
    for a, b in zip(continued, whole, strict=True):
        assert_close(a, b)
    with pytest.raises(
        ValueError,
        match=r"3 tensors: h of .*, c of .*, extra_state_1 of shape \(2, 12\)",
    ):
        layer(y, initial_state=[h, c])
    with pytest.raises(ValueError, match=r"extra_state_1.shape=\(2, 4\)"):
        layer(y, initial_state=[h, c, c])


def test_name_keyword_names_the_keras_layer():
    """The variant's name is positional: `name=` is the Keras layer's, as
    for every layer (it raised "multiple values for argument 'name'")."""
    assert search_space.layer("FGR", 4, name="decoder").name == "decoder"
    assert search_space.cell("CIFG", 4, name="step").name == "step"
    assert type(search_space.layer("CIFG", units=4)).__name__ == "CoupledLSTM"


def test_unknown_name_and_contradicting_arguments_are_refused():
    with pytest.raises(ValueError, match=r"name='LSTM'.*") as error:
        search_space.layer("LSTM", 4)
    assert "V, NIG, NFG, NOG, NIAF, NOAF, NP, CIFG, FGR" in str(error.value)
    with pytest.raises(ValueError, match="use_peepholes=False"):
        search_space.cell("CIFG", 4, use_peepholes=False)
    assert search_space.cell("CIFG", 4, use_peepholes=True).use_peepholes


def test_incomplete_variants_name_what_is_missing(rng):
    class NoGates(klv.LSTMCellBase):
        def carry(self, z, c_tm1):
            return c_tm1

        def hidden(self, z, c):
            return c

    class RepeatedGate(NoGates):
        gates = ("f", "f")

    class NoEquations(klv.LSTMCellBase):
        gates = ("f", "c")

    class NoHidden(NoEquations):
        def carry(self, z, c_tm1):
            return c_tm1

    class ExtraStateWithoutUpdate(NoHidden):
        def hidden(self, z, c):
            return c

        def extra_state_sizes(self):
            return [self.units]

    class NoCell(klv.LSTMLayerBase):
        pass

    for cls, message in (
        (NoGates, r"NoGates must set `gates`.*gates=None"),
        (RepeatedGate, r"gates=\('f', 'f'\)"),
        (NoEquations, r"`carry\(self, z, c_tm1\)` and `hidden\(self, z, c\)`"),
        (NoHidden, r"NoHidden must define `hidden\(self, z, c\)`"),
        (NoCell, r"NoCell must set `cell_class`"),
    ):
        with pytest.raises(klv.VariantDefinitionError, match=message):
            cls(4)
    with pytest.raises(ValueError, match=r"`next_extra_states\(self, z"):
        keras.layers.RNN(ExtraStateWithoutUpdate(4))(np.ones((1, 2, 3)))
