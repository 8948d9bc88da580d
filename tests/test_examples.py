"""The dataset examples end to end on tfds mock data (the real loading code)."""

import json

import keras
import pytest
from conftest import load_example

import keras_lstm_variants  # noqa: F401

tfds = pytest.importorskip("tensorflow_datasets")  # installed by `make test`


def _check_outputs(folder):
    history = json.loads((folder / "history.json").read_text())
    assert len(history["loss"]) == 1 and "val_accuracy" in history
    assert (folder / "training.png").read_bytes()[:4] == b"\x89PNG"
    return keras.saving.load_model(folder / "model.keras")


COMMON = ["--epochs", "1", "--units", "4", "--batch-size", "4", "--verbose", "0"]


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["LSTM", "LayerNormLSTM"])
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
@pytest.mark.parametrize("options, steps", [([], 28), (["--pixels", "--permute"], 784)])
def test_handwriting_on_mock_data(tmp_path, options, steps):
    with tfds.testing.mock_data(num_examples=8):
        code = load_example("handwriting").main(COMMON + options + [
            "--variant", "CoupledLSTM",
            "--backend", keras.backend.backend(), "--output", str(tmp_path),
        ])
    assert code == 0
    model = _check_outputs(tmp_path)
    assert model.input_shape[1] == steps and model.output_shape == (None, 10)


def test_missing_data_gives_a_message_not_a_traceback(tmp_path, capsys, monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'ai.stanford.edu'")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(SystemExit) as exit_info:
        load_example("handwriting").main(["--data-dir", str(tmp_path), "--backend", keras.backend.backend()])
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert "Could not load the 'mnist' dataset" in message
    assert "--data-dir" in message and "ConnectionError" in message
