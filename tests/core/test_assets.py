"""Bundled demo inputs: every one is present with its licence file and says where it came from."""

from __future__ import annotations

import pytest

from vivid.core.assets import ASSET_DIR, DEMO_INPUTS, demo_input
from vivid.core.errors import VividError


@pytest.mark.parametrize("name", sorted(DEMO_INPUTS))
def test_each_demo_input_has_its_file_and_licence(name):
    item = demo_input(name)
    assert item.path.is_file() and item.path.stat().st_size > 0
    licence = ASSET_DIR / item.licence_file
    assert licence.is_file() and name in licence.read_text()
    assert item.package in item.credit() and item.terms in item.credit()


def test_every_asset_file_is_listed():
    files = {p.name for p in ASSET_DIR.iterdir() if not p.name.startswith("LICENSE")}
    assert files == set(DEMO_INPUTS)


def test_unknown_input_is_refused():
    with pytest.raises(VividError, match="unknown demo input"):
        demo_input("nothing.png")
