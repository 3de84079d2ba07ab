"""Name validation and storage encoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib import names
from chalicelib.errors import BadRequest


@pytest.mark.parametrize(
    "name", ["alice@example.com", "session_001", "Chat_id", "a b", "日本", ".x", ".", "100%", "a.b"]
)
def test_valid(name: str) -> None:
    assert names.validate(name) == name


@pytest.mark.parametrize("name", ["", "a/b", "a\\b", "..", "a..b", "../x", None, 5, "\ud800", "x" * 251, "日" * 84])
def test_invalid(name: object) -> None:
    with pytest.raises(BadRequest):
        names.validate(name)


@pytest.mark.parametrize(
    ("raw", "ok"),
    [("a%2Fb", False), ("%2E%2E", False), ("a%5Cb", False), ("%FF", False), ("a%20b", True), ("caf%C3%A9", True)],
)
def test_from_path_decodes_once_then_validates(raw: str, ok: bool) -> None:
    if ok:
        assert names.from_path(raw)
    else:
        with pytest.raises(BadRequest):
            names.from_path(raw)


def test_encoded_component_is_safe() -> None:
    for name in [".", ".hidden", "100%", "a\x00b", "tab\there", "%2F"]:
        enc = names.encode(name)
        assert not enc.startswith(".") and "/" not in enc and "\x00" not in enc
        assert names.decode(enc) == name


@given(st.text(min_size=1, max_size=60))
def test_encode_roundtrips_every_valid_name(name: str) -> None:
    try:
        names.validate(name)
    except BadRequest:
        return
    enc = names.encode(name)
    assert names.decode(enc) == name
    assert not enc.startswith(".") and "/" not in enc and "\\" not in enc
