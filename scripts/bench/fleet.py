"""Generated fleets: a configuration repository of N images for M team labs, and its seed.

Image definitions differ in OS and in their number of artifacts, so their
builds take different times in the emulator (every artifact takes 60 to
240 emulated seconds). Every team lab subscribes to every image, so a
first run makes N builds and N x M copies.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import yaml

SUBSCRIPTION_ID = "6d2c4f3a-1b7e-4c9a-9f5d-2a8e7b3c1d40"
RESOURCE_GROUP = "rg-imagefactory"
FACTORY_LAB = "dtl-image-factory"
# The default seed's team labs, used when a fleet needs no more than three.
DEFAULT_TEAM_LABS = ("dtl-team-web", "dtl-team-data", "dtl-team-qa")

LINUX_EXTRAS = (
    "linux-java",
    "linux-install-nodejs",
    "linux-swapfile",
    "linux-install-docker",
    "linux-mono-devel",
    "linux-install-mongodb",
)
WINDOWS_EXTRAS = (
    "windows-7zip",
    "windows-notepadplusplus",
    "windows-git",
    "windows-vscode",
    "windows-putty",
    "windows-sysinternals",
)
LINUX_BASE = {
    "publisher": "Canonical",
    "offer": "0001-com-ubuntu-server-jammy",
    "sku": "22_04-lts-gen2",
}
WINDOWS_BASE = {
    "publisher": "MicrosoftWindowsServer",
    "offer": "WindowsServer",
    "sku": "2022-datacenter-azure-edition",
}


def lab_resource_id(name: str) -> str:
    return (
        f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{RESOURCE_GROUP}"
        f"/providers/Microsoft.DevTestLab/labs/{name}"
    )


@dataclass(frozen=True)
class FleetSpec:
    """How many images and team labs, and the seed of the artifact choice."""

    images: int
    labs: int
    seed: int = 1
    # Every third image is a Windows image; the rest are Linux images.
    windows_every: int = 3
    max_extra_artifacts: int = 4

    @property
    def copies(self) -> int:
        return self.images * self.labs

    def team_labs(self) -> list[str]:
        if self.labs <= len(DEFAULT_TEAM_LABS):
            return list(DEFAULT_TEAM_LABS[: self.labs])
        return [f"dtl-team-{index:03d}" for index in range(1, self.labs + 1)]

    def image_names(self) -> list[str]:
        return [f"fleet/img-{index:04d}" for index in range(1, self.images + 1)]

    def needs_seed_file(self) -> bool:
        return self.labs > len(DEFAULT_TEAM_LABS)


def config_files(spec: FleetSpec) -> dict[str, str]:
    """Return the configuration repository's files, by path."""
    rng = random.Random(spec.seed)
    files = {
        "factory.yaml": yaml.safe_dump(
            {
                "factory": {"lab": lab_resource_id(FACTORY_LAB)},
                "defaults": {
                    "vm_size": "Standard_D2s_v3",
                    "storage_type": "StandardSSD",
                    "versions_to_keep": 2,
                    "build_timeout_minutes": 120,
                },
            },
            sort_keys=False,
        ),
        "labs.yaml": yaml.safe_dump(
            {
                "labs": [
                    {"name": name, "lab": lab_resource_id(name), "images": ["**"]}
                    for name in spec.team_labs()
                ]
            },
            sort_keys=False,
        ),
    }
    for index, name in enumerate(spec.image_names()):
        windows = spec.windows_every > 0 and index % spec.windows_every == 2
        extras = rng.randint(0, spec.max_extra_artifacts)
        files[f"images/{name}.yaml"] = yaml.safe_dump(
            _image(name, windows, extras, rng), sort_keys=False
        )
    return files


def _image(
    name: str, windows: bool, extras: int, rng: random.Random
) -> dict[str, object]:
    if windows:
        artifacts: list[object] = rng.sample(WINDOWS_EXTRAS, extras + 1)
        base = WINDOWS_BASE
    else:
        # A package list of its own gives every Linux image its own content hash.
        own = {
            "name": "linux-apt-package",
            "parameters": {"packages": f"tool-{name.rsplit('-', 1)[-1]}"},
        }
        artifacts = [own, *rng.sample(LINUX_EXTRAS, extras)]
        base = LINUX_BASE
    return {
        "description": f"Generated image {name}",
        "os_type": "Windows" if windows else "Linux",
        "base": {"gallery": dict(base)},
        "artifacts": artifacts,
    }


def write_seed_file(spec: FleetSpec, path: Path) -> Path:
    """Write an emulator seed with the factory lab and the fleet's team labs."""
    labs = [{"name": FACTORY_LAB, "resource_group": RESOURCE_GROUP, "kind": "factory"}]
    labs += [
        {"name": name, "resource_group": RESOURCE_GROUP, "kind": "team"}
        for name in spec.team_labs()
    ]
    seed = {"subscription_id": SUBSCRIPTION_ID, "labs": labs}
    path.write_text(yaml.safe_dump(seed, sort_keys=False), encoding="utf-8")
    return path
