"""Letter texts as HTML: Markdown rendered by markdown-it-py, then sanitised by nh3.

Raw HTML in a letter is not rendered (markdown-it's ``html`` option is off) and the
result is sanitised again with an allow-list, so a text can never inject script,
styles or attributes into a page.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

_TAGS = {
    "p", "br", "hr", "em", "strong", "blockquote", "ol", "ul", "li", "h1", "h2", "h3",
    "h4", "h5", "h6", "code", "pre", "a", "table", "thead", "tbody", "tr", "th", "td", "s",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


@lru_cache(maxsize=512)
def render_markdown(text: str) -> str:
    """Safe HTML for a letter's Markdown text."""
    html = _parser().render(text)
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
