"""Models saved by earlier releases load and compute what they computed.

tests/data/v<version>/ holds `.keras` files written by that release
(tests/data/make_fixtures.py): one per layer, one per cell inside
Bidirectional, with the inputs and the outputs they gave. Every folder is
loaded on every backend, with Keras's default `safe_mode=True`, and must
give the same outputs; each loaded model is also checked against the NumPy
reference of its equations on its loaded weights, so a fixture cannot
freeze a wrong number.
"""

import dataclasses
import functools
import json
import pathlib

import keras
import numpy as np
import pytest
import reference
from conftest import VARIANTS
from conftest import assert_close

import keras_lstm_variants  # noqa: F401  (registers the classes)

DATA = pathlib.Path(__file__).parent / "data"
RELEASES = sorted(p for p in DATA.glob("v*") if p.is_dir())
VARIANT = {v.name: v for v in VARIANTS}


@dataclasses.dataclass
class Fixture:
    variant: str  # a VARIANTS name, or a key of NEWER_FAMILIES
    bidirectional: bool = False
    go_backwards: bool = False
    return_sequences: bool = False
    merge_mode: str = "concat"
    epsilon: float | None = None  # LayerNorm: the saved norm_epsilon
    since: str = "v0.1.0"  # the first release whose folder holds it

    def step(self):
        variant = VARIANT[self.variant]
        if self.epsilon is None:
            return variant.step
        return functools.partial(
            reference.layer_norm_step, epsilon=self.epsilon
        )


def _named(layer):
    return {
        w.path.split("/")[-1]: np.asarray(v, np.float64)
        for w, v in zip(layer.weights, layer.get_weights(), strict=True)
    }


# The families outside VARIANTS: their NumPy reference, as
# `(layer, x, mask, go_backwards) -> outputs` in processing order.
NEWER_FAMILIES = {
    "slstm": lambda layer, x, mask, go_backwards: reference.slstm_run(
        _named(layer), x, num_heads=layer.cell.num_heads, mask=mask,
        go_backwards=go_backwards,
    )[0],
    "mlstm": lambda layer, x, mask, go_backwards: reference.mlstm_run(
        _named(layer), x, num_heads=layer.cell.num_heads, mask=mask,
        go_backwards=go_backwards,
    )[0],
    "min_lstm": lambda layer, x, mask, go_backwards: reference.min_run(
        functools.partial(
            reference.min_lstm_step,
            normalize_gates=layer.cell.normalize_gates,
        ),
        _named(layer), x, mask=mask, go_backwards=go_backwards,
    )[0],
    "min_gru": lambda layer, x, mask, go_backwards: reference.min_run(
        reference.min_gru_step, _named(layer), x, mask=mask,
        go_backwards=go_backwards,
    )[0],
}


# What tests/data/make_fixtures.py saved under each name.
FIXTURES = {
    "lstm": Fixture("lstm", return_sequences=True),
    "peephole_lstm": Fixture("peephole", go_backwards=True),
    "coupled_lstm": Fixture("coupled_peepholes", return_sequences=True),
    "layer_norm_lstm": Fixture("layer_norm_tfa", return_sequences=True),
    "bidirectional_lstm_cell": Fixture("lstm", True, return_sequences=True),
    "bidirectional_peephole_lstm_cell": Fixture("peephole", True),
    "bidirectional_coupled_lstm_cell": Fixture(
        "coupled", True, return_sequences=True, merge_mode="sum"
    ),
    "bidirectional_layer_norm_lstm_cell": Fixture(
        "layer_norm", True, epsilon=1e-2
    ),
    "lstm_projected": Fixture(
        "lstm_projected", return_sequences=True, since="v0.2.0"
    ),
    "slstm": Fixture("slstm", return_sequences=True, since="v0.2.0"),
    "mlstm": Fixture("mlstm", return_sequences=True, since="v0.2.0"),
    "min_lstm": Fixture("min_lstm", go_backwards=True, since="v0.2.0"),
    "min_gru": Fixture("min_gru", return_sequences=True, since="v0.2.0"),
}


def _version(folder_name):
    return tuple(int(part) for part in folder_name.lstrip("v").split("."))


def _held(release):
    """The fixture names a release's folder holds."""
    return sorted(
        name for name, fixture in FIXTURES.items()
        if _version(fixture.since) <= _version(release.name)
    )


RELEASE_FIXTURES = [
    (release, name) for release in RELEASES for name in _held(release)
]


def test_every_release_has_every_fixture():
    assert RELEASES, "no saved-model fixtures under tests/data"
    for folder in RELEASES:
        assert {p.stem for p in folder.glob("*.keras")} == set(_held(folder))
        versions = json.loads((folder / "versions.json").read_text())
        assert versions["keras_lstm_variants"]


def _weights(variant, layer, input_dim):
    units = layer.cell.units
    names = [name for name, _ in variant.layout(input_dim, units)]
    return dict(
        zip(
            names,
            [np.asarray(w, np.float64) for w in layer.get_weights()],
            strict=False,
        )
    )


def _reference(fixture, model, x):
    recurrent = model.layers[-1]
    mask = np.any(x != 0.0, axis=-1)  # what the Masking layer computes
    if fixture.variant in NEWER_FAMILIES:
        out = NEWER_FAMILIES[fixture.variant](
            recurrent, x, mask, fixture.go_backwards
        )
        return out if fixture.return_sequences else out[:, -1]
    variant = VARIANT[fixture.variant]
    run = functools.partial(reference.run, fixture.step(), x=x, mask=mask)
    if not fixture.bidirectional:
        out, _, _ = run(
            _weights(variant, recurrent, x.shape[-1]),
            go_backwards=fixture.go_backwards,
        )
        return out if fixture.return_sequences else out[:, -1]
    # Bidirectional zeroes masked outputs when it returns sequences.
    zero = fixture.return_sequences
    forward, _, _ = run(
        _weights(variant, recurrent.forward_layer, x.shape[-1]),
        zero_output_for_mask=zero,
    )
    backward, _, _ = run(
        _weights(variant, recurrent.backward_layer, x.shape[-1]),
        go_backwards=True, zero_output_for_mask=zero,
    )
    if fixture.return_sequences:
        forward, backward = forward, backward[:, ::-1]
    else:
        forward, backward = forward[:, -1], backward[:, -1]
    if fixture.merge_mode == "sum":
        return forward + backward
    return np.concatenate([forward, backward], axis=-1)


@pytest.mark.parametrize(
    "release, name", RELEASE_FIXTURES, ids=lambda a: getattr(a, "name", a)
)
def test_saved_model_loads_and_computes_the_same(release, name):
    expected = np.load(release / "expected.npz")
    x = expected["inputs"]

    model = keras.saving.load_model(release / f"{name}.keras")  # safe_mode=True

    outputs = model.predict(x, verbose=0)
    assert_close(outputs, expected[name])
    assert_close(
        outputs, _reference(FIXTURES[name], model, x.astype(np.float64))
    )


@pytest.mark.parametrize(
    "release",
    [r for r in RELEASES if _version(r.name) < (0, 2, 0)],
    ids=lambda p: p.name,
)
def test_changed_defaults_keep_the_value_a_file_stored(release):
    """`CoupledLSTM`'s `unit_forget_bias` defaults to False after 0.1.0 (the
    variant study): a file of an earlier release loads with the value its
    config stored (read from the file itself), not the new default."""
    import zipfile

    def stored_values(node):
        """`unit_forget_bias` of every CoupledLSTM config in `node`."""
        if isinstance(node, list):
            return [v for item in node for v in stored_values(item)]
        if not isinstance(node, dict):
            return []
        config = node.get("config")
        own = (
            [config["unit_forget_bias"]]
            if node.get("class_name", "").startswith("CoupledLSTM")
            and isinstance(config, dict) else []
        )
        return own + [v for item in node.values() for v in stored_values(item)]

    for name in ("coupled_lstm", "bidirectional_coupled_lstm_cell"):
        with zipfile.ZipFile(release / f"{name}.keras") as archive:
            values = stored_values(json.loads(archive.read("config.json")))
        # 0.1.0 stored True (then the default), which now differs from it.
        assert values and all(values), (name, values)
        model = keras.saving.load_model(release / f"{name}.keras")
        cells = [
            layer for layer in model._flatten_layers()
            if isinstance(layer, keras_lstm_variants.CoupledLSTMCell)
        ]
        assert len(cells) == len(values), name
        assert [cell.unit_forget_bias for cell in cells] == values
