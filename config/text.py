"""Values inside messages: shortened, so a pasted file or a generated key is never printed
in full (the loader, the ARN parser and the API constraints all show values this way)."""

from __future__ import annotations

from typing import Any

#: How much of a value a message shows: enough to recognise it, not a pasted file.
MAX_VALUE_CHARS = 80


def shorten(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """``text`` if short, else its first ``limit`` characters, an ellipsis and its length."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def show(value: Any) -> str:
    """``repr(value)`` for a message, shortened: a string keeps its quotes and says its
    own length, not its repr's."""
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return f"{value[:MAX_VALUE_CHARS]!r}… ({len(value):,} characters)"
    return shorten(repr(value))
