"""A share of users in words: never "0.0%" for users who are there, nor "100.0%" for a share
that leaves some out."""

from __future__ import annotations


def share_text(value: float, digits: int = 1) -> str:
    """``0.0004`` -> ``'<0.1%'``, ``0.25`` -> ``'25.0%'``; ``digits`` after the point."""
    text = f"{value:.{digits}%}"
    if 0 < value < 1 and float(text[:-1]) in (0.0, 100.0):
        step = 10.0 ** -(digits + 2)  # the smallest share the format shows
        return f"<{step:.{digits}%}" if value < 0.5 else f">{1 - step:.{digits}%}"
    return text
