"""The code in the documentation runs, and says what it claims to."""

import os
import pathlib
import re

import keras
import pytest
from conftest import BACKENDS

DOCS = pathlib.Path(__file__).parents[1] / "docs"
PAGES = sorted(
    page for page in DOCS.rglob("*.md") if "```python" in page.read_text()
)
# A block may be preceded by an admonition the reader sees, naming backends,
#   !!! info "Runs on the `jax` backend only"
#   !!! info "Runs on the `tensorflow` and `jax` backends only"
# and a blank line: it then runs only on those backends (an export route a
# backend lacks).
MARKER = r'^!!! info "Runs on the ((?:`\w+`(?:, | and )?)+) backends? only"\n\n'
FENCE = re.compile(
    rf"(?:{MARKER})?^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL
)


def _backends(marker):
    """The backends a marker names, or None for a block without one."""
    return re.findall(r"`(\w+)`", marker) if marker else None


def _marked(page):
    return re.search(MARKER, page.read_text(), re.MULTILINE) is not None


# Pairwise: a page whose blocks are all backend-neutral runs on one backend,
# the pages taking turns, so that the three backends' runs together run
# every page once (each page's code compiles models: 10-35 s a page on
# JAX). A page with blocks marked for some backends runs on every backend.
# The README's Quickstart runs on every backend in `make dist-check`.
# A page that compiles many models is placed where compiling is cheapest
# (eager PyTorch: the search-space loop fits nine models, 43 s on JAX).
NEUTRAL = [page for page in PAGES if not _marked(page)]
PLACED = {DOCS / "variants" / "search_space.md": "torch"}
RUNS_ON = {
    page: BACKENDS[k % len(BACKENDS)]
    for k, page in enumerate(p for p in NEUTRAL if p not in PLACED)
}
RUNS_ON.update({page: b for page, b in PLACED.items() if page in NEUTRAL})
HERE = [
    page for page in PAGES
    if RUNS_ON.get(page, keras.backend.backend()) == keras.backend.backend()
]


def test_every_page_runs_on_some_backend():
    assert set(RUNS_ON.values()) == set(BACKENDS)
    assert set(PLACED) <= set(NEUTRAL)
    assert all(page in NEUTRAL or _marked(page) for page in PAGES)


def test_every_backend_marker_is_read():
    # A marker that does not sit right above a Python block (or misspells
    # a backend) would leave its block running everywhere, or nowhere.
    for page in PAGES:
        text = page.read_text()
        markers = re.findall(r'^!!! info "Runs on the .*', text, re.MULTILINE)
        read = [m for m, _ in FENCE.findall(text) if m]
        assert len(markers) == len(read), (page, markers)
        for marker in read:
            assert set(_backends(marker)) <= set(BACKENDS), (page, marker)


def test_pages_with_code_are_found():
    names = {page.relative_to(DOCS).as_posix() for page in PAGES}
    assert {
        "index.md",
        "guides/cells.md",
        "guides/saving.md",
        "guides/deployment.md",
    } <= names


@pytest.mark.parametrize(
    "page", HERE, ids=[p.relative_to(DOCS).as_posix() for p in HERE]
)
def test_page_code_runs(page, tmp_path, monkeypatch):
    # The blocks of a page run in order in one namespace, as a reader would
    # paste them; they assert their own claims (np.testing, assert).
    monkeypatch.chdir(tmp_path)
    import keras

    namespace = {"__name__": "__docs__"}
    # A page may register classes of its own (the custom-variant guide):
    # they leave the registry with the page, as a reader's session would.
    registry = keras.saving.get_custom_objects()
    registered = dict(registry)
    try:
        for marker, block in FENCE.findall(page.read_text()):
            backends = _backends(marker)
            if backends and keras.backend.backend() not in backends:
                continue
            exec(compile(block, f"{page.name}", "exec"), namespace)
    finally:
        registry.clear()
        registry.update(registered)


def test_every_public_class_has_an_api_entry():
    import keras_lstm_variants

    # A class by its own name; a module (search_space) by its members.
    entries = set(
        re.findall(
            r"^::: keras_lstm_variants\.(\w+)(?:\.\w+)?$",
            "\n".join(p.read_text() for p in DOCS.rglob("*.md")),
            re.MULTILINE,
        )
    )
    assert set(keras_lstm_variants.__all__) <= entries


def test_katex_is_served_with_the_site():
    # The equations must render offline too: mkdocs.yml loads KaTeX from
    # docs/assets, not from a CDN.
    config = (DOCS.parent / "mkdocs.yml").read_text()
    for asset in re.findall(r"^  - (assets/katex/\S+)$", config, re.MULTILINE):
        assert (DOCS / asset).is_file(), asset
    assert "cdn" not in config.lower()
    fonts = re.findall(r"url\((fonts/[\w-]+\.woff2)\)",
                       (DOCS / "assets/katex/katex.min.css").read_text())
    assert fonts and all((DOCS / "assets/katex" / f).is_file() for f in fonts)
    assert os.path.getsize(DOCS / "assets/katex/katex.min.js") > 100_000


def test_read_the_docs_builds_the_site_as_make_docs_does():
    import yaml

    root = DOCS.parent
    make_docs = re.search(
        r"^MKDOCS_BUILD = (.*)$", (root / "Makefile").read_text(), re.MULTILINE
    ).group(1).replace("$(BIN)/", "")
    config = yaml.safe_load((root / ".readthedocs.yaml").read_text())
    assert config["version"] == 2
    commands = config["build"]["commands"]
    assert commands[0] == 'python -m pip install ".[docs]"'
    assert commands[1:] == [
        make_docs + ' --site-dir "$READTHEDOCS_OUTPUT/html"'
    ]


README = DOCS.parent / "README.md"
SITE = "https://keras-lstm-variants.readthedocs.io/en/latest/"


def _section(text, title):
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_readme_and_home_page_install_and_quickstart_agree():
    # The README is also the package index's page; the home page runs its
    # Quickstart in this suite (`make dist-check` runs the README's in a
    # new environment per backend). Both say how to select the backend.
    readme, home = README.read_text(), (DOCS / "index.md").read_text()
    code = re.compile(r"```python\n(.*?)```", re.DOTALL)
    assert code.findall(_section(readme, "Quickstart")) == code.findall(
        _section(home, "Quickstart")
    )
    for text in (readme, home):
        install = _section(text, "Install")
        assert "export KERAS_BACKEND=" in install, install
    assert "model.fit(" in readme and "load_model(" in readme
    # Imported before Keras, the package names a missing backend (Keras
    # alone says `No module named 'tensorflow'` from inside itself).
    (first,) = code.findall(_section(readme, "Quickstart"))
    assert first.startswith("import keras_lstm_variants")


def test_readme_images_are_absolute_urls_of_the_docs_site():
    # A package index shows the README without the repository's files.
    for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README.read_text()):
        assert target.startswith(SITE), target
        assert (DOCS / target[len(SITE):]).is_file(), target
