"""Validation of factory.yaml, labs.yaml and image files, one planted error per test."""

from __future__ import annotations

import pytest

from shared.config import ConfigError, ConfigIssue, load_config_files
from shared.config.limits import MAX_IMAGE_NAME

from .helpers import (
    FACTORY_YAML,
    LAB_PREFIX,
    LINUX_IMAGE_YAML,
    find_issue,
    labs_yaml,
    load_catalog,
    load_errors,
    minimal_files,
)


def test_minimal_repository_loads() -> None:
    config = load_config_files(minimal_files(), load_catalog())

    assert sorted(config.images) == ["linux/base", "windows/base"]
    assert config.warnings == []
    assert config.defaults.vm_size == "Standard_D2s_v3"
    assert config.defaults.versions_to_keep == 2


def test_defaults_apply_to_images() -> None:
    factory = FACTORY_YAML + "defaults:\n  versions_to_keep: 4\n  refresh_days: 9\n"
    config = load_config_files(minimal_files({"factory.yaml": factory}))
    image = config.images["linux/base"]

    assert image.versions_to_keep == 4
    assert image.refresh_days == 9
    assert image.build_timeout_minutes == 120
    assert image.storage_type == "Standard"


def test_issue_str_format() -> None:
    issue = ConfigIssue(
        "images/a.yaml", 3, 5, "artifacts[0].name", "unknown artifact 'x'."
    )
    warning = ConfigIssue(
        "labs.yaml", 2, None, "labs[0]", "matches no image.", "warning"
    )
    missing = ConfigIssue("factory.yaml", None, None, "", "factory.yaml is missing.")

    assert str(issue) == "images/a.yaml:3:5: artifacts[0].name: unknown artifact 'x'."
    assert str(warning) == "labs.yaml:2: warning: labs[0]: matches no image."
    assert str(missing) == "factory.yaml: factory.yaml is missing."


def test_config_error_lists_every_error() -> None:
    image = (
        LINUX_IMAGE_YAML.replace("os_type: Linux", "os_type: Unix")
        + "refresh_days: 0\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config_files(minimal_files({"images/linux/base.yaml": image}))
    text = str(caught.value)

    assert text.startswith("invalid configuration: 2 errors")
    assert "images/linux/base.yaml:2:10: os_type: invalid value 'Unix'." in text
    assert "images/linux/base.yaml:12:15: refresh_days: 0 is out of range." in text


def test_factory_missing() -> None:
    issue = find_issue(load_errors(minimal_files({"factory.yaml": None})), "")

    assert issue.file == "factory.yaml"
    assert issue.line is None
    assert "factory.yaml is missing" in issue.message


def test_factory_lab_missing() -> None:
    errors = load_errors(minimal_files({"factory.yaml": "factory: {}\n"}))
    issue = find_issue(errors, "factory.lab")

    assert issue.file == "factory.yaml"
    assert issue.line == 1
    assert "required field 'lab' is missing" in issue.message


def test_factory_lab_invalid_id() -> None:
    errors = load_errors(
        minimal_files({"factory.yaml": "factory:\n  lab: dtl-image-factory\n"})
    )
    issue = find_issue(errors, "factory.lab")

    assert (issue.line, issue.column) == (2, 8)
    assert "'dtl-image-factory' is not an ARM resource id" in issue.message
    assert "/providers/Microsoft.DevTestLab/labs/<lab name>" in issue.message


def test_factory_not_a_mapping() -> None:
    issue = find_issue(load_errors(minimal_files({"factory.yaml": "- a\n- b\n"})), "")

    assert issue.line == 1
    assert "expected a mapping of settings, got a list" in issue.message


def test_labs_missing() -> None:
    issue = find_issue(load_errors(minimal_files({"labs.yaml": None})), "")

    assert issue.file == "labs.yaml"
    assert "labs.yaml is missing" in issue.message


def test_labs_empty_list_warns_for_images() -> None:
    config = load_config_files(minimal_files({"labs.yaml": "labs: []\n"}))
    messages = [str(warning) for warning in config.warnings]

    assert config.labs == []
    assert messages == [
        "images/linux/base.yaml: warning: no team lab receives image 'linux/base'. "
        "Add a pattern that matches it to labs.yaml, or delete the file.",
        "images/windows/base.yaml: warning: no team lab receives image 'windows/base'. "
        "Add a pattern that matches it to labs.yaml, or delete the file.",
    ]


def test_no_images_warns() -> None:
    files = minimal_files(
        {"images/linux/base.yaml": None, "images/windows/base.yaml": None}
    )
    config = load_config_files(files)
    messages = [warning.message for warning in config.warnings]

    assert "no image definitions found. Add images/<name>.yaml files." in messages


def test_pattern_matching_nothing_warns() -> None:
    config = load_config_files(
        minimal_files({"labs.yaml": labs_yaml("linux", "windows", "macos")})
    )
    warning = find_issue(config.warnings, "labs[0].images[2]")

    assert warning.severity == "warning"
    assert warning.line == 4
    assert "pattern 'macos' matches no image" in warning.message


def test_exclude_pattern_matching_nothing_warns() -> None:
    labs = labs_yaml("linux", "windows") + '    exclude: ["linux/old"]\n'
    config = load_config_files(minimal_files({"labs.yaml": labs}))
    warning = find_issue(config.warnings, "labs[0].exclude[0]")

    assert warning.message == (
        "pattern 'linux/old' matches no image. Did you mean 'linux'? "
        "Fix the pattern or remove it."
    )


def test_lab_required_fields() -> None:
    labs = "labs:\n  - name: team-web\n"
    errors = load_errors(minimal_files({"labs.yaml": labs}))

    assert (
        "required field 'lab' is missing" in find_issue(errors, "labs[0].lab").message
    )
    assert "required field 'images'" in find_issue(errors, "labs[0].images").message


def test_lab_name_invalid() -> None:
    labs = labs_yaml("linux").replace("name: team-web", "name: team web!")
    issue = find_issue(load_errors(minimal_files({"labs.yaml": labs})), "labs[0].name")

    assert "invalid value 'team web!'" in issue.message


def test_lab_versions_to_keep_override() -> None:
    labs = labs_yaml("linux", "windows") + "    versions_to_keep: 1\n"
    config = load_config_files(minimal_files({"labs.yaml": labs}))

    assert config.labs[0].versions_to_keep == 1


def test_lab_id_canonical_form() -> None:
    labs = labs_yaml("linux", "windows").replace(
        LAB_PREFIX, LAB_PREFIX.upper().replace("/SUBSCRIPTIONS/", "/subscriptions/")
    )
    config = load_config_files(minimal_files({"labs.yaml": labs}))
    lab = config.labs[0].lab

    assert lab.subscription_id == "6d2c4f3a-1b7e-4c9a-9f5d-2a8e7b3c1d40"
    assert lab.resource_group == "RG-IMAGEFACTORY"
    assert "/providers/Microsoft.DevTestLab/labs/" in config.labs[0].lab_id


def test_image_required_fields() -> None:
    errors = load_errors(
        minimal_files({"images/linux/base.yaml": "description: only text\n"})
    )

    assert find_issue(errors, "os_type").line == 1
    assert find_issue(errors, "base").message == (
        "required field 'base' is missing. Add it to this mapping."
    )


def test_image_gallery_fields() -> None:
    image = LINUX_IMAGE_YAML.replace(
        "    sku: 22_04-lts-gen2\n", "    version: newest\n"
    )
    errors = load_errors(minimal_files({"images/linux/base.yaml": image}))

    assert "required field 'sku'" in find_issue(errors, "base.gallery.sku").message
    version = find_issue(errors, "base.gallery.version")
    assert "invalid value 'newest'. Use 'latest' or a version" in version.message


def test_image_empty_file() -> None:
    issue = find_issue(load_errors(minimal_files({"images/linux/base.yaml": ""})), "")

    assert issue.file == "images/linux/base.yaml"
    assert issue.message.startswith("file is empty.")


def test_image_wrong_types() -> None:
    image = LINUX_IMAGE_YAML.replace("description: Ubuntu with git", "description: [a]")
    image += 'versions_to_keep: "3"\nvm_size: true\n'
    errors = load_errors(minimal_files({"images/linux/base.yaml": image}))

    assert "expected text, got a list" in find_issue(errors, "description").message
    assert "got a string '3'" in find_issue(errors, "versions_to_keep").message
    assert "expected text, got a boolean" in find_issue(errors, "vm_size").message


def test_image_duplicate_key() -> None:
    image = LINUX_IMAGE_YAML + "os_type: Windows\n"
    issue = find_issue(
        load_errors(minimal_files({"images/linux/base.yaml": image})), "os_type"
    )

    assert issue.line == 12
    assert (
        issue.message
        == "duplicate key 'os_type' (first set on line 2). Keep one of them."
    )


def test_image_name_too_long() -> None:
    name = "a" * (MAX_IMAGE_NAME + 1)
    files = minimal_files({f"images/{name}.yaml": LINUX_IMAGE_YAML})
    issue = find_issue(load_errors(files), "")

    assert issue.file == f"images/{name}.yaml"
    assert f"is {MAX_IMAGE_NAME + 1} characters long. Use at most {MAX_IMAGE_NAME}" in (
        issue.message
    )


@pytest.mark.parametrize(
    "path",
    [
        "images/Linux/base.yaml",
        "images/linux/base image.yaml",
        "images/-linux/base.yaml",
    ],
)
def test_image_name_invalid(path: str) -> None:
    errors = load_errors(minimal_files({path: LINUX_IMAGE_YAML}))
    issue = find_issue(errors, "")

    assert issue.file == path
    assert "invalid image name" in issue.message


def test_image_slug_collision() -> None:
    files = minimal_files({"images/linux-base.yaml": LINUX_IMAGE_YAML})
    issue = find_issue(load_errors(files), "")

    assert issue.file == "images/linux/base.yaml"
    assert "'linux/base' and image 'linux-base'" in issue.message


def test_image_yml_extension_rejected() -> None:
    issue = find_issue(
        load_errors(minimal_files({"images/linux/extra.yml": "x: 1\n"})), ""
    )

    assert issue.file == "images/linux/extra.yml"
    assert "'.yaml' extension" in issue.message


def test_non_yaml_files_ignored() -> None:
    files = minimal_files(
        {
            "images/README.md": "# notes\n",
            "images/.hidden.yaml": "not: an image\n",
            "images/.drafts/new.yaml": "draft: true\n",
            "images/.drafts/old.yml": "draft: true\n",
            "README.md": "# repo\n",
            "docs/x.yaml": "a: b\n",
        }
    )

    assert sorted(load_config_files(files).images) == ["linux/base", "windows/base"]


def test_generalize_artifact_rejected_without_catalog() -> None:
    image = LINUX_IMAGE_YAML + "  - name: linux-deprovision\n"
    errors = load_errors(minimal_files({"images/linux/base.yaml": image}))
    issue = find_issue(errors, "artifacts[1].name")

    assert issue.line == 12
    assert "factory appends it itself" in issue.message


def test_artifacts_unchecked_without_catalog() -> None:
    image = LINUX_IMAGE_YAML + "  - name: linux-no-such-artifact\n"
    config = load_config_files(minimal_files({"images/linux/base.yaml": image}))

    assert config.images["linux/base"].artifacts[1].name == "linux-no-such-artifact"


def test_artifact_short_form_and_null_parameters() -> None:
    image = (
        LINUX_IMAGE_YAML
        + "  - linux-install-docker\n  - name: linux-java\n    parameters:\n"
    )
    config = load_config_files(
        minimal_files({"images/linux/base.yaml": image}), load_catalog()
    )
    artifacts = config.images["linux/base"].artifacts

    assert [a.name for a in artifacts] == [
        "linux-apt-package",
        "linux-install-docker",
        "linux-java",
    ]
    assert artifacts[2].parameters == {}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("true", "true"),
        ("True", "true"),
        ("yes", "yes"),
        ('"007"', "007"),
        ("007", "007"),
        ("1.10", "1.10"),
        ("~", ""),
        ("[a, 1, true]", '["a",1,true]'),
        ("{b: 1, a: x}", '{"a":"x","b":1}'),
        ("'two words'", "two words"),
    ],
)
def test_parameter_value_text(value: str, expected: str) -> None:
    image = (
        LINUX_IMAGE_YAML + f"  - name: custom\n    parameters:\n      value: {value}\n"
    )
    config = load_config_files(minimal_files({"images/linux/base.yaml": image}))

    assert config.images["linux/base"].artifacts[1].parameters["value"] == expected


def test_artifact_parameters_not_a_mapping() -> None:
    image = LINUX_IMAGE_YAML.replace("      packages: git\n", "").replace(
        "    parameters:\n", "    parameters: [packages]\n"
    )
    errors = load_errors(minimal_files({"images/linux/base.yaml": image}))
    issue = find_issue(errors, "artifacts[0].parameters")

    assert (
        "expected a mapping of parameter names to values, got a list" in issue.message
    )


def test_artifacts_not_a_list() -> None:
    image = LINUX_IMAGE_YAML.split("artifacts:")[0] + "artifacts: windows-7zip\n"
    issue = find_issue(
        load_errors(minimal_files({"images/linux/base.yaml": image})), "artifacts"
    )

    assert "expected a list of artifacts, got a string" in issue.message


def test_catalog_checks_parameter_allowed_values() -> None:
    image = LINUX_IMAGE_YAML + "      update: maybe\n"
    errors = load_errors(
        minimal_files({"images/linux/base.yaml": image}), load_catalog()
    )
    issue = find_issue(errors, "artifacts[0].parameters.update")

    assert (issue.line, issue.column) == (12, 15)
    assert (
        issue.message
        == "'maybe' is not an allowed value. Allowed values: 'true', 'false'."
    )


def test_catalog_checks_os_type() -> None:
    image = LINUX_IMAGE_YAML + "  - name: windows-7zip\n"
    errors = load_errors(
        minimal_files({"images/linux/base.yaml": image}), load_catalog()
    )
    issue = find_issue(errors, "artifacts[1].name")

    assert issue.message == (
        "artifact 'windows-7zip' targets Windows, but the image's os_type is Linux. "
        "Use a Linux artifact."
    )


def test_catalog_accepts_bool_for_bool_allowed_values() -> None:
    image = LINUX_IMAGE_YAML.replace(
        "linux-apt-package", "linux-change-sshkey"
    ).replace(
        "      packages: git\n",
        "      userName: admin\n      sshKey: ssh-rsa AAAA\n      sshReset: true\n",
    )
    config = load_config_files(
        minimal_files({"images/linux/base.yaml": image}), load_catalog()
    )

    assert config.images["linux/base"].artifacts[0].parameters["sshReset"] == "true"
