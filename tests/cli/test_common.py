"""Helpers every command shares."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cosignatory.cli.common import print_json, print_json_with_list

pytestmark = pytest.mark.no_database

_text = st.text(st.characters(codec="utf-8"), max_size=6)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


@given(
    head=st.dictionaries(_text, _json, max_size=5), name=_text, items=st.lists(_json, max_size=4)
)
def test_a_list_written_item_by_item_is_the_documents_json(
    head: dict[str, Any], name: str, items: list[Any]
) -> None:
    """The same bytes as one ``print_json`` of the whole document, wherever the list's
    key sorts among the others."""
    head.pop(name, None)
    whole, streamed = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(whole):
        print_json({**head, name: items})
    with contextlib.redirect_stdout(streamed):
        print_json_with_list(head, name, iter(items))
    assert streamed.getvalue() == whole.getvalue()
    assert json.loads(streamed.getvalue())[name] == items
