"""The dataset examples end to end on tfds mock data (the real loading
code), and what a new user meets first: --help, wrong names, missing
packages."""

import json
import re
import sys

import keras
import numpy as np
import pytest
from conftest import load_example
from conftest import one_per_backend

import keras_lstm_variants as klv

tfds = pytest.importorskip("tensorflow_datasets")  # installed by `make test`


def _check_outputs(folder):
    history = json.loads((folder / "history.json").read_text())
    assert len(history["loss"]) == 1 and "val_accuracy" in history
    assert (folder / "training.png").read_bytes()[:4] == b"\x89PNG"
    return keras.saving.load_model(folder / "model.keras")


COMMON = [
    "--epochs", "1", "--units", "4", "--batch-size", "4", "--verbose", "0",
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "variant", one_per_backend(["LSTM", "LayerNormLSTM"])
)
def test_imdb_on_mock_data(tmp_path, variant):
    with tfds.testing.mock_data(num_examples=8):
        code = load_example("imdb_sentiment").main(COMMON + [
            "--variant", variant, "--max-length", "12", "--vocab-size", "50",
            "--backend", keras.backend.backend(), "--output", str(tmp_path),
        ])
    assert code == 0
    model = _check_outputs(tmp_path)
    assert model.input_shape == (None, 12)


@pytest.mark.slow
def test_handwriting_mnist(tmp_path):
    # MNIST through tfds (mock data: the real loading code).
    with tfds.testing.mock_data(num_examples=8):
        code = load_example("handwriting").main(COMMON + [
            "--variant", "CoupledLSTM", "--dataset", "mnist",
            "--backend", keras.backend.backend(), "--output", str(tmp_path),
        ])
    assert code == 0
    model = _check_outputs(tmp_path)
    assert model.input_shape[1] == 28 and model.output_shape == (None, 10)


@pytest.mark.slow
def test_handwriting_digits_needs_neither_tfds_nor_tensorflow(
    tmp_path, monkeypatch
):
    # scikit-learn's digits offline, the real data, as arrays: with
    # tensorflow_datasets (and, off TensorFlow, TensorFlow) not importable.
    # A search-space name is a variant too (CIFG: CoupledLSTM with
    # peepholes).
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    if keras.backend.backend() != "tensorflow":
        monkeypatch.setitem(sys.modules, "tensorflow", None)
    code = load_example("handwriting").main(COMMON + [
        "--pixels", "--permute", "--variant", "CIFG", "--dataset", "digits",
        "--batch-size", "128", "--backend", keras.backend.backend(),
        "--output", str(tmp_path),
    ])
    assert code == 0
    model = _check_outputs(tmp_path)
    assert model.input_shape[1] == 64 and model.output_shape == (None, 10)
    assert model.layers[0].use_peepholes


SCRIPTS = ["adding_problem", "handwriting", "imdb_sentiment", "variant_study",
           "on_device", "char_lm"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_describes_every_option_once(script, capsys, monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND")
    with pytest.raises(SystemExit) as exit_info:
        load_example(script).main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    lines = text.split("options:", 1)[1].splitlines()[1:]
    for number, line in enumerate(lines):
        if not line.startswith("  -"):
            continue
        described = re.search(r"\S {2,}\S", line.strip()) or (
            number + 1 < len(lines)
            and re.match(r" {20,}\S", lines[number + 1])
            and not lines[number + 1].lstrip().startswith("-")
        )
        assert described, f"{script}: no help for {line.strip()}"
    assert not re.search(r"\(default:[^)]*\)\s*\(default:", text)
    if script != "on_device":  # TensorFlow only: the converter's
        # The same default backend everywhere: the first installed.
        assert re.search(r"installed of jax, tensorflow, torch\s+\(default:\s+"
                         r"jax\)", text), text


def test_wrong_names_are_refused_before_anything_runs(capsys):
    for script, argv, message in [
        ("handwriting", ["--dataset", "digit"], "invalid choice: 'digit'"),
        ("imdb_sentiment", ["--variant", "lstm"], "invalid choice: 'lstm'"),
        ("variant_study", ["--variants", "LSTM ", "--quick"], "invalid choice"),
        ("on_device", ["--variants", "LayerNormLSTM"], "invalid choice"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            load_example(script).main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err, script


def test_study_takes_class_and_search_space_names():
    study = load_example("variant_study")
    args = study.parse_args(["--variants", "LSTM", "PeepholeLSTM", "CIFG",
                             "NoInputGateLSTM", "FGR", "LayerNormLSTM"])
    assert args.variants == [
        "LSTM (NP)", "PeepholeLSTM (V)", "CIFG (forget bias 0)",
        "NIG (forget bias 0)", "FGR", "LayerNormLSTM",
    ]


def test_study_class_names_mean_the_class_defaults():
    """`CoupledLSTM`, `CIFG`, `NIG` name the rows of their default forget
    bias, and each row builds the layer it names."""
    study = load_example("variant_study")
    for alias, build in [
        ("CoupledLSTM", lambda: klv.CoupledLSTM(4)),
        ("CIFG", lambda: klv.search_space.layer("CIFG", 4)),
        ("NIG", lambda: klv.search_space.layer("NIG", 4)),
    ]:
        default = int(build().cell.unit_forget_bias)
        assert study.variant_name(alias) == f"{alias} (forget bias {default})"
    for variant, (_, _, own) in study.VARIANTS.items():
        layer = study.build_layer(variant, 4)
        for name, value in own.items():
            assert getattr(getattr(layer, "cell", layer), name) == value


def test_study_blocks_read_the_last_step_masking_keeps():
    study = load_example("variant_study")
    inputs = np.zeros((3, 5, 2), "float32")
    inputs[0, :3] = 1.0  # padded after 3 steps
    inputs[1, 4, 1] = 2.0  # only the last step is real
    inputs[2, 1] = 1.0
    inputs[2, 3, 0] = -1.0  # a zero step between real ones
    outputs = np.random.default_rng(0).normal(size=(3, 5, 4))
    picked = keras.ops.convert_to_numpy(study.last_real_step(
        keras.ops.convert_to_tensor(outputs.astype("float32")),
        keras.ops.convert_to_tensor(inputs),
    ))
    np.testing.assert_allclose(picked, outputs[[0, 1, 2], [2, 4, 3]],
                               rtol=1e-6)
    model = study.build_model("reverse", "SLSTMBlock", 8, (8, 10), 10)
    assert model.output_shape == (None, 8, 10)
    assert [type(layer).__name__ for layer in model.layers].count(
        "SLSTMBlock") == 2


@pytest.mark.parametrize(
    "script, argv, hidden, install",
    [
        ("variant_study", ["--quick", "--tasks", "digits", "japanese_vowels"],
         "sktime", '"keras-lstm-variants[examples]"'),
        ("imdb_sentiment", [], "tensorflow_datasets",
         "pip install tensorflow-datasets"),
        ("handwriting", ["--dataset", "digits"], "sklearn",
         "pip install scikit-learn"),
        ("on_device", [], "tflite_micro", "[export]"),
    ],
)
def test_a_missing_package_is_named_before_training(
    script, argv, hidden, install, monkeypatch, capsys, tmp_path
):
    monkeypatch.setitem(sys.modules, hidden, None)
    module = load_example(script)
    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("fit"))
    with pytest.raises(SystemExit) as exit_info:
        module.main(argv + ["--output", str(tmp_path)])
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert f"needs {hidden}" in message and install in message, message


@pytest.mark.skipif(keras.backend.backend() != "torch",
                    reason="NumPy data: run once per suite, in the PyTorch "
                    "session")
def test_study_data_is_the_real_data():
    study = load_example("variant_study")
    expected = {  # task: (train shape, test shape, classes)
        "digits": ((1257, 8, 8), (540, 8, 8), 10),
        "japanese_vowels": ((270, 29, 12), (370, 29, 12), 9),
        "mnist1d": ((4000, 40, 1), (1000, 40, 1), 10),
    }
    for task, (train_shape, test_shape, classes) in expected.items():
        x_train, y_train, x_test, y_test, n = study.load_task(task)
        assert (x_train.shape, x_test.shape, n) == (
            train_shape,
            test_shape,
            classes,
        )
        assert set(y_train) == set(y_test) == set(range(classes)), task
    # The reversal strings: one-hot digits, targets the digits reversed,
    # the same for every call.
    x_train, y_train, x_test, y_test, n = study.load_task("reverse")
    assert (x_train.shape, y_train.shape) == ((10_000, 8, 10), (10_000, 8))
    assert n == 10
    assert (x_test.shape, y_test.shape) == ((1_000, 8, 10), (1_000, 8))
    for x, y in [(x_train, y_train), (x_test, y_test)]:
        assert np.all(x.sum(-1) == 1.0)
        assert [list(row) for row in y[:50]] == [
            [int(np.argmax(step)) for step in reversed(row)] for row in x[:50]]
    np.testing.assert_array_equal(study.load_task("reverse")[0], x_train)
    # JapaneseVowels: 7 to 29 real steps, zero-padded at the end, so that
    # Masking(0.0) marks exactly the padding.
    x_train, _, x_test, _, _ = study.load_task("japanese_vowels")
    real = np.any(np.concatenate([x_train, x_test]) != 0.0, axis=-1)
    lengths = real.sum(axis=1)
    assert lengths.min() == 7 and lengths.max() == 29
    assert all(real[i, :n].all() for i, n in enumerate(lengths))


# Pairwise: each backend runs the quick study on its share of the tasks,
# with a variant of its own (a compiled model costs ~10 s a run on JAX).
STUDY_TASKS = {"tensorflow": ["digits"], "jax": ["japanese_vowels"],
               "torch": ["mnist1d", "reverse"]}
STUDY_VARIANTS = {"tensorflow": ["LSTM (NP)", "MLSTMBlock"],
                  "jax": ["CIFG (forget bias 0)"],
                  "torch": ["MinGRU", "FGR", "SLSTMBlock"]}


def test_study_pairwise_design_covers_every_task():
    study = load_example("variant_study")
    assert sorted(sum(STUDY_TASKS.values(), [])) == sorted(study.TASKS)


@pytest.mark.slow
def test_study_quick_run_writes_tables_json_and_plot(tmp_path, capsys):
    study = load_example("variant_study")
    tasks = STUDY_TASKS[keras.backend.backend()]
    variants = STUDY_VARIANTS[keras.backend.backend()]
    study.main(["--quick", "--backend", keras.backend.backend(),
                "--tasks", *tasks, "--variants", *variants,
                "--output", str(tmp_path)])
    result = json.loads((tmp_path / "results.json").read_text())
    runs = result["runs"]
    assert sorted((r["task"], r["variant"]) for r in runs) == sorted(
        (t, v) for t in tasks for v in variants
    )
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and r["parameters"] > 0
               for r in runs)
    table = (tmp_path / "results.md").read_text()
    assert all(f"### {task}" in table for task in tasks)
    assert all(f"| {v} |" in table for v in variants)
    assert table.split("\n\n", 1)[1] in capsys.readouterr().out
    assert (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG"


def test_missing_data_gives_a_message_not_a_traceback(
    tmp_path, capsys, monkeypatch
):
    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'ai.stanford.edu'")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(SystemExit) as exit_info:
        load_example("handwriting").main(
            ["--data-dir", str(tmp_path), "--backend", keras.backend.backend()]
        )
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert "Could not load the 'mnist' dataset" in message
    assert "--data-dir" in message and "ConnectionError" in message


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="LiteRT's converter needs the TensorFlow backend")
def test_on_device_trains_converts_and_runs_in_both_runtimes(tmp_path):
    (row,) = load_example("on_device").main([
        "--output", str(tmp_path), "--epochs", "1", "--units", "16",
        "--variants", "LSTM", "--test-images", "20", "--calibration", "10",
    ])
    assert row["float32_max_abs_diff"] < 1e-5
    assert row["litert_float32_accuracy"] == row["keras_accuracy"]
    assert row["micro_float32_accuracy"] == row["keras_accuracy"]
    assert {"litert_int8_accuracy", "micro_int8_accuracy"} <= set(row)
    assert row["int8_bytes"] < row["float32_bytes"]
    assert json.loads((tmp_path / "results.json").read_text()) == [row]
    assert "| LSTM |" in (tmp_path / "results.md").read_text()


def test_study_dtw_baseline_is_dynamic_time_warping():
    """Against the textbook recursion, on series of unequal lengths."""
    study = load_example("variant_study")
    rng = np.random.default_rng(0)

    def textbook(a, b):
        cost = {(0, 0): 0.0}
        def d(p, q):
            if (p, q) not in cost:
                if p == 0 or q == 0:
                    return np.inf
                cost[p, q] = float(((a[p - 1] - b[q - 1]) ** 2).sum()) + min(
                    d(p - 1, q), d(p, q - 1), d(p - 1, q - 1))
            return cost[p, q]
        return d(len(a), len(b))

    series = rng.normal(size=(5, 2))
    lengths = np.array([3, 6, 4])
    references = np.zeros((3, 6, 2))
    for k, n in enumerate(lengths):
        references[k, :n] = rng.normal(size=(n, 2))
    expected = [
        textbook(series, references[k, :n]) for k, n in enumerate(lengths)
    ]
    np.testing.assert_allclose(
        study.dtw_distances(series, references, lengths), expected, rtol=1e-12)
    x_train = references[:, :, :]
    accuracy = study.dtw_nearest_neighbour_accuracy(
        x_train, np.array([0, 1, 2]), x_train, np.array([0, 1, 2]))
    assert accuracy == 1.0  # each training series is its own nearest


def test_forecasting_windows_splits_and_baselines_against_numpy():
    """The CO2 series, the windows of keras.utils.timeseries_dataset_from_array
    and the seasonal-naive scores, each against plain NumPy slicing."""
    pytest.importorskip("statsmodels")
    pytest.importorskip("grain")
    forecasting = load_example("forecasting")
    months, series = forecasting.load_co2()
    assert (len(series), f"{months[0]:%Y-%m}", f"{months[-1]:%Y-%m}") == (
        526, "1958-03", "2001-12")
    assert np.all(np.isfinite(series))
    assert 313 < series.min() < series.max() < 374
    validation, test = forecasting.splits(months)
    assert (f"{months[validation]:%Y-%m}", f"{months[test]:%Y-%m}") == (
        "1990-01", "1995-01")
    window, horizon = 36, 12
    origins = np.arange(test - 1, len(series) - horizon)
    assert len(origins) == 73  # every month of 1995-2001 forecast once per h
    x, y = forecasting.windows(series, window, horizon, origins)
    series32 = series.astype("float32")
    np.testing.assert_array_equal(
        x, [series32[t - window + 1: t + 1] for t in origins])
    np.testing.assert_array_equal(
        y, [series32[t + 1: t + 1 + horizon] for t in origins])
    # Seasonal naive: y[t + h] forecast by y[t + h - 12], written out by hand.
    expected = np.mean([abs(series[t + h] - series[t + h - 12])
                        for t in origins for h in range(1, horizon + 1)])
    scale = np.mean([abs(series[i] - series[i - 12])
                     for i in range(12, validation)])
    got = forecasting.scores(
        forecasting.seasonal_naive(series, origins, horizon), y, scale)
    assert got["mae"] == pytest.approx(expected, rel=1e-6)
    assert got["mase"] == pytest.approx(expected / scale, rel=1e-6)
    assert forecasting.seasonal_naive_scale(series, validation) == (
        pytest.approx(scale, rel=1e-12))


# The quick end-to-end runs compile several models each (20-80 s a run):
# each runs in one backend's session (the scripts take every backend; their
# code paths are the same Keras ones), pairwise: forecasting with TensorFlow,
# attention with PyTorch.
@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="run once per suite, in the TensorFlow session")
def test_forecasting_quick_run_reports_the_saved_models_scores(tmp_path):
    pytest.importorskip("statsmodels")
    forecasting = load_example("forecasting")
    code = forecasting.main([
        "--quick", "--units", "4", "--variant", "CoupledLSTM",
        "--backend", keras.backend.backend(), "--output", str(tmp_path)])
    assert code == 0
    result = json.loads((tmp_path / "results.json").read_text())
    (run,) = result["runs"]
    assert set(result["baselines"]) == {"seasonal naive", "Holt-Winters"}
    months, series = forecasting.load_co2()
    origins = np.arange(442 - 1, 526 - 12)
    truth = np.array([series[t + 1: t + 13] for t in origins])
    # The reported score is that of the forecasts written out, scored by
    # hand against the months that followed each origin (the script checks
    # that the reloaded model.keras makes the same forecasts).
    written = result["forecasts_of_the_saved_model"]
    assert list(written) == [f"{months[t]:%Y-%m}" for t in origins]
    forecasts = np.array(list(written.values()))
    assert run["mae"] == pytest.approx(np.abs(forecasts - truth).mean(),
                                       abs=1e-3)
    assert keras.saving.load_model(tmp_path / "model.keras").output_shape == (
        None, 12)
    naive = np.array([series[t - 11: t + 1] for t in origins])
    assert result["baselines"]["seasonal naive"]["mae"] == pytest.approx(
        np.abs(naive - truth).mean(), rel=1e-9)
    assert "| seasonal naive |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "forecast.png").read_bytes()[:4] == b"\x89PNG"


def test_attention_data_parses_to_its_target():
    """Each generated source means its target for dateutil's parser (day
    first only in the dotted format), and no test date is trained on."""
    from dateutil import parser as dateutil_parser

    attention = load_example("attention")
    (sources, targets), (test_sources, test_targets) = attention.split_pairs(
        2000, 300)
    assert len(sources) == 2000 and len(test_sources) == 300
    assert not set(targets) & set(test_targets)
    for source, target in zip(sources + test_sources, targets + test_targets,
                              strict=True):
        parsed = dateutil_parser.parse(source, dayfirst="." in source)
        assert parsed.date().isoformat() == target, source
    shapes = {attention.FORMATS[name](__import__("datetime").date(1987, 4, 3))
              for name in attention.FORMATS}
    assert {"3 April 1987", "Fri, 03 Apr 1987", "04/03/1987", "3.4.1987",
            "3rd of april 1987", "19870403"} <= shapes


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "torch",
                    reason="run once per suite, in the PyTorch session")
def test_attention_quick_run_trains_both_models_and_reloads(tmp_path):
    # main returns 1 unless greedy decoding (states carried by hand, step by
    # step) picks what the teacher-forced model scores highest when fed the
    # same previous characters, and unless the reloaded model predicts the
    # same.
    attention = load_example("attention")
    code = attention.main([
        "--quick", "--units", "4", "--variant", "CoupledLSTM",
        "--backend", keras.backend.backend(), "--output", str(tmp_path)])
    assert code == 0
    result = json.loads((tmp_path / "results.json").read_text())
    # Attention weights: a distribution over the real characters, none on
    # the padding.
    for shown in result["attention_weights"]:
        weights = np.array(shown["weights"])
        assert weights.shape == (10, attention.SOURCE_LENGTH)
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-3)
        assert np.all(weights[:, len(shown["source"]):] == 0.0)
    assert [r["attention"] for r in result["runs"]] == [True, False]
    assert all(0.0 <= r["exact_match"] <= r["character_accuracy"] <= 1.0
               for r in result["runs"])
    for example in result["examples"]:
        assert len(example["decoded"]) == 10
        assert set(example["decoded"]) <= set("0123456789-")
    assert (tmp_path / "attention.png").read_bytes()[:4] == b"\x89PNG"
    assert "+ Attention |" in (tmp_path / "results.md").read_text()


def test_attention_decoder_state_joins_the_encoder_states_block_by_block():
    """FullGateRecurrenceLSTM's extra state holds the input, forget and
    output gates (3 blocks of units): the decoder of 2 * units gets each
    gate's forward block beside its backward block."""
    attention = load_example("attention")
    units = 2
    forward = np.arange(6.0)[None] + 10.0  # i_f i_f f_f f_f o_f o_f
    backward = np.arange(6.0)[None] + 20.0
    expected = [[10, 11, 20, 21, 12, 13, 22, 23, 14, 15, 24, 25]]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(
        attention.joined(forward, backward, units)), expected)
    h = np.array([[1.0, 2.0]])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(
        attention.joined(h, -h, units)), [[1.0, 2.0, -1.0, -2.0]])
    cell = klv.FullGateRecurrenceLSTMCell(units)
    assert cell.state_size == [units, units, 3 * units]


def test_attention_decoder_matrix_memory_joins_the_heads_block_diagonally():
    """MLSTM's state (C, n, m): per head, the decoder's memory of twice the
    head size holds the forward memory and the backward one on its block
    diagonal, its normaliser both normalisers, all rescaled to the larger
    stabiliser (C * exp(m) unchanged); the decoder takes the joined states."""
    attention = load_example("attention")
    heads, d = 2, 3
    rng = np.random.default_rng(0)
    c_f, c_b = rng.normal(size=(2, 1, heads * d * d))
    n_f, n_b = rng.normal(size=(2, 1, heads * d))
    m_f, m_b = np.array([[0.5, -1.0]]), np.array([[0.25, 2.0]])
    c, n, m = (keras.ops.convert_to_numpy(s) for s in
               attention.joined_matrix_memory((c_f, n_f, m_f),
                                              (c_b, n_b, m_b), heads))
    assert c.shape == (1, heads * 4 * d * d) and n.shape == (1, heads * 2 * d)
    np.testing.assert_array_equal(m, [[0.5, 2.0]])
    c, n = c.reshape(heads, 2 * d, 2 * d), n.reshape(heads, 2 * d)
    for h in range(heads):
        f, b = np.exp(m_f[0, h] - m[0, h]), np.exp(m_b[0, h] - m[0, h])
        np.testing.assert_allclose(
            c[h, :d, :d], f * c_f.reshape(heads, d, d)[h], rtol=1e-6)
        np.testing.assert_allclose(
            c[h, d:, d:], b * c_b.reshape(heads, d, d)[h], rtol=1e-6)
        assert not c[h, :d, d:].any() and not c[h, d:, :d].any()
        np.testing.assert_allclose(
            n[h], np.concatenate([f * n_f.reshape(heads, d)[h],
                                  b * n_b.reshape(heads, d)[h]]), rtol=1e-6)
    model, _, _ = attention.build("MLSTM", 4, attention=True)
    assert model.get_layer("decoder").cell.state_size == [16, 8, 4]


def test_every_example_offers_every_layer_of_the_package(capsys):
    """`--variant` of every example is the package's layers (each class of
    `__all__` that is a Keras layer, but the cells, the public bases and
    xLSTM's blocks and their stack, which map a sequence to one of their
    input's width and are not offered as a recurrent layer), then the
    search-space names; the study has a row for every layer, and for each
    block."""
    common = load_example("_common")
    blocks = ("Block", "BlockStack")
    layers = [name for name in klv.__all__
              if isinstance(getattr(klv, name), type)
              and issubclass(getattr(klv, name), keras.layers.Layer)
              and not name.endswith(("Cell", "Base", *blocks))]
    assert {"MinLSTM", "MinGRU", "SLSTM", "MLSTM"} <= set(layers)
    names = layers + list(klv.search_space.NAMES)
    assert list(common.all_variants()) == names
    backend = ["--backend", keras.backend.backend()]
    # handwriting.py and imdb_sentiment.py: the shared parser.
    parser = common.parser("", "output", backend)
    help_text = " ".join(parser.format_help().split())
    assert all(name in help_text for name in names)
    forecasting = load_example("forecasting")
    attention = load_example("attention")
    for name in names:
        assert parser.parse_args(["--variant", name, *backend]).variant == name
        for example in (forecasting, attention):
            args = example.parse_args(["--variant", name, "--quick", *backend])
            assert args.variant == name and args.seeds == [0]
    study = load_example("variant_study")
    assert {study.variant_name(name) for name in layers} <= set(study.VARIANTS)
    assert {name for name in klv.__all__ if name.endswith("Block")} <= set(
        study.BLOCKS)


def test_new_examples_check_their_needs(capsys):
    common = load_example("_common")
    with pytest.raises(SystemExit) as exit_info:
        common.require("forecasting.py", keras.backend.backend(),
                       "statsmodels", "no_such_module_here")
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert "no_such_module_here" in message and "statsmodels" not in message
    assert "pip install no_such_module_here" in message


def test_char_lm_reads_pythons_documentation_in_order():
    """The text is `pydoc_data`'s topics; the splits are its first 90%, the
    next 5% and the last 5%; each window's targets are its inputs one
    character on; the four models have about the same parameters."""
    from pydoc_data import topics

    char_lm = load_example("char_lm")
    text = char_lm.load_text()
    assert topics.topics["for"] in text and len(text) > 400_000
    ids, alphabet = char_lm.encode(text)
    train, validation, test = char_lm.split(ids)
    assert len(train) + len(validation) + len(test) == len(text)
    assert abs(len(train) / len(text) - 0.9) < 1e-4
    tail = text[-len(test):]
    decoded = "".join(alphabet[i] for i in test)
    assert all(d == t or (d == alphabet[char_lm.UNKNOWN] and t not in
                          alphabet) for d, t in zip(decoded, tail,
                                                    strict=True))
    x, y = char_lm.windows(test, 16)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    np.testing.assert_array_equal(x.reshape(-1)[1:], y.reshape(-1)[:-1])
    args = char_lm.parse_args(["--backend", keras.backend.backend()])
    counts = {
        name: char_lm.build(name, len(alphabet), args)[0].count_params()
        for name in char_lm.MODELS
    }
    assert max(counts.values()) / min(counts.values()) < 1.15, counts


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "torch",
                    reason="run once per suite, in the PyTorch session")
def test_char_lm_quick_run_trains_generates_and_reports(tmp_path):
    # main returns 1 unless each recurrent model, one step on from the
    # states of the prompt but its last character, gives the
    # whole-sequence model's logits at that character.
    char_lm = load_example("char_lm")
    code = char_lm.main(["--quick", "--backend", keras.backend.backend(),
                         "--output", str(tmp_path)])
    assert code == 0
    result = json.loads((tmp_path / "results.json").read_text())
    assert [r["model"] for r in result["runs"]] == list(char_lm.MODELS)
    uniform = np.log2(result["setup"]["symbols"])
    _, alphabet = char_lm.encode(char_lm.load_text())
    for run in result["runs"]:
        # Better than guessing uniformly: the models learned something.
        assert 0.5 < run["test_bpc"] < uniform, run
        assert len(run["sample"]) == 12 and set(run["sample"]) <= set(
            alphabet)
        assert run["train_chars_per_second"] > 0
    assert "| xLSTM[7:1] |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "char_lm.png").read_bytes()[:4] == b"\x89PNG"
