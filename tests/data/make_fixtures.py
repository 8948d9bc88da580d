"""Writes the saved-model fixtures of the current release into tests/data/.

Run by hand, once per release, from the repository root:

    KERAS_BACKEND=tensorflow .venv/bin/python tests/data/make_fixtures.py

Then commit the new `v<version>/` folder. Never regenerate an existing
folder: `tests/test_saved_files.py` loads every folder forever after, so a
change that breaks users' saved models fails CI.
"""

import json
import pathlib

import keras
import numpy as np

import keras_lstm_variants as klv

HERE = pathlib.Path(__file__).parent
TIMESTEPS, FEATURES = 7, 3

# Each layer with non-default arguments that change its numbers or config,
# and each cell inside keras.layers.RNN inside Bidirectional.
MODELS = {
    "lstm": lambda: klv.LSTM(5, return_sequences=True, unit_forget_bias=False),
    "peephole_lstm": lambda: klv.PeepholeLSTM(5, go_backwards=True),
    "coupled_lstm": lambda: klv.CoupledLSTM(
        5, use_peepholes=True, return_sequences=True, dropout=0.1, seed=3
    ),
    "layer_norm_lstm": lambda: klv.LayerNormLSTM(
        5, norm_epsilon=1e-2, carry_normalized_state=True, return_sequences=True
    ),
    "bidirectional_lstm_cell": lambda: keras.layers.Bidirectional(
        keras.layers.RNN(klv.LSTMCell(4), return_sequences=True)
    ),
    "bidirectional_peephole_lstm_cell": lambda: keras.layers.Bidirectional(
        keras.layers.RNN(klv.PeepholeLSTMCell(4))
    ),
    "bidirectional_coupled_lstm_cell": lambda: keras.layers.Bidirectional(
        keras.layers.RNN(klv.CoupledLSTMCell(4), return_sequences=True),
        merge_mode="sum",
    ),
    "bidirectional_layer_norm_lstm_cell": lambda: keras.layers.Bidirectional(
        keras.layers.RNN(klv.LayerNormLSTMCell(4, norm_epsilon=1e-2))
    ),
    # Since 0.2.0: the shared options' weights, and the newer families.
    "lstm_projected": lambda: klv.LSTM(
        5, return_sequences=True, projection_units=3, projection_clip=0.4,
        output_zoneout=0.25,
    ),
    "slstm": lambda: klv.SLSTM(4, num_heads=2, return_sequences=True),
    "mlstm": lambda: klv.MLSTM(4, num_heads=2, return_sequences=True),
    "min_lstm": lambda: klv.MinLSTM(5, go_backwards=True),
    "min_gru": lambda: klv.MinGRU(5, return_sequences=True),
}


def build(name):
    inputs = keras.Input((TIMESTEPS, FEATURES), name="sequences")
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    return keras.Model(inputs, MODELS[name]()(masked), name=name)


def main():
    folder = HERE / f"v{klv.__version__}"
    if folder.exists():
        raise SystemExit(f"{folder} exists: fixtures of a release are frozen.")
    folder.mkdir()
    rng = np.random.default_rng(2026)
    x = rng.normal(size=(4, TIMESTEPS, FEATURES)).astype("float32")
    x[1, 5:] = 0.0  # right padding, masked by the Masking layer
    x[2, :2] = 0.0  # left padding
    arrays = {"inputs": x}
    for name in MODELS:
        keras.utils.set_random_seed(7)
        model = build(name)
        # Non-trivial weights: the initial ones, with every gain and bias moved.
        model.set_weights(
            [
                w + rng.normal(0, 0.3, w.shape).astype(w.dtype)
                for w in model.get_weights()
            ]
        )
        model.save(folder / f"{name}.keras")
        arrays[name] = keras.ops.convert_to_numpy(model(x, training=False))
    np.savez(folder / "expected.npz", **arrays)
    (folder / "versions.json").write_text(
        json.dumps(
            {
                "keras_lstm_variants": klv.__version__,
                "keras": keras.__version__,
                "backend": keras.backend.backend(),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {folder}")


if __name__ == "__main__":
    main()
