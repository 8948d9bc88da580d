"""Each layer on device: ops in the .tflite file, its size, LiteRT latency.

For every layer (T=50 steps of D=16 features, 32 units, a Dense(10) head,
batch 1; the weights are random: accuracy is measured by
examples/on_device.py) and each route to LiteRT:

- `fused`: `keras_lstm_variants.litert.convert`, one fused LSTM op;
- `while`: `tf.lite.TFLiteConverter.from_keras_model` on the layer as it is
  (the converter's own route: a `WHILE` loop);
- `unrolled`: the layer with `unroll=True` through the same converter;
- `keras2`: Keras 2's fused `LSTM` (`tf_keras`), where it applies;

in float32 and full-integer int8 (`TFLITE_BUILTINS_INT8`, calibrated on 64
random sequences), each conversion in its own process (a converter crash is
recorded, not fatal). Latency: LiteRT's interpreter, one thread, states
reset before each invocation; all files are timed side by side in one
process, in 20 interleaved rounds of 25 invocations each, and each file's
figure is its median round (per invocation), so that the machine's noise
falls on every file alike.

    python benchmarks/bench_litert.py --output benchmarks/results/litert
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

STEPS, FEATURES, UNITS, CLASSES = 50, 16, 32, 10
LAYERS = {
    "LSTM": ("LSTM", {}),
    "PeepholeLSTM": ("PeepholeLSTM", {}),
    "CoupledLSTM": ("CoupledLSTM", {}),
    "CoupledLSTM+peepholes": ("CoupledLSTM", {"use_peepholes": True}),
    "LSTM+projection+clips": (
        "LSTM",
        {"projection_units": 16, "cell_clip": 3.0, "projection_clip": 1.0},
    ),
    "LayerNormLSTM": ("LayerNormLSTM", {}),
    "keras.layers.LSTM": (None, {}),
}
ROUTES = ("fused", "while", "unrolled", "keras2")
QUANTIZATIONS = ("float32", "int8")


def applies(layer, route):
    if route == "keras2":
        return layer == "keras.layers.LSTM"
    if route == "fused":
        return layer not in ("LayerNormLSTM", "keras.layers.LSTM")
    return True


def _model(layer, unroll):
    import keras

    import keras_lstm_variants as klv

    keras.utils.set_random_seed(0)
    class_name, arguments = LAYERS[layer]
    make = keras.layers.LSTM if class_name is None else getattr(klv, class_name)
    inputs = keras.Input((STEPS, FEATURES), batch_size=1)
    outputs = make(UNITS, unroll=unroll, **arguments)(inputs)
    return keras.Model(inputs, keras.layers.Dense(CLASSES)(outputs))


def _keras2_model():
    import tf_keras

    tf_keras.utils.set_random_seed(0)
    inputs = tf_keras.Input((STEPS, FEATURES), batch_size=1)
    outputs = tf_keras.layers.LSTM(UNITS)(inputs)
    return tf_keras.Model(inputs, tf_keras.layers.Dense(CLASSES)(outputs))


def _calibration():
    import numpy as np

    rng = np.random.default_rng(1)
    for _ in range(64):
        yield [rng.normal(size=(1, STEPS, FEATURES)).astype("float32")]


def convert(layer, route, quantization):
    """The flatbuffer of one (layer, route, quantization)."""
    import tensorflow as tf

    if route == "fused":
        from keras_lstm_variants import litert

        return litert.convert(
            _model(layer, unroll=False),
            quantize=None if quantization == "float32" else "int8",
            representative_dataset=_calibration,
        )
    model = (
        _keras2_model() if route == "keras2"
        else _model(layer, unroll=route == "unrolled")
    )
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _calibration
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8
        ]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def _interpreter(flatbuffer):
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer, num_threads=1)
    interpreter.allocate_tensors()
    (given,) = interpreter.get_input_details()
    interpreter.set_tensor(
        given["index"], np.zeros(given["shape"], given["dtype"])
    )
    return interpreter


def describe(flatbuffer):
    interpreter = _interpreter(flatbuffer)
    ops = [op["op_name"] for op in interpreter._get_ops_details()]
    return {"ops": _op_summary(ops), "bytes": len(flatbuffer)}


def time_side_by_side(flatbuffers, rounds=20, per_round=25):
    """Median seconds per invocation of each flatbuffer, interleaved."""
    import numpy as np

    interpreters = [_interpreter(f) for f in flatbuffers]
    for interpreter in interpreters:  # warm-up
        for _ in range(per_round):
            interpreter.reset_all_variables()
            interpreter.invoke()
    seconds = [[] for _ in interpreters]
    for _ in range(rounds):
        for k, interpreter in enumerate(interpreters):
            start = time.perf_counter()
            for _ in range(per_round):
                interpreter.reset_all_variables()
                interpreter.invoke()
            seconds[k].append((time.perf_counter() - start) / per_round)
    return [float(np.median(s)) for s in seconds]


def _op_summary(ops):
    counts = {}
    for op in ops:
        if op != "DELEGATE":
            counts[op] = counts.get(op, 0) + 1
    return ", ".join(
        f"{op}" + (f" x{n}" if n > 1 else "") for op, n in counts.items()
    )


def one(layer, route, quantization, path):
    """Runs in a child process: converts, writes the file."""
    pathlib.Path(path).write_bytes(convert(layer, route, quantization))


def run_child(layer, route, quantization, path):
    """The file's description, or the converter's error."""
    environment = dict(os.environ, KERAS_BACKEND="tensorflow")
    if route == "keras2":
        environment["TF_USE_LEGACY_KERAS"] = "1"
    child = subprocess.run(
        [sys.executable, __file__, "--one", layer, route, quantization, path],
        capture_output=True, text=True, env=environment,
    )
    if child.returncode == 0:
        return describe(pathlib.Path(path).read_bytes())
    if child.returncode < 0:
        return {"error": f"converter crashed (signal {-child.returncode})"}
    tail = (child.stderr.strip().splitlines() or ["(no output)"])[-1]
    return {"error": tail[:200]}


def markdown(rows):
    lines = [
        "| layer | route | ops (float32) | float32 KiB | float32 µs "
        "| int8 KiB | int8 µs |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        f, q = row["float32"], row["int8"]

        def cell(result, key, scale=1.0, digits=1):
            if "error" in result:
                return "fails" if key == "bytes" else "–"
            return f"{result[key] / scale:.{digits}f}"

        ops = f.get("ops", f"fails: {f.get('error', '')}")
        if "error" in q:
            q_note = f" (int8: {q['error']})"
        else:
            q_note = ""
        lines.append(
            f"| {row['layer']} | {row['route']} | {ops}{q_note} "
            f"| {cell(f, 'bytes', 1024)} | {cell(f, 'latency_us', 1, 0)} "
            f"| {cell(q, 'bytes', 1024)} | {cell(q, 'latency_us', 1, 0)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="benchmarks/results/litert")
    parser.add_argument("--layers", nargs="+", default=list(LAYERS),
                        choices=list(LAYERS))
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
        return one(*args.one)
    import tempfile

    rows, timed = [], []
    with tempfile.TemporaryDirectory() as directory:
        for layer in args.layers:
            for route in ROUTES:
                if not applies(layer, route):
                    continue
                row = {"layer": layer, "route": route}
                for quantization in QUANTIZATIONS:
                    path = str(pathlib.Path(directory) / f"{len(timed)}.tflite")
                    row[quantization] = run_child(
                        layer, route, quantization, path
                    )
                    if "error" not in row[quantization]:
                        timed.append((row[quantization], path))
                rows.append(row)
                print(json.dumps(row), flush=True)
        latencies = time_side_by_side(
            [pathlib.Path(p).read_bytes() for _, p in timed]
        )
    for (result, _), seconds in zip(timed, latencies, strict=True):
        result["latency_us"] = seconds * 1e6
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    import platform

    import tensorflow as tf

    meta = {
        "steps": STEPS, "features": FEATURES, "units": UNITS,
        "tensorflow": tf.__version__, "machine": platform.processor()
        or platform.machine(), "cpus": os.cpu_count(),
    }
    (output / "results.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n"
    )
    (output / "results.md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()
