"""Train, convert to LiteRT's fused LSTM op (float and int8), run on device.

Each variant (32 units, then a 10-way softmax) learns scikit-learn's
digits, offline (8 steps of one 8-pixel row). `keras_lstm_variants.litert`
converts the model to a `.tflite` file in which the layer is one
`UNIDIRECTIONAL_SEQUENCE_LSTM` op, in float32 and in full-integer int8
(calibrated on 200 training images); each file then classifies the 540 test
images in LiteRT's interpreter and, where its kernel runs the variant, in
the microcontroller interpreter of `tflite-micro`. Reported per variant:
the accuracy of Keras and of each runtime, the largest difference between
the float file's outputs and `model.predict`, and the file sizes.

    python examples/on_device.py --output on_device        # about 2 minutes

TensorFlow backend only (the converter is TensorFlow's): the script
selects it. Needs
`pip install "keras-lstm-variants[tensorflow,export,examples]"`.
"""

import argparse
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import _common  # noqa: E402
import numpy as np  # noqa: E402

# name -> (layer class, arguments); what the study of each variant needs.
VARIANTS = {
    "LSTM": ("LSTM", {}),
    "PeepholeLSTM": ("PeepholeLSTM", {}),
    "CoupledLSTM": ("CoupledLSTM", {}),
    "CoupledLSTM+peepholes": ("CoupledLSTM", {"use_peepholes": True}),
    "LSTM+projection+clips": (
        "LSTM",
        {"projection_units": 16, "cell_clip": 3.0, "projection_clip": 1.0},
    ),
}


def build(name, units, seed):
    import keras

    import keras_lstm_variants as klv

    class_name, arguments = VARIANTS[name]
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8))
    layer = getattr(klv, class_name)(units, **arguments)
    outputs = keras.layers.Dense(10, activation="softmax")(layer(inputs))
    return keras.Model(inputs, outputs)


def micro_supported(name):
    """Whether tflite-micro's LSTM kernel runs the variant: its kernel has
    no peephole, projection or CIFG operands (LSTM and CoupledLSTM, whose
    coupled gate is written with the standard gates, run)."""
    _, arguments = VARIANTS[name]
    return name in ("LSTM", "CoupledLSTM") and not arguments


def study(name, data, epochs, units, seed, calibration):
    import keras

    from keras_lstm_variants import litert

    x_train, y_train, x_test, y_test = data
    model = build(name, units, seed)
    model.compile(
        keras.optimizers.Adam(3e-3),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0)
    train_seconds = time.perf_counter() - start
    expected = model.predict(x_test, verbose=0)

    def representative():
        for image in x_train[:calibration]:
            yield [image[None].astype("float32")]

    files = {
        "float32": litert.convert(model),
        "int8": litert.convert(
            model, quantize="int8", representative_dataset=representative
        ),
    }
    row = {
        "variant": name,
        "keras_accuracy": _accuracy(expected, y_test),
        "train_seconds": round(train_seconds, 1),
    }
    for kind, flatbuffer in files.items():
        row[f"{kind}_bytes"] = len(flatbuffer)
        # Each image a new sequence (zero state); int8 files quantize the
        # inputs and dequantize the outputs with their own scales.
        scores = litert.run(flatbuffer, x_test)
        row[f"litert_{kind}_accuracy"] = _accuracy(scores, y_test)
        if kind == "float32":
            row["float32_max_abs_diff"] = float(np.abs(scores - expected).max())
        else:
            row["int8_agreement"] = float(
                np.mean(scores.argmax(-1) == expected.argmax(-1))
            )
        if micro_supported(name):
            micro = litert.run(flatbuffer, x_test, runtime="micro")
            row[f"micro_{kind}_accuracy"] = _accuracy(micro, y_test)
            row[f"micro_{kind}_max_abs_diff_to_litert"] = float(
                np.abs(micro - scores).max()
            )
    return row


def _accuracy(scores, labels):
    return float(np.mean(scores.argmax(-1) == labels))


def markdown(rows):
    def percent(row, key):
        return f"{100 * row[key]:.1f}" if key in row else "n/a"

    lines = [
        "| variant | Keras | LiteRT float | LiteRT int8 | micro float "
        "| micro int8 | float vs Keras (max abs) | int8 = float class "
        "| float KiB | int8 KiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['variant']} | {percent(row, 'keras_accuracy')} "
            f"| {percent(row, 'litert_float32_accuracy')} "
            f"| {percent(row, 'litert_int8_accuracy')} "
            f"| {percent(row, 'micro_float32_accuracy')} "
            f"| {percent(row, 'micro_int8_accuracy')} "
            f"| {row['float32_max_abs_diff']:.1e} "
            f"| {percent(row, 'int8_agreement')} "
            f"| {row['float32_bytes'] / 1024:.1f} "
            f"| {row['int8_bytes'] / 1024:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--output", default="on_device",
                        help="folder for results.json and results.md")
    parser.add_argument("--epochs", type=int, default=20,
                        help="training epochs of each model")
    parser.add_argument("--units", type=int, default=32,
                        help="units of each layer")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the weights")
    parser.add_argument("--calibration", type=int, default=200,
                        help="training images that calibrate int8")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS),
                        choices=list(VARIANTS), metavar="VARIANT",
                        help="any of: " + ", ".join(VARIANTS))
    parser.add_argument("--test-images", type=int, default=None,
                        help="classify only the first N test images "
                        "(None: all 540)")
    args = parser.parse_args(argv)
    _common.require("on_device.py", "tensorflow", "ai_edge_litert",
                    "tflite_micro", "sklearn")
    if "keras" not in sys.modules:  # the converter is TensorFlow's
        os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras

    if keras.backend.backend() != "tensorflow":
        parser.error("the LiteRT converter needs the TensorFlow backend; "
                     f"Keras runs {keras.backend.backend()} here")
    from _common import load_digits

    x_train, y_train, x_test, y_test = load_digits()
    if args.test_images:
        x_test, y_test = x_test[: args.test_images], y_test[: args.test_images]
    data = (x_train, y_train, x_test, y_test)
    rows = []
    for name in args.variants:
        rows.append(
            study(name, data, args.epochs, args.units, args.seed,
                  args.calibration)
        )
        print(json.dumps(rows[-1]), flush=True)
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    (output / "results.md").write_text(markdown(rows))
    print(markdown(rows))
    return rows


if __name__ == "__main__":
    main()
