"""The adding-problem demo end to end on a tiny budget (files, not accuracy)."""

import json

import keras
import numpy as np
import pytest
from conftest import load_example

import keras_lstm_variants  # noqa: F401


def test_data_is_the_adding_problem():
    x, y = load_example("adding_problem").adding_problem(
        np.random.default_rng(0), 500, 20
    )
    assert x.shape == (500, 20, 2) and y.shape == (500, 1)
    markers = x[..., 1]
    np.testing.assert_array_equal(markers.sum(axis=1), 2.0)
    assert (markers[:, :10].sum(axis=1) == 1).all()  # one marker per half
    np.testing.assert_allclose(
        y[:, 0], (x[..., 0] * markers).sum(axis=1), rtol=1e-6
    )
    assert abs(np.var(y) - 1 / 6) < 0.03  # what predicting the mean scores


@pytest.mark.skipif(keras.backend.backend() != "torch",
                    reason="five models: run once per suite, in the PyTorch "
                    "session (every backend runs the demo with one model "
                    "below)")
def test_tiny_run_writes_results_plot_and_model(tmp_path, capsys):
    code = load_example("adding_problem").main([
        "--length", "8", "--steps", "4", "--evaluations", "2", "--units", "3",
        "--batch-size", "4", "--test-size", "16", "--verbose", "0",
        "--backend", keras.backend.backend(), "--output", str(tmp_path),
    ])
    assert code == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["model"] for r in results] == [
        "LSTM", "PeepholeLSTM", "CoupledLSTM", "LayerNormLSTM", "SimpleRNN"
    ]
    for r in results:
        assert {"model", "test_mse", "train_seconds", "parameters"} <= set(r)
        assert np.isfinite(r["test_mse"]) and r["parameters"] > 0
        assert r["curve_steps"] == [2, 4]
    assert (tmp_path / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    best = min(results, key=lambda r: r["test_mse"])
    model = keras.saving.load_model(tmp_path / "best_model.keras")
    assert model.name == best["model"]
    assert "| model | test MSE |" in capsys.readouterr().out


def test_without_matplotlib_the_plot_is_skipped_not_the_model(
    tmp_path, capsys, monkeypatch
):
    # matplotlib is the demo's only optional package: without it the demo
    # says so and still writes, reloads and checks the model.
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code = load_example("adding_problem").main([
        "--length", "6", "--steps", "2", "--evaluations", "1", "--units", "2",
        "--batch-size", "4", "--test-size", "8", "--verbose", "0",
        "--variants", "LSTM", "--backend", keras.backend.backend(),
        "--output", str(tmp_path),
    ])
    assert code == 0
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not (tmp_path / "learning_curves.png").exists()
    assert (
        json.loads((tmp_path / "results.json").read_text())[0]["model"]
        == "LSTM"
    )
    assert keras.saving.load_model(tmp_path / "best_model.keras").name == "LSTM"
