"""Merges what `benchmarks/gpu.sh` measured into one Markdown table and one
JSON file: `gpu_report.py WORK OUTPUT` reads WORK/check.jsonl and
WORK/bench/*.json and writes OUTPUT/gpu.md and OUTPUT/gpu.json."""

import json
import pathlib
import platform
import sys

# Train step / keras.layers.LSTM in the same run, per layer (issue #24).
TARGETS = {"LSTM": 1.05, "CoupledLSTM": 1.05, "PeepholeLSTM": 3.0,
           "LayerNormLSTM": 4.0}


def main(work, output):
    work, output = pathlib.Path(work), pathlib.Path(output)
    checks = []
    if (work / "check.jsonl").exists():
        checks = [json.loads(line) for line in
                  (work / "check.jsonl").read_text().splitlines() if line]
    runs = [
        json.loads(p.read_text())
        for p in sorted((work / "bench").glob("*.json"))
    ]
    lines = ["# GPU benchmark (benchmarks/gpu.sh)", ""]
    if runs:
        first = runs[0]
        lines += [
            f"{first['date']} · {first['device']} · Keras {first['keras']} · "
            + ", ".join(f"{r['backend']} {r['backend_version']}" for r in runs
                        if r["policy"] == "float32")
            + f" · Python {platform.python_version()} · median of "
            f"{first['rounds']} rounds x {first['calls']} calls",
            "",
        ]
    lines += [
        "## Fused kernel check (against the portable loop, same weights)",
        "",
        "| backend | layer | fused kernel ran | max output diff "
        "| max gradient diff |",
        "|---|---|---|---:|---:|",
    ]
    for c in checks:
        lines.append(
            f"| {c['backend']} | {c['layer']} | {c['fused_kernel_ran']} | "
            f"{c['max_abs_output_difference']:.2e} | "
            f"{c['max_abs_gradient_difference']:.2e} |"
        )
    lines += [
        "",
        "## Step time / keras.layers.LSTM (cuDNN), same run",
        "",
        "| backend | policy | shape (B, T, D, U) | layer | train ms "
        "| train / keras | target | infer ms | infer / keras |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        for row in run["rows"]:
            ratio = row["train_ratio"]
            target = TARGETS.get(row["layer"])
            mark = "" if target is None or ratio is None else (
                " ✓" if ratio <= target else " ✗")
            train = "—" if ratio is None else f"{ratio:.2f}{mark}"
            infer = row["infer_ratio"]
            infer = "—" if infer is None else f"{infer:.2f}"
            limit = "" if target is None else f"<= {target}"
            lines.append(
                f"| {run['backend']} | {run['policy']} | {tuple(row['BTDU'])} "
                f"| {row['layer']} | {row['train_ms']:.2f} | {train} | "
                f"{limit} | {row['infer_ms']:.2f} | {infer} |"
            )
    output.mkdir(parents=True, exist_ok=True)
    (output / "gpu.md").write_text("\n".join(lines) + "\n")
    (output / "gpu.json").write_text(
        json.dumps({"checks": checks, "runs": runs, "targets": TARGETS},
                   indent=1) + "\n"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main(*sys.argv[1:3])
