"""ARM template expressions and the position-carrying JSON parser of the migration."""

from __future__ import annotations

import pytest

from shared.migrate.expressions import (
    ExpressionError,
    MissingParameter,
    TemplateScope,
    evaluate_value,
)
from shared.migrate.jsonnodes import JsonRejected, parse_json

SCOPE = TemplateScope(
    parameters={"labName": "dtl-factory", "newVMName": "vm", "sku": "Express"},
    variables={
        "networkName": "[concat('Dtl', parameters('labName'))]",
        "subnetName": "[concat(variables('networkName'), 'Subnet')]",
        "loopA": "[variables('loopB')]",
        "loopB": "[variables('loopA')]",
    },
    declared=frozenset({"labName", "newVMName", "size", "password", "sku"}),
    subscription_id="6d2c4f3a-1b7e-4c9a-9f5d-2a8e7b3c1d40",
    resource_group="rg-imagefactory",
    location="westeurope",
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("plain text", "plain text"),
        ("[[not an expression]", "[not an expression]"),
        ("[parameters('sku')]", "Express"),
        ("[concat(variables('subnetName'), '-', 1)]", "Dtldtl-factorySubnet-1"),
        ("[concat('it''s')]", "it's"),
        ("[toLower('ABC')]", "abc"),
        ("[toUpper('abc')]", "ABC"),
        ("[resourceGroup().location]", "westeurope"),
        ("[resourceGroup()['name']]", "rg-imagefactory"),
        ("[subscription().subscriptionId]", "6d2c4f3a-1b7e-4c9a-9f5d-2a8e7b3c1d40"),
        ("[concat(createArray('a'), createArray('b'))]", None),
        (
            "[resourceId ('Microsoft.DevTestLab/labs/virtualmachines', "
            "parameters('labName'), parameters('newVMName'))]",
            "/subscriptions/6d2c4f3a-1b7e-4c9a-9f5d-2a8e7b3c1d40/resourceGroups/"
            "rg-imagefactory/providers/Microsoft.DevTestLab/labs/dtl-factory/"
            "virtualmachines/vm",
        ),
        (
            "[resourceId('other-sub', 'other-rg', 'Microsoft.DevTestLab/labs', 'x')]",
            "/subscriptions/other-sub/resourceGroups/other-rg/providers/"
            "Microsoft.DevTestLab/labs/x",
        ),
    ],
)
def test_expression_values(expression: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ExpressionError, match="'createArray' is not supported"):
            evaluate_value(expression, SCOPE)
        return
    assert evaluate_value(expression, SCOPE) == expected


def test_expression_missing_parameter_named() -> None:
    with pytest.raises(MissingParameter) as caught:
        evaluate_value("[parameters('size')]", SCOPE)

    assert caught.value.name == "size"
    assert "has no defaultValue" in str(caught.value)


def test_expression_undeclared_parameter() -> None:
    with pytest.raises(ExpressionError, match="'nope' is not declared"):
        evaluate_value("[parameters('nope')]", SCOPE)


def test_expression_variable_cycle() -> None:
    with pytest.raises(ExpressionError, match="cycle: loopA -> loopB -> loopA"):
        evaluate_value("[variables('loopA')]", SCOPE)


@pytest.mark.parametrize(
    "expression",
    [
        "[concat('a', ]",
        "[concat('a' 'b')]",
        "[parameters('sku')) ]",
        "[resourceId('a', 'b')]",
        "[resourceId('Microsoft.DevTestLab/labs/virtualmachines', 'lab')]",
        "[resourceGroup().missing]",
        "[concat('unterminated)]",
    ],
)
def test_expression_invalid_rejected(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate_value(expression, SCOPE)


def test_json_positions_of_values() -> None:
    root = parse_json(b'{\n  "a": [1, 2.5, true, null],\n  "b": {"c": "x\\u00e9"}\n}')

    assert root.plain() == {"a": [1, 2.5, True, None], "b": {"c": "x\u00e9"}}
    assert (root.value["a"].line, root.value["a"].column) == (2, 8)
    assert (root.value["b"].value["c"].line, root.value["b"].value["c"].column) == (
        3,
        14,
    )
    assert (root.keys["b"].line, root.keys["b"].column) == (3, 3)


def test_json_byte_order_mark_allowed() -> None:
    assert parse_json(b'\xef\xbb\xbf{"a": 1}').plain() == {"a": 1}


@pytest.mark.parametrize(
    ("data", "position", "problem"),
    [
        (b'{"a": 1,}', (1, 9), "expected a key in double quotes"),
        (b'{"a": 1 "b": 2}', (1, 9), "expected ',' or '}'"),
        (b'{"a": 1, "a": 2}', (1, 10), "duplicate key 'a' (first set on line 1)"),
        (b"[1] x", (1, 5), "unexpected content after the JSON value"),
        (b'"abc', (1, 1), "unterminated string"),
        (b"[tru]", (1, 2), "expected a value"),
        (b"\n\n  \xff", (3, 3), "invalid UTF-8"),
        (b"[" * 40 + b"]" * 40, (1, 33), "nesting is deeper than 32 levels"),
        (b"[1, " + b"9" * 5000 + b"]", (1, 5), "a number of 5000 digits"),
    ],
)
def test_json_rejected_with_position(
    data: bytes, position: tuple[int, int], problem: str
) -> None:
    with pytest.raises(JsonRejected) as caught:
        parse_json(data)

    assert (caught.value.line, caught.value.column) == position
    assert problem in caught.value.message
