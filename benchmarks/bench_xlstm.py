"""xLSTM's stack: ours against the official `xlstm` package, one machine.

Builds the official `xLSTMBlockStack` (PyTorch; its sLSTM on the
pure-PyTorch "vanilla" backend, since the CUDA one compiles its own kernels,
and its mLSTM on its default parallel backend) and ours from it with
`migrate.from_xlstm` (the same configuration and weights), then times, in
one process with the rounds alternating:

- inference: ours by `predict_on_batch` (compiled as Keras compiles it on
  this backend), the official under `torch.no_grad()`;
- a training step: forward, mean-squared error against zeros, backward and
  an SGD update; ours by `train_on_batch`.

Two layouts: xLSTM[7:1] (8 blocks, sLSTM second) and xLSTM[1:0] (8 mLSTM
blocks). Ours runs as a user gets it, `mode="auto"` (on a CPU the
chunkwise form from 256 steps, the parallel form below); our times include
copying the NumPy inputs in and the outputs out, as Keras's
`predict_on_batch` and `train_on_batch` do. The ratio is the official
time over ours: above 1, ours is faster. On a GPU, both run there.

    python benchmarks/bench_xlstm.py --backend torch --output out
    python benchmarks/bench_xlstm.py --quick      # seconds: a smoke test

Writes `<output>/<backend>.md` and `.json` and prints the table.
"""

import argparse
import datetime
import json
import os
import pathlib
import statistics
import sys

# bench_layers.py, beside this script, for its timing and machine helpers.
sys.path.insert(0, str(pathlib.Path(__file__).parent))
import bench_layers  # noqa: E402

LAYOUTS = {"xLSTM[7:1]": [1], "xLSTM[1:0]": []}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend", default=os.environ.get("KERAS_BACKEND", "torch"),
        choices=("tensorflow", "jax", "torch"),
    )
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=256,
                        help="sequence length T")
    parser.add_argument("--embedding", type=int, default=128,
                        help="embedding width E")
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", type=pathlib.Path,
                        default=pathlib.Path("bench_output"))
    parser.add_argument("--quick", action="store_true",
                        help="a tiny stack, 1 round: the script only")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.steps, args.embedding = 2, 8, 16
        args.blocks, args.heads, args.rounds = 2, 2, 1
    return args


def official_stack(args, slstm_at):
    from xlstm import xLSTMBlockStack
    from xlstm import xLSTMBlockStackConfig
    from xlstm.blocks.mlstm.block import mLSTMBlockConfig
    from xlstm.blocks.mlstm.layer import mLSTMLayerConfig
    from xlstm.blocks.slstm.block import sLSTMBlockConfig
    from xlstm.blocks.slstm.layer import sLSTMLayerConfig
    from xlstm.components.feedforward import FeedForwardConfig

    return xLSTMBlockStack(xLSTMBlockStackConfig(
        mlstm_block=mLSTMBlockConfig(mlstm=mLSTMLayerConfig(
            num_heads=args.heads, conv1d_kernel_size=4,
            qkv_proj_blocksize=4,
        )),
        slstm_block=sLSTMBlockConfig(
            slstm=sLSTMLayerConfig(
                backend="vanilla", num_heads=args.heads,
                conv1d_kernel_size=4, dtype="float32",
                enable_automatic_mixed_precision=False,
            ),
            feedforward=FeedForwardConfig(proj_factor=1.3, act_fn="gelu"),
        ),
        context_length=args.steps, num_blocks=args.blocks,
        embedding_dim=args.embedding,
        slstm_at=[p for p in slstm_at if p < args.blocks],
    ))


def measure(layout, args, helpers):
    import keras
    import numpy as np
    import torch

    from keras_lstm_variants import migrate

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    official = official_stack(args, LAYOUTS[layout])
    ours = migrate.from_xlstm(official)
    official = official.to(device)
    rng = np.random.default_rng(0)
    shape = (args.batch, args.steps, args.embedding)
    x = rng.standard_normal(shape).astype("float32")
    zeros = np.zeros(shape, "float32")
    inputs = keras.Input(shape[1:], batch_size=args.batch)
    model = keras.Model(inputs, ours(inputs))
    model.compile(keras.optimizers.SGD(1e-3), "mse")
    x_torch = torch.tensor(x, device=device)
    optimizer = torch.optim.SGD(official.parameters(), lr=1e-3)

    def synchronized(function):
        def run():
            function()
            if device == "cuda":
                torch.cuda.synchronize()
        return run

    def official_infer():
        with torch.no_grad():
            official(x_torch)

    def official_train():
        optimizer.zero_grad()
        loss = torch.mean(official(x_torch) ** 2)
        loss.backward()
        optimizer.step()

    # Equal before timing: the same stack.
    with torch.no_grad():
        expected = official(x_torch).cpu().numpy()
    difference = float(np.abs(model.predict_on_batch(x) - expected).max())
    jobs = {
        ("ours", "infer"): lambda: np.asarray(model.predict_on_batch(x)),
        ("ours", "train"): lambda: float(model.train_on_batch(x, zeros)),
        ("official", "infer"): synchronized(official_infer),
        ("official", "train"): synchronized(official_train),
    }
    for job in jobs.values():  # compile and warm up
        job()
    times = {key: [] for key in jobs}
    for _ in range(args.rounds):
        for key, job in jobs.items():
            times[key].append(helpers.time_calls(job, 1))
    row = {"layout": layout, "parameters": int(model.count_params()),
           "max_abs_difference": difference}
    for (who, what), values in times.items():
        row[f"{who}_{what}_ms"] = 1e3 * statistics.median(values)
    for what in ("infer", "train"):
        row[f"{what}_ratio"] = row[f"official_{what}_ms"] / row[
            f"ours_{what}_ms"]
    return row


def markdown(result):
    lines = [
        f"{result['date']}, Keras {result['keras']} on {result['backend']} "
        f"{result['backend_version']}, official `xlstm` "
        f"{result['xlstm']} on PyTorch {result['torch']}; "
        f"{result['device']}. Batch {result['batch']}, T = "
        f"{result['steps']}, E = {result['embedding']}, "
        f"{result['heads']} heads; median of {result['rounds']} rounds.",
        "",
        "| stack | parameters | infer ms, ours / official (ratio) | "
        "train ms, ours / official (ratio) | outputs differ by |",
        "|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['layout']} | {row['parameters']:,} | "
            f"{row['ours_infer_ms']:.1f} / {row['official_infer_ms']:.1f} "
            f"({row['infer_ratio']:.2f}x) | {row['ours_train_ms']:.1f} / "
            f"{row['official_train_ms']:.1f} ({row['train_ratio']:.2f}x) | "
            f"{row['max_abs_difference']:.1e} |"
        )
    lines += ["", "Ratio: the official time over ours (above 1: ours is "
              "faster)."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    os.environ["KERAS_BACKEND"] = args.backend  # before Keras is imported
    import importlib.metadata

    import keras
    import torch

    helpers = bench_layers
    torch.set_num_threads(os.cpu_count() or 1)
    result = {
        "date": datetime.date.today().isoformat(),
        "backend": args.backend, "keras": keras.__version__,
        "backend_version": helpers.backend_version(args.backend),
        "torch": torch.__version__,
        "xlstm": importlib.metadata.version("xlstm"),
        "device": helpers.device_name(args.backend),
        **{k: getattr(args, k) for k in ("batch", "steps", "embedding",
                                         "blocks", "heads", "rounds")},
        "rows": [],
    }
    for layout in LAYOUTS:
        result["rows"].append(measure(layout, args, helpers))
        print(markdown(result).splitlines()[-3], flush=True)
    args.output.mkdir(parents=True, exist_ok=True)
    stem = args.output / args.backend
    stem.with_suffix(".md").write_text(markdown(result))
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
