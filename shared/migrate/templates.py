"""Convert one golden image ARM template of the PowerShell factory into an image file.

The PowerShell factory kept each golden image as an ARM template that
creates a DevTest Labs VM (Microsoft.DevTestLab/labs/virtualmachines). What
decides the image is read from the VM's properties: ``notes`` (description),
``galleryImageReference`` (base image and OS type), ``size``,
``storageType`` and ``artifacts``. Everything else (network, credentials,
location) the factory sets itself, so it is not evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shared.config.issues import IssueCollector
from shared.config.limits import GENERALIZE_ARTIFACTS
from shared.migrate.expressions import (
    ExpressionError,
    MissingParameter,
    TemplateScope,
    evaluate_value,
)
from shared.migrate.jsonnodes import JsonNode
from shared.migrate.sources import SourceMap

VM_RESOURCE_TYPE = "microsoft.devtestlab/labs/virtualmachines"
PUBLIC_ARTIFACT_SOURCE = "public repo"
# Parameters that the PowerShell factory passed to every template, with the
# values they get here. `size` and `password` get none: a template's size
# then falls back to the factory's default VM size.
SUPPLIED_PARAMETERS = {"newVMName": "vm", "userName": "factoryadmin"}
_GALLERY_KEYS = {"publisher": "publisher", "offer": "offer", "sku": "sku"}
_ARTIFACT_ID_RE = re.compile(r".*/artifactsources/([^/]+)/artifacts/([^/]+)/?", re.I)


@dataclass
class ConvertedImage:
    """An image file in the new format, as data, with the map back to its template."""

    document: dict[str, Any]
    source: SourceMap


def convert_template(
    path: str, root: JsonNode, lab_name: str, issues: IssueCollector
) -> ConvertedImage | None:
    """Convert a parsed template, reporting its problems in `issues`.

    Returns None when the template has no VM resource to read. A value that
    cannot be read is left out of the result and reported. `lab_name` is the
    value of parameters('labName'), which artifact ids use.
    """
    return _TemplateReader(path, root, lab_name, issues).read()


class _TemplateReader:
    def __init__(
        self, path: str, root: JsonNode, lab_name: str, issues: IssueCollector
    ) -> None:
        self.path = path
        self.root = root
        self.issues = issues
        self.source = SourceMap(path)
        self.scope = _scope(root, lab_name)

    def error(self, node: JsonNode | None, field: str, message: str) -> None:
        line, column = (node.line, node.column) if node else (None, None)
        self.issues.add_position(self.path, line, column, field, message)

    def warning(self, node: JsonNode, field: str, message: str) -> None:
        self.issues.add_position(
            self.path, node.line, node.column, field, message, "warning"
        )

    def read(self) -> ConvertedImage | None:
        found = self._vm_resource()
        if found is None:
            return None
        index, vm = found
        field = f"resources[{index}].properties"
        self.source.add("", vm, f"resources[{index}]")
        properties = vm.value.get("properties")
        if properties is None or not properties.is_object:
            self.error(
                properties or vm,
                field,
                "the VM resource has no 'properties' object. Export the template "
                "again from the lab.",
            )
            return None

        document: dict[str, Any] = {}
        self._description(properties, field, document)
        self._base(properties, field, document)
        self._settings(properties, field, document)
        self._artifacts(properties, field, document)
        # Converted despite errors, so that the validator checks the rest too.
        return ConvertedImage(document, self.source)

    def _vm_resource(self) -> tuple[int, JsonNode] | None:
        resources = self.root.value.get("resources") if self.root.is_object else None
        if resources is None or not resources.is_array:
            self.error(
                resources or self.root,
                "resources",
                "expected an ARM template with a 'resources' list. Keep one "
                "template per golden image below GoldenImages/.",
            )
            return None
        vms = [
            (index, node)
            for index, node in enumerate(resources.value)
            if node.is_object
            and isinstance(_plain(node, "type"), str)
            and _plain(node, "type").lower() == VM_RESOURCE_TYPE
        ]
        if len(vms) != 1:
            self.error(
                resources,
                "resources",
                f"expected one Microsoft.DevTestLab/labs/virtualmachines resource, "
                f"found {len(vms)}. Keep one lab VM per golden image template.",
            )
            return None
        return vms[0]

    def evaluate(self, node: JsonNode, field: str, converted: str) -> tuple[bool, Any]:
        """Return (True, value), or report why the expression fails and return (False, None).

        `converted` is the field the value becomes; the source map records it
        as failed, so that the validator's complaint about its absence is dropped.
        """
        try:
            return True, evaluate_value(node.plain(), self.scope)
        except ExpressionError as exc:
            self.source.failed.add(converted)
            self.error(
                node,
                field,
                f"cannot evaluate '{_shorten(node.plain())}': {exc}. Write the value "
                "itself in place of the expression.",
            )
            return False, None

    def _description(
        self, properties: JsonNode, field: str, document: dict[str, Any]
    ) -> None:
        node = properties.value.get("notes")
        if node is None:
            return
        ok, value = self.evaluate(node, f"{field}.notes", "description")
        if ok:
            document["description"] = value
            self.source.add("description", node, f"{field}.notes")

    def _base(self, properties: JsonNode, field: str, document: dict[str, Any]) -> None:
        custom = properties.value.get("customImageId")
        if custom is not None:
            self.error(
                custom,
                f"{field}.customImageId",
                "the VM starts from a custom image, but a converted image starts "
                "from a Marketplace image. Use galleryImageReference, or build on "
                "another golden image with 'base: image:' after the conversion.",
            )
            return
        gallery_field = f"{field}.galleryImageReference"
        reference = properties.value.get("galleryImageReference")
        self.source.add("base", reference or properties, gallery_field)
        self.source.add("os_type", reference or properties, gallery_field)
        if reference is None or not reference.is_object:
            # The validator reports the missing base and os_type at this node.
            return
        gallery: dict[str, Any] = {}
        for key, node in reference.value.items():
            converted = "os_type" if key == "osType" else f"base.gallery.{key}"
            ok, value = self.evaluate(node, f"{gallery_field}.{key}", converted)
            if not ok:
                continue
            if key == "osType":
                document["os_type"] = value
                self.source.add("os_type", node, f"{gallery_field}.osType")
            elif key in _GALLERY_KEYS or key == "version":
                gallery[key] = value
                self.source.add(f"base.gallery.{key}", node, f"{gallery_field}.{key}")
        order = ("publisher", "offer", "sku", "version")
        document["base"] = {"gallery": {k: gallery[k] for k in order if k in gallery}}
        self.source.add("base.gallery", reference, gallery_field)

    def _settings(
        self, properties: JsonNode, field: str, document: dict[str, Any]
    ) -> None:
        size = properties.value.get("size")
        if size is not None:
            try:
                document["vm_size"] = evaluate_value(size.plain(), self.scope)
                self.source.add("vm_size", size, f"{field}.size")
            except MissingParameter as exc:
                if exc.name != "size":
                    self.evaluate(size, f"{field}.size", "vm_size")  # reports it
            except ExpressionError:
                self.evaluate(size, f"{field}.size", "vm_size")
        storage = properties.value.get("storageType")
        if storage is not None:
            ok, value = self.evaluate(storage, f"{field}.storageType", "storage_type")
            if ok:
                document["storage_type"] = value
                self.source.add("storage_type", storage, f"{field}.storageType")

    def _artifacts(
        self, properties: JsonNode, field: str, document: dict[str, Any]
    ) -> None:
        node = properties.value.get("artifacts")
        if node is None:
            return
        field = f"{field}.artifacts"
        if not node.is_array:
            self.error(node, field, "expected a list of artifacts.")
            return
        self.source.add("artifacts", node, field)
        artifacts: list[dict[str, Any]] = []
        for index, item in enumerate(node.value):
            artifact = self._artifact(item, f"{field}[{index}]", len(artifacts))
            if artifact is not None:
                artifacts.append(artifact)
        if artifacts:
            document["artifacts"] = artifacts

    def _artifact(
        self, node: JsonNode, field: str, position: int
    ) -> dict[str, Any] | None:
        converted = f"artifacts[{position}]"
        artifact_id = node.value.get("artifactId") if node.is_object else None
        if artifact_id is None:
            self.error(node, field, "expected an object with 'artifactId'.")
            return None
        ok, value = self.evaluate(artifact_id, f"{field}.artifactId", converted)
        if not ok:
            return None
        name = self._artifact_name(artifact_id, f"{field}.artifactId", value)
        if name is None:
            return None
        if name in GENERALIZE_ARTIFACTS.values():
            self.warning(
                artifact_id,
                f"{field}.artifactId",
                f"artifact '{name}' is left out, because the factory appends it "
                "itself as the last step of every build.",
            )
            return None
        self.source.add(converted, node, field)
        self.source.add(f"{converted}.name", artifact_id, f"{field}.artifactId")
        artifact: dict[str, Any] = {"name": name}
        parameters = self._parameters(node, field, converted)
        if parameters:
            artifact["parameters"] = parameters
        return artifact

    def _artifact_name(self, node: JsonNode, field: str, value: Any) -> str | None:
        match = _ARTIFACT_ID_RE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            self.error(
                node,
                field,
                f"'{_shorten(value)}' is not an artifact id. Expected "
                ".../artifactSources/public repo/artifacts/<artifact name>.",
            )
            return None
        source, name = match.group(1), match.group(2)
        if source.lower() != PUBLIC_ARTIFACT_SOURCE:
            self.error(
                node,
                field,
                f"artifact '{name}' comes from artifact source '{source}', but the "
                "factory applies artifacts of the public repository only. Use a "
                "public artifact instead.",
            )
            return None
        return name

    def _parameters(
        self, node: JsonNode, field: str, converted: str
    ) -> dict[str, Any] | None:
        parameters = node.value.get("parameters")
        if parameters is None:
            return None
        field = f"{field}.parameters"
        if not parameters.is_array:
            self.error(parameters, field, "expected a list of {name, value} objects.")
            return None
        self.source.add(f"{converted}.parameters", parameters, field)
        values: dict[str, Any] = {}
        for index, item in enumerate(parameters.value):
            item_field = f"{field}[{index}]"
            name_node = item.value.get("name") if item.is_object else None
            value_node = item.value.get("value") if item.is_object else None
            if name_node is None or value_node is None:
                self.error(item, item_field, "expected an object with name and value.")
                continue
            # A parameter left out may be a required one: skip that complaint.
            missing = f"{converted}.parameters"
            ok_name, name = self.evaluate(name_node, f"{item_field}.name", missing)
            ok_value, value = self.evaluate(value_node, f"{item_field}.value", missing)
            if not (ok_name and ok_value):
                continue
            if not isinstance(name, str) or name in values:
                self.error(
                    name_node,
                    f"{item_field}.name",
                    f"invalid or repeated parameter name '{name}'. Set each "
                    "parameter once.",
                )
                continue
            values[name] = value
            self.source.add(
                f"{converted}.parameters.{name}", value_node, f"{item_field}.value"
            )
        return values


def _scope(root: JsonNode, lab_name: str) -> TemplateScope:
    declared: dict[str, Any] = {}
    parameters = root.value.get("parameters") if root.is_object else None
    if parameters is not None and parameters.is_object:
        declared = parameters.plain()
    values = {
        name: spec["defaultValue"]
        for name, spec in declared.items()
        if isinstance(spec, dict) and "defaultValue" in spec
    }
    values.update({"labName": lab_name, **SUPPLIED_PARAMETERS})
    variables = root.value.get("variables") if root.is_object else None
    return TemplateScope(
        parameters={k: v for k, v in values.items() if k in declared},
        variables=variables.plain() if variables and variables.is_object else {},
        declared=frozenset(declared),
    )


def _plain(node: JsonNode, key: str) -> Any:
    child = node.value.get(key)
    return child.plain() if child is not None else None


def _shorten(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
