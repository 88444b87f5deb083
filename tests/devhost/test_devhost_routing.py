"""Route templates: parameters, constraints, optional segments and errors."""

from __future__ import annotations

import pytest

from devhost.errors import RouteTemplateError
from devhost.routing import compile_route


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("runs", "/runs", {}),
        ("runs", "/RUNS/", {}),
        ("runs/{run_id}", "/runs/r-1", {"run_id": "r-1"}),
        ("runs/{run_id}", "/runs/a%20b", {"run_id": "a b"}),
        ("items/{id:int?}", "/items", {}),
        ("items/{id:int?}", "/items/7", {"id": "7"}),
        ("items/{id:int?}", "/items/-7", {"id": "-7"}),
        ("pages/{n=1}", "/pages", {"n": "1"}),
        ("files/{*path}", "/files/a/b/c.txt", {"path": "a/b/c.txt"}),
        ("files/{*path}", "/files", {}),
        (
            "files/{name}.{ext:alpha}",
            "/files/report.pdf",
            {"name": "report", "ext": "pdf"},
        ),
        ("v/{n:range(1,5)}", "/v/5", {"n": "5"}),
        ("v/{n:min(10):max(20)}", "/v/15", {"n": "15"}),
        ("k/{key:regex(^a:b$)}", "/k/A:B", {"key": "A:B"}),
        ("k/{key:length(2,3)}", "/k/abc", {"key": "abc"}),
        (
            "g/{id:guid}",
            "/g/3f2504e0-4f89-11d3-9a0c-0305e82c3301",
            {"id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
        ),
        ("b/{flag:bool}", "/b/True", {"flag": "True"}),
        ("d/{when:datetime}", "/d/2026-01-02", {"when": "2026-01-02"}),
        ("n/{x:double}", "/n/1.5e3", {"x": "1.5e3"}),
    ],
)
def test_route_match_returns_parameters(
    template: str, path: str, expected: dict[str, str]
) -> None:
    assert compile_route(template).match(path) == expected


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ("runs", "/runs/extra"),
        ("runs/{run_id}", "/runs"),
        ("items/{id:int?}", "/items/abc"),
        ("items/{id:int}", "/items/2147483648"),
        ("items/{id:long}", "/items/9223372036854775808"),
        ("v/{n:range(1,5)}", "/v/6"),
        ("k/{key:length(2,3)}", "/k/abcd"),
        ("k/{key:alpha}", "/k/a1"),
        ("g/{id:guid}", "/g/not-a-guid"),
        ("b/{flag:bool}", "/b/yes"),
        ("n/{x:double}", "/n/1.2.3"),
    ],
)
def test_route_match_rejects_path(template: str, path: str) -> None:
    assert compile_route(template).match(path) is None


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("a/{x:unknown}", "unknown constraint"),
        ("a/{x", "unbalanced brace"),
        ("a/{*x}/b", "catch-all parameter must be the whole last segment"),
        ("a/{x?}/b", "only optional segments may follow"),
        ("a/{1x}", "invalid parameter name"),
        ("a//b", "empty segment"),
        ("a/{x}/{X}", "parameter name twice"),
        ("a/{x:min(a)}", "is invalid"),
    ],
)
def test_route_compile_rejects_template(template: str, message: str) -> None:
    with pytest.raises(RouteTemplateError) as error:
        compile_route(template)

    assert message in str(error.value)
    assert template in str(error.value)


def test_route_precedence_prefers_literals() -> None:
    literal = compile_route("runs/latest")
    constrained = compile_route("runs/{id:int}")
    plain = compile_route("runs/{id}")
    catch_all = compile_route("runs/{*rest}")

    ordered = sorted(
        [catch_all, plain, literal, constrained], key=lambda route: route.precedence
    )

    assert ordered == [literal, constrained, plain, catch_all]
