"""benchmarks/bench_layers.py runs and writes what it promises (no timings)."""

import importlib.util
import json
import pathlib

import keras
import pytest

SCRIPT = pathlib.Path(__file__).parents[1] / "benchmarks" / "bench_layers.py"


def _load(name="bench_layers"):
    path = SCRIPT.with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_writes_table_json_and_plot(tmp_path, capsys):
    bench = _load()
    backend = keras.backend.backend()
    # Every loop strategy of every layer in one session (the cheapest to
    # compile); the others time the layers as they run by default (each
    # strategy of LSTM is timed on every backend below).
    ablation = backend == "torch"
    result = bench.main(
        ["--quick", "--backend", backend, "--output", str(tmp_path)]
        + ["--ablation"] * ablation
    )
    stem = tmp_path / f"{backend}-jit_auto"
    table = stem.with_suffix(".md").read_text()
    assert table in capsys.readouterr().out
    assert json.loads(stem.with_suffix(".json").read_text()) == result
    assert stem.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"

    layers = [row["layer"] for row in result["rows"]]
    assert layers[0] == "keras.LSTM"
    if ablation:
        expected = {"LSTM [stacked]", "LSTM [hoist]", "LayerNormLSTM [step]"}
        assert expected <= set(layers)
        assert "LayerNormLSTM [stacked]" not in layers  # no stacked step
    else:
        assert layers == list(bench.LAYERS)
    for row in result["rows"]:
        assert row["train_ms"] > 0 and row["infer_ms"] > 0
        assert f"| {row['layer']} |" in table
    assert result["rows"][0]["train_ratio"] == 1.0


def test_matmul_flops_count_the_gate_blocks():
    bench = _load()
    shape = (2, 3, 5, 7)  # B, T, D, U
    assert bench.matmul_flops("LSTM", shape) == 2 * 2 * 3 * (5 + 7) * 4 * 7
    assert (
        bench.matmul_flops("CoupledLSTM [step]", shape)
        == 2 * 2 * 3 * 12 * 3 * 7
    )


def test_the_sweeps_find_the_crossover_from_their_rows():
    # Faster at 64, slower at 256, faster from 1024 on: the crossover is
    # 1024 (faster at every longer T), and never when the longest is slower.
    min_rnn, mlstm = _load("bench_min_rnn"), _load("bench_mlstm")
    scan_over_step = {64: 0.5, 256: 2.0, 1024: 0.9, 4096: 0.3}
    rows = []
    for steps, ratio in scan_over_step.items():
        rows += [
            {"T": steps, "layer": "MinGRU [scan]", "train_ms": ratio,
             "infer_ms": 2.0},
            {"T": steps, "layer": "MinGRU [step]", "train_ms": 1.0,
             "infer_ms": 1.0},
            {"T": steps, "layer": "keras.GRU", "train_ms": 0.1,
             "infer_ms": 0.1},
        ]
    result = {"rows": rows}
    assert min_rnn.crossover(result, "MinGRU", "train") == 1024
    assert min_rnn.crossover(result, "MinGRU", "infer") is None
    rows = [
        {"T": steps, "mode": mode, "train_ms": time, "infer_ms": 1.0,
         "peak_mib": 1.0}
        for steps, ratio in scan_over_step.items()
        for mode, time in (("parallel", ratio), ("step", 1.0))
    ]
    assert mlstm.crossover({"rows": rows}, "train_ms") == 1024
    assert mlstm.crossover({"rows": rows}, "infer_ms") is None
    # The chunkwise form's own crossover; a run not started is no evidence.
    rows += [
        {"T": 64, "mode": "chunkwise", "train_ms": 2.0, "infer_ms": 2.0,
         "peak_mib": 1.0},
        {"T": 256, "mode": "chunkwise", "train_ms": 0.5, "infer_ms": 2.0,
         "peak_mib": 1.0},
        {"T": 1024, "mode": "chunkwise", "skipped": "over 900 s"},
    ]
    assert mlstm.crossover({"rows": rows}, "train_ms", "chunkwise") == 256
    assert mlstm.crossover({"rows": rows}, "infer_ms", "chunkwise") is None
    table = mlstm.markdown({
        "rows": rows, "date": "d", "backend": "jax", "backend_version": "v",
        "keras": "k", "device": "cpu", "batch": 1, "units": 2, "heads": 1,
        "rounds": 1,
    })
    assert "| 1024 | chunkwise | not run: over 900 s |" in table


def test_custom_shapes_parse(capsys):
    bench = _load()
    assert bench.shape_list("small,2:3:4:5") == {
        "small": (64, 100, 64, 128),
        "2:3:4:5": (2, 3, 4, 5),
    }


def test_layer_names_may_name_a_loop_strategy():
    bench = _load()
    assert bench.layer_name("LSTM") == "LSTM"
    assert bench.layer_name("LSTM[step]") == "LSTM [step]"
    assert bench.layer_name("CoupledLSTM [stacked]") == "CoupledLSTM [stacked]"
    assert bench.layer_name("GRU[step]") == "GRU [step]"  # the loop
    for wrong in ("BiGRU", "LSTM[fast]", "keras.LSTM[step]", "GRU[hoist]"):
        with pytest.raises(SystemExit, match="--layers"):
            bench.layer_name(wrong)
    assert bench.layer_name(" LSTM ") == "LSTM"


def test_ablation_times_every_strategy_once_per_layer(tmp_path):
    bench = _load()
    result = bench.main(
        ["--quick", "--ablation", "--layers", "LSTM[step],LSTM",
         "--backend", keras.backend.backend(), "--output", str(tmp_path)]
    )
    assert [row["layer"] for row in result["rows"]] == [
        "keras.LSTM", "LSTM [stacked]", "LSTM [step]", "LSTM [hoist]"
    ]


@pytest.mark.slow
def test_gpu_script_dry_run_checks_and_writes_its_tables(tmp_path):
    """`benchmarks/gpu.sh --dry-run`: the GPU script on CPU with the test
    environment, one tiny shape. Run once, in the PyTorch session (it starts
    JAX and PyTorch processes of its own whatever the session's backend):
    both backends' fused-kernel checks, one timed backend and policy."""
    import subprocess

    if keras.backend.backend() != "torch":
        pytest.skip("run once per suite, in the PyTorch session")
    root = SCRIPT.parents[1]
    venv_python = root / ".venv" / "bin" / "python"
    if not venv_python.exists():
        pytest.skip(f"gpu.sh --dry-run uses the test environment {venv_python}")
    result = subprocess.run(
        ["bash", str(root / "benchmarks" / "gpu.sh"), "--dry-run",
         str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=root,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "gpu.json").read_text())
    checks = {(c["backend"], c["layer"]): c for c in report["checks"]}
    # The fused routes' numbers against the loop's, on this CPU: PyTorch's
    # native op runs here; cuDNN (JAX) declines without a GPU.
    assert checks["torch", "LSTM"]["fused_kernel_ran"]
    assert checks["torch", "CoupledLSTM"]["fused_kernel_ran"]
    for check in checks.values():
        assert check["max_abs_output_difference"] < 1e-4
    runs = {(r["backend"], r["policy"]) for r in report["runs"]}
    assert runs == {("torch", "mixed_bfloat16")}
    table = (tmp_path / "gpu.md").read_text()
    for layer in ("keras.LSTM", "CoupledLSTM", "LayerNormLSTM"):
        assert f"| {layer} |" in table
    scan = json.loads((tmp_path / "min_rnn" / "torch.json").read_text())
    assert {row["layer"] for row in scan["rows"]} == {
        "MinGRU [scan]", "MinGRU [step]", "keras.GRU",
        "MinLSTM [scan]", "MinLSTM [step]", "keras.LSTM",
    }
    assert all(row["train_ms"] > 0 for row in scan["rows"])


def test_xlstm_bench_times_ours_and_the_official_stack(tmp_path):
    """benchmarks/bench_xlstm.py --quick: both layouts, ours and the
    official stack, the same numbers (the official module is the truth),
    the table written. Once, in the TensorFlow session."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("run once per suite, in the TensorFlow session")
    pytest.importorskip("xlstm")
    bench = _load("bench_xlstm")
    assert bench.main(["--quick", "--backend", "tensorflow",
                       "--output", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "tensorflow.json").read_text())
    table = (tmp_path / "tensorflow.md").read_text()
    assert [row["layout"] for row in result["rows"]] == list(bench.LAYOUTS)
    for row in result["rows"]:
        assert row["max_abs_difference"] < 1e-4
        for key in ("ours_infer_ms", "ours_train_ms", "official_infer_ms",
                    "official_train_ms"):
            assert row[key] > 0
        assert f"| {row['layout']} |" in table
