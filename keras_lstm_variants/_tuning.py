"""Every measured switch of the package, in one place.

Each choice below was set by a benchmark and names the section of
`benchmarks/RESULTS.md` (or the committed result table) that holds its
figures; the figures themselves live there, not here, so that a rerun
changes one table and, if the choice moves, one line of this module. The
modules that act on a switch import it from here; tests may patch the
dictionaries in place.
"""

# How the LSTM family's loop computes the gate pre-activations, per way
# the loop runs (`backends.loop_context`): "xla" is any loop XLA compiles
# (JAX always, TensorFlow under jit_compile=True), "tensorflow" TensorFlow's
# graph executor, "torch" eager PyTorch; elsewhere "step". "stacked": one
# [x_t, h_{t-1}] @ [W; U] matmul per step; "step": x_t W and h_{t-1} U per
# step, as keras.layers.LSTMCell; "hoist": x W for all steps before the
# loop (`_lstm_layer.LOOP_STRATEGIES`).
# RESULTS.md, "What was tried (the loop strategies)"
# (benchmarks/bench_layers.py --ablation).
LOOP_STRATEGY = {"xla": "stacked", "tensorflow": "step", "torch": "step"}

# Under XLA, "stacked" only while the stacked kernel [W; U] has at most
# this many elements, per backend (the XLA of jaxlib and of TensorFlow
# differ); past it the two matmuls of "step" train faster.
# RESULTS.md, "What was tried (the loop strategies)", and
# benchmarks/results/ablation/strategies.md.
STACKED_KERNEL_LIMIT = {"jax": 2**18, "tensorflow": 2**20}

# LayerNormLSTM: whether the loop centres the kernels once per sequence
# (its normalisations of x W and h U then only scale) or centres the
# projections at every step, per way the loop runs. In TensorFlow's graph
# executor the backward pass is slower with the centred kernels (tensors
# the loop captures, where it otherwise reads the variables).
# RESULTS.md, "Centred kernels" (benchmarks/profile_layer_norm.py).
CENTRE_KERNELS = {"xla": True, "tensorflow": False, "torch": True}

# The LSTM layers (use_cudnn="auto"): the fused kernel of their standard
# form from this many steps on (None: never), per device and backend; the
# kernel itself may still decline a call (`backends`). On a CPU: PyTorch's
# native LSTM op, RESULTS.md, "PyTorch's native LSTM op on CPU"
# (benchmarks/results/torch_native/all_shapes.md); OpenVINO's LSTM sequence
# op, RESULTS.md, "OpenVINO" (benchmarks/bench_openvino.py); cuDNN runs on
# an NVIDIA GPU only, and NumPy has no kernel. On an accelerator, the kernel
# wherever it runs, as keras.layers.LSTM takes cuDNN.
FUSED_FROM_STEPS = {
    "cpu": {"jax": None, "tensorflow": None, "torch": 1, "openvino": 1},
    "accelerator": {"jax": 1, "tensorflow": 1, "torch": 1},
}

# The GRU layers (use_cudnn="auto"): as FUSED_FROM_STEPS, for the standard
# GRU form's kernels. On a CPU: PyTorch's native GRU op, and Keras's JAX GRU
# op (a hoisted lax.scan, which keras.layers.GRU takes there and which the
# loop beats), each against the loop, RESULTS.md, "The GRU family"
# (benchmarks/bench_layers.py --reference keras.GRU, "GRU" against
# "GRU[step]"); OpenVINO's GRU sequence op as keras.layers.GRU takes it;
# cuDNN on an NVIDIA GPU only.
FUSED_GRU_FROM_STEPS = {
    "cpu": {"jax": None, "tensorflow": None, "torch": 1, "openvino": 1},
    "accelerator": {"jax": 1, "tensorflow": 1, "torch": 1},
}

# MinLSTM, MinGRU: mode="auto" runs the parallel scan from this many steps
# on, the step loop below it (None: never), per device and backend. CPU:
# RESULTS.md, "Minimal RNNs: parallel scan against step loop"
# (benchmarks/bench_min_rnn.py; benchmarks/results/min_rnn/). A GPU or TPU
# is not measured here: the paper's GPU runtimes (its Figure 1) have the
# scan faster at every length from 64. A sequence of unknown length while
# the layer is traced runs the step loop.
SCAN_FROM_STEPS = {
    "cpu": {"jax": None, "tensorflow": None, "torch": 64},
    "accelerator": {"jax": 64, "tensorflow": 64, "torch": 64},
}

# MLSTM: mode="auto" runs the stabilised parallel form from this many steps
# on (None: never), the step loop below it, per device and backend, where
# CHUNKWISE_FROM_STEPS does not take over. CPU: benchmarks/results/
# mlstm_short/ (bench_mlstm.py, 2026-12-02, all three backends in one run;
# TensorFlow measured for the first time): at T = 64 the parallel form
# trains 2.5x (JAX), 4.5x (TensorFlow) and 16x (PyTorch) faster than the
# step loop. On a GPU or TPU the parallel form is the official code's
# training path.
PARALLEL_FROM_STEPS = {
    "cpu": {"jax": 1, "tensorflow": 1, "torch": 1},
    "accelerator": {"jax": 1, "tensorflow": 1, "torch": 1},
}

# MLSTM and MLSTMBlock: mode="auto" runs the chunkwise form (chunk_size
# steps per chunk) from this many steps on (None: never), before
# PARALLEL_FROM_STEPS is asked. CPU: benchmarks/results/mlstm_short/ and
# mlstm_long/ (T = 64 to 16384, chunks of 64): the parallel form is faster
# at 64, the chunkwise from 256 on every backend (at 1024 it trains
# 7.5-16x faster than the parallel form, in a third to a sixth of its
# memory). Not measured on a GPU: the parallel form stays there.
CHUNKWISE_FROM_STEPS = {
    "cpu": {"jax": 256, "tensorflow": 256, "torch": 256},
    "accelerator": {"jax": None, "tensorflow": None, "torch": None},
}
