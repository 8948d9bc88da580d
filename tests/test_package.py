"""The package's public surface: exports, Keras internals, docstring
examples, signatures, and what importing it does."""

import ast
import doctest
import importlib
import importlib.util
import inspect
import os
import pathlib
import pkgutil
import subprocess
import sys

import keras
import pytest
from conftest import VARIANTS

import keras_lstm_variants as klv


def test_all_lists_exactly_the_public_classes():
    public = {
        name
        for name, value in vars(klv).items()
        if isinstance(value, type) and not name.startswith("_")
    }
    # Four variants of 0.1.0, six of Greff et al.'s search space, the two
    # minimal RNNs, sLSTM and mLSTM, the GRU, LayerNormGRU, MGU and Dey &
    # Salem's three GRUs, a cell and a layer each; xLSTM's mLSTM block; the
    # bases (of every cell and layer, of the LSTM family's and of the GRU
    # family's), the error of an incomplete variant and the standard LSTM
    # form; and the search_space, gru_variants, litert and migrate modules.
    assert len(public) == 51
    modules = {"search_space", "gru_variants", "litert", "migrate"}
    assert set(klv.__all__) == public | modules
    assert all(inspect.ismodule(getattr(klv, name)) for name in modules)


def _python(code, **environment):
    """Runs `code` in a new interpreter on this backend; its result."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        env={**os.environ, "KERAS_BACKEND": keras.backend.backend(),
             **environment},
    )


@pytest.mark.slow
def test_import_loads_no_other_backend_and_names_a_missing_one():
    # Importing the package imports no backend beyond what Keras imports
    # (migrate and litert import torch and TensorFlow only when called).
    backends = ("tensorflow", "jax", "torch")
    result = _python(
        "import sys, keras; before = set(sys.modules); "
        "import keras_lstm_variants; "
        f"print(sorted(set(sys.modules) - before & set({backends!r})))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "[]"
    # The backend Keras is told to use is missing (hidden from the import
    # system): the error says so, and how to install and select one,
    # instead of Keras's `No module named ...` from inside Keras.
    backend = keras.backend.backend()
    result = _python(
        f"import sys; sys.modules[{backend!r}] = None; "
        "import keras_lstm_variants"
    )
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("ModuleNotFoundError: Keras's backend "
                              f"'{backend}' is not installed "
                              f"(KERAS_BACKEND={backend})"), message
    assert 'pip install "keras-lstm-variants[jax]"' in message
    assert "export KERAS_BACKEND=" in message


# xLSTM's blocks: sequence layers without `units` (their width is the
# input's).
BLOCKS = (klv.MLSTMBlock, klv.SLSTMBlock, klv.XLSTMBlockStack)
# Every public cell and layer, and the guide's variant (a user's).
CLASSES = sorted(
    {c for v in VARIANTS for c in (v.cell, v.layer)}
    | {
        value
        for value in vars(klv).values()
        if isinstance(value, type)
        and issubclass(value, keras.Layer)
        and value not in (klv.LSTMCellBase, klv.LSTMLayerBase,
                          klv.RNNCellBase, klv.RNNLayerBase, *BLOCKS)
    },
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_signature_shows_every_argument_with_its_default(cls):
    """`help(cls)`, `inspect.signature` and editors see every argument, not
    `**kwargs`: the names are those the constructor takes (its config's),
    the defaults what it uses, the positional ones accepted in order."""
    signature = inspect.signature(cls)
    names = list(signature.parameters)
    assert names[0] == "units" and names[-1] == "kwargs"
    default = cls(4)  # 4: the default heads of MLSTM divide it
    config = default.get_config()
    assert set(names[:-1]) == set(config) - {"name", "trainable", "dtype"}
    defaults = {
        name: p.default
        for name, p in signature.parameters.items()
        if p.default is not p.empty
    }
    positional = [
        p.default
        for p in signature.parameters.values()
        if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is not p.empty
    ]
    explicit = cls(4, **defaults)
    in_order = cls(4, *positional)

    def without_name(config):
        return {k: v for k, v in config.items() if k != "name"}

    assert without_name(explicit.get_config()) == without_name(config)
    assert without_name(in_order.get_config()) == without_name(config)


@pytest.mark.parametrize("cls", BLOCKS, ids=lambda c: c.__name__)
def test_block_signature_is_its_config(cls):
    signature = inspect.signature(cls)
    config = cls().get_config()
    names = set(signature.parameters) - {"kwargs"}
    assert names == set(config) - {"name", "trainable", "dtype"}
    defaults = {
        name: p.default for name, p in signature.parameters.items()
        if p.default is not p.empty
    }
    explicit = cls(**defaults).get_config()
    assert {k: v for k, v in explicit.items() if k != "name"} == {
        k: v for k, v in config.items() if k != "name"
    }


def test_keras_internal_names_still_exist():
    # If this fails, a Keras release moved a name that
    # keras_lstm_variants/_keras_internal.py imports: update that module.
    internal = importlib.import_module("keras_lstm_variants._keras_internal")
    for name in internal.__all__:
        assert callable(getattr(internal, name)), name


def test_tensorflow_xla_marker_still_exists():
    # keras_lstm_variants/backends/tensorflow.py asks TensorFlow whether XLA
    # the graph being traced; if TensorFlow moves that, the loop would
    # silently take the slower strategy under XLA.
    tf = pytest.importorskip("tensorflow")
    from keras_lstm_variants.backends.tensorflow import in_xla_context

    seen = []

    def probe():
        seen.append(in_xla_context())
        return tf.constant(0)

    tf.function(probe, jit_compile=True)()
    tf.function(probe)()
    probe()
    assert seen == [True, False, False]


# Every module of the package, subpackages included; of `backends/`, the
# modules of the backends installed here.
MODULES = [
    importlib.import_module(m.name)
    for m in pkgutil.walk_packages(klv.__path__, "keras_lstm_variants.")
    if not m.name.startswith("keras_lstm_variants.backends.")
    or m.name.rpartition(".")[2] in ("_common", "_cudnn", "numpy")
    or importlib.util.find_spec(m.name.rpartition(".")[2]) is not None
]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


# --- The import graph: one way, features -> variants -> bases -> backends --

PACKAGE = pathlib.Path(klv.__file__).parent


def _module_name(path):
    """`keras_lstm_variants/litert/__init__.py` -> `litert`;
    `.../backends/torch.py` -> `backends.torch`."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path):
    """The package modules that module `path` imports, at any depth of its
    code (imports inside functions included), by `_module_name`."""
    tree = ast.parse(path.read_text())
    package = "keras_lstm_variants"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (
            node.module == package or node.module.startswith(package + ".")
        ):
            base = node.module[len(package) + 1:]
            for alias in node.names:
                name = f"{base}.{alias.name}" if base else alias.name
                found.add(name if name in GRAPH_NAMES else base)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(package + "."):
                    found.add(alias.name[len(package) + 1:])
    return found & GRAPH_NAMES


PATHS = sorted(PACKAGE.rglob("*.py"))
GRAPH_NAMES = {_module_name(path) for path in PATHS}
GRAPH = {_module_name(path): _imports(path) for path in PATHS}
GRAPH.pop("", None)  # the package's __init__ imports everything public


def _reaches(start, target, seen=()):
    return any(
        module == target
        or module not in seen and _reaches(module, target, (*seen, module))
        for module in GRAPH.get(start, ())
    )


def test_no_module_imports_a_module_that_imports_it_back():
    circles = sorted(m for m in GRAPH if _reaches(m, m))
    assert not circles, f"modules in an import circle: {circles}"


def test_imports_run_one_way():
    """The bases import no family, variant, route or feature; the backends
    nothing above them; the routes (the fused one, LiteRT's) no variant:
    they ask the cell what it is."""
    features = {"litert", "litert._tensorflow", "migrate", "search_space"}
    variants = {"lstm", "peephole_lstm", "coupled_lstm", "layer_norm_lstm",
                "slstm", "mlstm", "min_lstm", "min_gru", "gru",
                "layer_norm_gru", "mgu", "gru_variants", "_xlstm_block",
                "mlstm_block", "slstm_block", "xlstm_stack"}
    families = {"_gated", "_lstm", "_lstm_layer", "_gru", "_gru_layer",
                "_fused", "_min_rnn", "_standard_form",
                "_mlstm_forms"} | variants | features
    for base in ("_cell", "_layer", "_arguments", "_numerics"):
        assert not _reaches_any(base, families), base
    backends = {name for name in GRAPH if name.startswith("backends")}
    for backend in backends:
        allowed = backends | {"_keras_internal"}
        assert GRAPH[backend] <= allowed, (backend, GRAPH[backend])
    for route in ("_fused", "litert", "litert._tensorflow"):
        assert not _reaches_any(route, variants), route


def _reaches_any(start, targets):
    return any(
        target in GRAPH[start] or _reaches(start, target) for target in targets
    )


def test_no_package_module_is_over_600_lines():
    long = {
        _module_name(path) or "__init__": lines
        for path in PATHS
        if (lines := len(path.read_text().splitlines())) > 600
    }
    assert not long, long
