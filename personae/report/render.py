"""The one place personae renders HTML with Jinja2: every page (the run report, monitor.html,
uplift.html) is a template in ``personae/report/templates``, autoescaped, rendered here.
Pages elsewhere build their numbers and call :func:`render_page`; none imports jinja2."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Undefined, select_autoescape


def render_page(template: str, *, filters: Mapping[str, Callable[..., Any]] | None = None,
                strict: bool = False, **context: Any) -> str:
    """``template`` (a file name in report/templates) rendered with ``context``.

    ``filters``: the page's own Jinja2 filters; ``strict``: a name the template uses but the
    context lacks is an error instead of an empty string.
    """
    # an Environment per page: filters are the page's own, and pages are rendered once
    env = Environment(loader=PackageLoader("personae.report", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined if strict else Undefined)
    env.filters.update(filters or {})
    return env.get_template(template).render(**context)
