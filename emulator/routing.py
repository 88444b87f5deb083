"""Route table machinery: ARM path templates with named groups.

Literal segments match case-insensitively, as ARM does, and each
``{name}`` matches one percent-decoded path segment. A path that matches
no template is an error, because there is no catch-all route.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

from emulator.errors import InvalidResourceType, MethodNotAllowed
from emulator.wire import Request, Response

Handler = Callable[[Request], Response]
ScopeFunction = Callable[[dict[str, str]], list[str]]

_PARAMETER = re.compile(r"^\{([a-z_]+)\}$")


@dataclass(frozen=True)
class Route:
    """One method and path template, the handler and the RBAC action it needs.

    ``action`` None means that the route needs authentication but no role,
    as for the status of an operation that the caller started. ``scopes``
    returns the resource ids at which a role assignment grants the action.
    """

    method: str
    template: str
    handler: Handler
    action: str | None = None
    scopes: ScopeFunction = field(default=lambda params: [])
    provider: str = "Microsoft.DevTestLab"

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.template.strip("/").split("/"))

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """Return the named groups when the decoded segments fit the template."""
        if len(segments) != len(self.segments):
            return None

        params: dict[str, str] = {}
        for pattern, segment in zip(self.segments, segments, strict=True):
            parameter = _PARAMETER.match(pattern)
            if parameter:
                if not segment:
                    return None
                params[parameter.group(1)] = segment
            elif pattern.lower() != segment.lower():
                return None
        return params


def split_path(path: str) -> list[str]:
    """Split a raw URL path into percent-decoded segments."""
    return [unquote(segment) for segment in path.strip("/").split("/")]


class Router:
    """Find the route for a method and path, or raise the ARM error for none."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = list(routes)

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        segments = split_path(path)
        allowed: list[str] = []
        for route in self.routes:
            params = route.match(segments)
            if params is None:
                continue
            if route.method == method:
                return route, params
            allowed.append(route.method)

        if allowed:
            raise MethodNotAllowed(
                f"The requested resource does not support http method '{method}'.",
                headers={"Allow": ", ".join(sorted(set(allowed)))},
            )
        raise InvalidResourceType(
            f"The emulator has no route for {method} {path}. "
            "See emulator/README.md for the operations it emulates."
        )
