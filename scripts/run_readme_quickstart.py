"""Runs the README's Quickstart block against the installed package.

`make dist-check` runs it in a new virtual environment that holds only the
built wheel and one backend's extra, from a folder outside the repository,
so that a file or a dependency missing from the distribution fails. The
model it saves is loaded back and must predict what the original predicts;
a user warning (Keras's about unrestored optimizer variables, say)
fails it too, and so does a wheel without its license or project URLs.
"""

import importlib.metadata
import os
import pathlib
import re
import sys
import tempfile
import warnings


def quickstart(readme):
    text = pathlib.Path(readme).read_text()
    section = text.split("## Quickstart", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def check_metadata():
    """The wheel carries its license text and says where the source and the
    issue tracker are."""
    metadata = importlib.metadata.metadata("keras-lstm-variants")
    files = importlib.metadata.files("keras-lstm-variants") or []
    licenses = [f for f in files if f.name == "LICENSE"]
    if not licenses or "Apache License" not in licenses[0].read_text():
        sys.exit("The wheel has no LICENSE file with the Apache-2.0 text.")
    urls = {u.split(",")[0] for u in metadata.get_all("Project-URL") or []}
    if not {"Documentation", "Source", "Issues"} <= urls:
        sys.exit(f"The wheel's project URLs lack some of Documentation, "
                 f"Source, Issues: {sorted(urls)}.")


def main(readme):
    import keras
    import numpy as np

    import keras_lstm_variants

    source = pathlib.Path(keras_lstm_variants.__file__).resolve()
    if "site-packages" not in source.parts:
        sys.exit(f"keras_lstm_variants was imported from {source}, not from "
                 "an installed wheel.")
    code = quickstart(readme)
    start = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            namespace = {"__name__": "__quickstart__"}
            with warnings.catch_warnings():
                # What a user sees; libraries' deprecations are theirs.
                warnings.simplefilter("error", UserWarning)
                warnings.simplefilter("error", RuntimeWarning)
                exec(compile(code, "README.md#Quickstart", "exec"), namespace)
                restored = keras.saving.load_model("model.keras")
            tokens = np.array([[5, 17, 3, 0, 0], [8, 0, 0, 0, 0]])
            np.testing.assert_allclose(
                restored.predict(tokens, verbose=0),
                namespace["model"].predict(tokens, verbose=0),
                atol=1e-6,
            )
        finally:
            os.chdir(start)
    check_metadata()
    print(f"README quickstart: ran and reloaded, with keras_lstm_variants "
          f"{keras_lstm_variants.__version__} from {source.parent}, "
          f"KERAS_BACKEND={keras.backend.backend()}")


if __name__ == "__main__":
    main(sys.argv[1])
