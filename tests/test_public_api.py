"""The public API contract (docs/api_contract.md): every `tr.<name>`, `tr.ad.<name>` and
`trt.<name>` written in its code exists in the package, except the names still to come.

No rendering and no site build: the names are read from the code spans and code blocks of the
contract and looked up as attributes of `taichi_render` (tr) and `taichi_render.torch` (trt).
"""

from __future__ import annotations

import importlib
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "docs" / "api_contract.md"

MODULES = {"tr": "taichi_render", "trt": "taichi_render.torch"}

# Names the contract promises that are not written yet, each with what promises it. The contract
# marks most future names with "Coming (open issues): ..." (skipped by `contract_names`); these
# are promised without that mark. Each must still be in the contract and must not exist yet:
# once one exists, the test below fails until the name is taken off this list.
PENDING: dict[str, str] = {}

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
_SPAN = re.compile(r"`([^`\n]+)`")
_NAME = re.compile(r"(?<![\w.])(trt|tr)((?:\.[A-Za-z_]\w*)+)")
# "Coming (open issues): ..." up to the end of its list item (the next item, heading, fence or
# blank line)
_COMING = re.compile(
    r"Coming \(open issues\):.*?(?=^\s*(?:- |#|```)|^\s*$|\Z)", re.DOTALL | re.MULTILINE
)


def _names_in(code: str) -> set[str]:
    return {prefix + rest for prefix, rest in _NAME.findall(code)}


def _code_of(text: str) -> list[str]:
    """The code blocks of a markdown text, then the inline code spans of what is left."""
    blocks = _FENCE.findall(text)
    return blocks + _SPAN.findall(_FENCE.sub("", text))


def contract_text() -> str:
    return CONTRACT.read_text(encoding="utf-8")


def coming_names() -> set[str]:
    """Names inside the contract's own "Coming (open issues)" passages."""
    return {name for passage in _COMING.findall(contract_text()) for name in _names_in(passage)}


def contract_names() -> set[str]:
    """Every tr./tr.ad./trt. name in the contract's code, without its "Coming" passages."""
    text = _COMING.sub("", contract_text())
    return {name for code in _code_of(text) for name in _names_in(code)}


def resolve(name: str):
    """`tr.ad.Adam` -> taichi_render.ad.Adam; raises AttributeError naming the missing part."""
    prefix, *parts = name.split(".")
    obj = importlib.import_module(MODULES[prefix])
    for i, part in enumerate(parts):
        if not hasattr(obj, part):
            raise AttributeError(f"{'.'.join([prefix, *parts[:i]])} has no attribute {part!r}")
        obj = getattr(obj, part)
    return obj


def exists(name: str) -> bool:
    try:
        resolve(name)
    except AttributeError:
        return False
    return True


def test_contract_names_are_read():
    """The parser finds the names (so that the check below cannot pass on an empty list)."""
    names = contract_names()
    for name in (
        "tr.init",
        "tr.load_file",
        "tr.load_dict",
        "tr.render",
        "tr.render_forward",
        "tr.traverse",
        "tr.ad.Adam",
        "tr.ad.mse",
        "tr.preview.Preview",
        "trt.render",
        "trt.RenderLayer",
    ):
        assert name in names, f"{name} not found in the code of {CONTRACT.name}"
    assert not any(n.startswith(("mi.", "ti.")) for n in names)


@pytest.mark.parametrize("name", sorted(contract_names() - PENDING.keys()))
def test_contract_name_exists(name):
    resolve(name)  # AttributeError names the missing part


@pytest.mark.parametrize("name", sorted(PENDING.keys() | coming_names()))
def test_pending_name_is_promised_and_not_there_yet(name):
    if name in PENDING:
        assert name in contract_names(), (
            f"{name} ({PENDING[name]}) is in PENDING but no longer in {CONTRACT.name}:"
            " take it off the list"
        )
    assert not exists(name), (
        f"{name} exists now: take it off PENDING in tests/test_public_api.py (or its"
        f" 'Coming (open issues)' mark off {CONTRACT.name}), so the contract test checks it"
    )
