"""imagefactory plan against recorded state in Azurite."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.config import ArtifactCatalog, load_config_dir
from shared.models import ImageVersion
from shared.planner import custom_image_name
from shared.settings import Settings
from shared.state import StateStore
from shared.storage import StorageClients

from .helpers import LAB_PREFIX, run_cli

pytestmark = pytest.mark.integration

OLD_VERSION = "20261201.000000"
APP_YAML = """\
os_type: Linux
base:
  gallery: {publisher: Canonical, offer: 0001-com-ubuntu-server-jammy, sku: 22_04-lts-gen2}
versions_to_keep: 1
artifacts:
  - name: linux-apt-package
    parameters: {packages: git}
"""
DB_YAML = """\
os_type: Linux
base:
  gallery: {publisher: Canonical, offer: 0001-com-ubuntu-server-jammy, sku: 22_04-lts-gen2}
artifacts:
  - linux-java
"""


class Repository:
    """A configuration folder with names of its own, so that runs of other tests do not mix in."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.token = secrets.token_hex(4)
        self.folder = f"plan{self.token}"
        self.app = f"{self.folder}/app"
        self.db = f"{self.folder}/db"
        self.lab_a = f"{LAB_PREFIX}dtl-plan-a-{self.token}"
        self.lab_b = f"{LAB_PREFIX}dtl-plan-b-{self.token}"
        self.lab_c = f"{LAB_PREFIX}dtl-plan-c-{self.token}"
        self.write(
            {
                "factory.yaml": f"factory:\n  lab: {LAB_PREFIX}dtl-image-factory\n",
                "labs.yaml": self.labs_yaml(with_lab_c=False),
                f"images/{self.app}.yaml": APP_YAML,
                f"images/{self.db}.yaml": DB_YAML,
            }
        )

    def labs_yaml(self, with_lab_c: bool) -> str:
        text = (
            "labs:\n"
            f"  - name: team-a\n    lab: {self.lab_a}\n    images: [{self.app}]\n"
            "    versions_to_keep: 1\n"
            f"  - name: team-b\n    lab: {self.lab_b}\n    images: [{self.folder}]\n"
        )
        if with_lab_c:
            text += (
                f"  - name: team-c\n    lab: {self.lab_c}\n    images: [{self.db}]\n"
            )
        return text

    def write(self, files: dict[str, str]) -> None:
        for path, text in files.items():
            target = self.root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)


@pytest.fixture(scope="module")
def store(azurite: str) -> StateStore:
    settings = Settings.from_env(
        {"AzureWebJobsStorage": azurite, "FACTORY_CONFIG_REPO": "/unused"}
    )
    store = StateStore(StorageClients.from_settings(settings))
    store.ensure_tables()
    return store


@pytest.fixture
def repo(tmp_path: Path, store: StateStore) -> Repository:
    """A repository whose every image was built once and copied to its labs."""
    repo = Repository(tmp_path / "config")
    config = load_config_dir(repo.root, ArtifactCatalog.bundled())
    for name, image in config.images.items():
        store.put_version(
            ImageVersion(
                image=name,
                version=OLD_VERSION,
                content_hash=image.content_hash(),
                os_type=image.os_type,
                vhd_url=f"http://127.0.0.1/images/{name}/{OLD_VERSION}.vhd",
                commit="c" * 40,
                run_id="earlier",
                custom_image_name=custom_image_name(name, OLD_VERSION),
                created_at=datetime(2026, 12, 1, tzinfo=UTC),
            )
        )
        for lab in config.subscribers(name):
            image_id = (
                f"{lab.lab_id}/customimages/{custom_image_name(name, OLD_VERSION)}"
            )
            store.record_lab_image(lab.lab_id, name, OLD_VERSION, image_id, "earlier")
    return repo


def own_retirements(report: Any, repo: Repository) -> list[Any]:
    """Leave out retirements of what other tests recorded in the shared Azurite."""
    return [
        r
        for r in report["retirements"]
        if r["image"].startswith(repo.folder + "/") or repo.token in (r["lab_id"] or "")
    ]


def plan(
    capsys: pytest.CaptureFixture[str], repo: Repository, azurite: str, *extra: str
) -> Any:
    result = run_cli(
        capsys,
        "plan",
        repo.root,
        "--storage-connection-string",
        azurite,
        "--format",
        "json",
        *extra,
    )
    assert result.status == 0, result.out + result.err
    return result.json()


def test_plan_unchanged_has_no_changes(
    capsys: pytest.CaptureFixture[str], repo: Repository, azurite: str
) -> None:
    report = plan(capsys, repo, azurite)

    assert report["builds"] == []
    assert report["copies"] == []
    assert own_retirements(report, repo) == []


def test_plan_changed_image_builds_and_copies(
    capsys: pytest.CaptureFixture[str], repo: Repository, azurite: str
) -> None:
    repo.write({f"images/{repo.app}.yaml": APP_YAML.replace("git", "git jq")})
    report = plan(capsys, repo, azurite)

    assert [b["image"] for b in report["builds"]] == [repo.app]
    assert report["builds"][0]["reason"] == "the definition changed"
    assert sorted((c["image"], c["lab"]) for c in report["copies"]) == [
        (repo.app, "team-a"),
        (repo.app, "team-b"),
    ]
    assert all(c["depends_on"] == f"build|{repo.app}" for c in report["copies"])


def test_plan_predicts_retirements(
    capsys: pytest.CaptureFixture[str], repo: Repository, azurite: str
) -> None:
    repo.write({f"images/{repo.app}.yaml": APP_YAML.replace("git", "git jq")})
    report = plan(capsys, repo, azurite)
    retired = sorted(
        (r["target"], r["image"], r["lab_id"] or "", r["version"])
        for r in own_retirements(report, repo)
    )

    # The image keeps one version, and so does every lab that receives it.
    assert retired == [
        ("custom_image", repo.app, repo.lab_a, OLD_VERSION),
        ("custom_image", repo.app, repo.lab_b, OLD_VERSION),
        ("vhd", repo.app, "", OLD_VERSION),
    ]
    assert report["summary"]["build"] == 1
    assert report["summary"]["copy"] == 2


def test_plan_new_subscription_copies_existing_version(
    capsys: pytest.CaptureFixture[str], repo: Repository, azurite: str
) -> None:
    repo.write({"labs.yaml": repo.labs_yaml(with_lab_c=True)})
    report = plan(capsys, repo, azurite)

    assert report["builds"] == []
    assert report["copies"] == [
        {
            "image": repo.db,
            "version": OLD_VERSION,
            "lab": "team-c",
            "lab_id": repo.lab_c,
            "custom_image_name": custom_image_name(repo.db, OLD_VERSION),
            "depends_on": None,
        }
    ]


def test_plan_removed_lab_retires_its_images(
    capsys: pytest.CaptureFixture[str], repo: Repository, azurite: str
) -> None:
    labs = repo.labs_yaml(with_lab_c=False).split("  - name: team-b")[0]
    repo.write({"labs.yaml": labs, f"images/{repo.db}.yaml": DB_YAML})
    report = plan(capsys, repo, azurite)
    in_lab_b = [r for r in own_retirements(report, repo) if r["lab_id"] == repo.lab_b]

    assert sorted(r["image"] for r in in_lab_b) == [repo.app, repo.db]
    assert all("removed from labs.yaml" in r["reason"] for r in in_lab_b)


def test_plan_text_summary(
    capsys: pytest.CaptureFixture[str], repo: Repository, azurite: str
) -> None:
    repo.write({f"images/{repo.app}.yaml": APP_YAML.replace("git", "git jq")})
    result = run_cli(capsys, "plan", repo.root, "--storage-connection-string", azurite)

    assert result.status == 0
    assert f"  + build   {repo.app}  version " in result.out
    assert f"  + copy    {repo.app}  version " in result.out
    assert f"  - retire  custom image {repo.folder}-app-20261201-000000 in lab " in (
        result.out
    )
    assert "Plan: 1 to build, 2 to copy, " in result.out


def test_plan_force_and_filters(
    capsys: pytest.CaptureFixture[str], repo: Repository, azurite: str
) -> None:
    report = plan(capsys, repo, azurite, "--images", repo.db, "--force")

    assert [b["image"] for b in report["builds"]] == [repo.db]
    assert report["builds"][0]["reason"] == "forced rebuild"
    assert [c["lab"] for c in report["copies"]] == ["team-b"]


def test_plan_reads_connection_string_setting(
    capsys: pytest.CaptureFixture[str],
    repo: Repository,
    azurite: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", azurite)
    result = run_cli(capsys, "plan", repo.root, "--format", "json")

    assert result.status == 0
    assert result.json()["builds"] == []


def test_plan_without_storage_is_usage_error(
    capsys: pytest.CaptureFixture[str],
    repo: Repository,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    monkeypatch.delenv("AzureWebJobsStorage__accountName", raising=False)
    result = run_cli(capsys, "plan", repo.root)

    assert result.status == 2
    assert "no storage account for the factory's state" in result.err


def test_plan_invalid_configuration_exits_1(
    capsys: pytest.CaptureFixture[str], repo: Repository, azurite: str
) -> None:
    repo.write({f"images/{repo.db}.yaml": DB_YAML.replace("Linux", "Unix")})
    result = run_cli(capsys, "plan", repo.root, "--storage-connection-string", azurite)

    assert result.status == 1
    assert f"images/{repo.db}.yaml:1:10: os_type: invalid value 'Unix'" in result.out
    assert "Nothing is planned" in result.out
