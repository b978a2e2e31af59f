"""The documentation site: `mkdocs build --strict` succeeds offline, every tutorial notebook has a
page (in the nav) that shows its output images, and the API reference documents the public API.

One build per module (about 10 s), into a temporary folder; `site/` is left alone.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "tutorials"

pytestmark = pytest.mark.slow

# Public names of docs/api_contract.md that the API reference page must document: each needs an
# object heading (mkdocstrings) whose id ends with ".<name>", e.g. "taichi_render.ad.losses.mse".
# (tests/test_public_api.py checks, without building the site, that the contract's names exist.)
API_NAMES = [
    "init",
    "load_file",
    "load_dict",
    "render",
    "render_forward",
    "traverse",
    "write_bitmap",
    "read_bitmap",
    "ScalarTransform4f",
    "cornell_box",
    "Adam",
    "SGD",
    "mse",
    "l1",
    "loss_field",
    "LargeSteps",
    "RenderLayer",
    "init_process_group",
    "ViewSampler",
    "all_reduce_gradients",
]

# Names whose modules are still being written: required as soon as the module exists in the
# package (then add its `:::` block to docs/api.md, and move the name to API_NAMES).
PENDING_API_NAMES = {
    "Preview": "taichi_render/preview",
}

_IMG = re.compile(
    r"<img\b[^>]*\bsrc=\"(?:data:image/(?:png|jpeg|gif|svg\+xml);base64,|[^\"]+\.(?:png|jpe?g|gif|svg)\")",
    re.IGNORECASE,
)
_HEADING = re.compile(r"<h[1-6]\b([^>]*)>")
_ID = re.compile(r"\bid=\"([^\"]+)\"")


def _module_exists(path: str) -> bool:
    p = ROOT / path
    return p.is_dir() or p.with_suffix(".py").is_file()


def required_api_names() -> list[str]:
    return API_NAMES + [n for n, path in PENDING_API_NAMES.items() if _module_exists(path)]


def notebooks() -> list[pathlib.Path]:
    return sorted(TUTORIALS.glob("*.ipynb"))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> pathlib.Path:
    """Build the site once with --strict (warnings are errors) and return its folder."""
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT,
        env=env,
        check=False,  # the exit code is asserted below, with the log
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, f"mkdocs build --strict failed (exit {proc.returncode}):\n{log}"
    return out


def notebook_page(site: pathlib.Path, nb: pathlib.Path) -> pathlib.Path | None:
    """The page of tutorials/<name>.ipynb: tutorials/<name>/index.html (use_directory_urls, the
    default) or tutorials/<name>.html."""
    for page in (
        site / "tutorials" / nb.stem / "index.html",
        site / "tutorials" / f"{nb.stem}.html",
    ):
        if page.is_file():
            return page
    return None


def test_build_strict_succeeds(site):
    assert (site / "index.html").is_file()
    for page in (
        "getting_started",
        "scene_format",
        "porting",
        "performance",
        "api",
        "api_contract",
        "architecture",
    ):
        assert (site / page / "index.html").is_file(), f"no page for docs/{page}.md"


def test_every_notebook_has_a_page_with_an_output_image(site):
    missing, imageless = [], []
    for nb in notebooks():
        page = notebook_page(site, nb)
        if page is None:
            missing.append(nb.name)
        elif not _IMG.search(page.read_text(encoding="utf-8")):
            imageless.append(nb.name)
    assert not missing, (
        f"notebooks without a page: {missing} (docs/tutorials must be a symlink to ../tutorials)"
    )
    assert not imageless, (
        f"notebook pages without an output image (commit them with outputs): {imageless}"
    )


def test_every_notebook_is_in_the_nav(site):
    home = (site / "index.html").read_text(encoding="utf-8")
    absent = [
        nb.name
        for nb in notebooks()
        if f'href="tutorials/{nb.stem}/"' not in home
        and f'href="tutorials/{nb.stem}.html"' not in home
    ]
    assert not absent, f"notebooks missing from the nav of mkdocs.yml: {absent}"


def test_nav_notebooks_exist_once_tutorials_are_there(site):
    """mkdocs.yml lists the seven tutorials before they are written (a missing one is only logged
    at info level and rendered as a plain link); once tutorials/ holds notebooks, every notebook
    the nav names must exist."""
    if not notebooks():
        pytest.skip("no notebooks in tutorials/ yet")
    home = (site / "index.html").read_text(encoding="utf-8")
    dangling = sorted(set(re.findall(r'href="tutorials/([^"/]+\.ipynb)"', home)))
    assert not dangling, f"the nav of mkdocs.yml names notebooks that tutorials/ lacks: {dangling}"


def test_api_reference_documents_the_public_api(site):
    text = (site / "api" / "index.html").read_text(encoding="utf-8")
    documented = set()
    for attrs in _HEADING.findall(text):
        anchor = _ID.search(attrs)
        if anchor and "doc-heading" in attrs:  # an object rendered by mkdocstrings
            documented.add(anchor.group(1).rsplit(".", 1)[-1])
    missing = [name for name in required_api_names() if name not in documented]
    assert not missing, f"the API reference (docs/api.md) does not document: {missing}"
