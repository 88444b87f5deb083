"""The logs of every process of a full run contain no secret.

The run goes through the whole stack (dev host, emulator, Azurite) with
faults that make the app log errors: a VM whose artifact fails with a
message that contains a SAS URL, and an expired SAS on a blob copy. Signed
and badly signed webhook deliveries that start no run come first. The scan
then looks for every secret value the test can read (webhook secret, host keys, the
emulator's identity header, the Azurite account key, each generated VM
admin password) and for anything shaped like a SAS signature, a bearer
token or a JWT.

The run is a manual run of two images of its own, so that it leaves the
example images to the push tests, whose first run expects to build them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts.localstack import REPO_ROOT, ConfigRepo, LocalStack
from scripts.localstack.endpoints import AZURITE_ACCOUNT_KEY
from tests.e2e.test_push_pipeline import tasks_of, wait_for_run
from tests.payloads import encode, github_headers, github_push

pytestmark = pytest.mark.e2e

PASSWORD_FILE_VARIABLE = "FACTORY_TEST_PASSWORD_FILE"
# Loaded by the dev host's interpreter at start (Python imports a
# sitecustomize module from sys.path): it records each VM admin password
# that the build stage generates, so that the scan can look for it.
PASSWORD_RECORDER = """
import os

import shared.pipeline.build as build

_generate_password = build.generate_password


def _recording_generate_password():
    password = _generate_password()
    with open(os.environ["FACTORY_TEST_PASSWORD_FILE"], "a", encoding="utf-8") as file:
        file.write(password + "\\n")
    return password


build.generate_password = _recording_generate_password
"""
CONTROL_LOGGER = " emulator.controls: "
PIPELINE_STAGES = ("plan", "build", "capture", "distribute", "finalize", "retire")
FAKE_SIGNATURE = "c2VjcmV0LXNpZ25hdHVyZS1mcm9tLWFuLWFydGlmYWN0"
FAILING_ARTIFACT = "linux-run-bash"
SECRET_SHAPES = {
    "SAS signature": re.compile(r"(?i)[?&]sig=(?!REDACTED)[^&\s'\"]+"),
    "bearer token": re.compile(r"(?i)bearer\s+(?!REDACTED)[A-Za-z0-9\-_.~+/]{8,}"),
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\."),
    "account key": re.compile(r"(?i)accountkey=(?!REDACTED)[^;\s\"']+"),
}

IMAGE_THAT_COPIES = "linux/logscan-copy"
IMAGE_THAT_FAILS = "linux/logscan-fail"
IMAGE_FILES = {
    f"images/{IMAGE_THAT_COPIES}.yaml": """\
description: Ubuntu 22.04 with jq, built by the log scan test
os_type: Linux
base:
  gallery:
    publisher: Canonical
    offer: 0001-com-ubuntu-server-jammy
    sku: 22_04-lts-gen2
artifacts:
  - name: linux-apt-package
    parameters:
      packages: jq
""",
    f"images/{IMAGE_THAT_FAILS}.yaml": f"""\
description: Ubuntu 22.04 whose script artifact fails in the log scan test
os_type: Linux
base:
  gallery:
    publisher: Canonical
    offer: 0001-com-ubuntu-server-jammy
    sku: 22_04-lts-gen2
artifacts:
  - name: {FAILING_ARTIFACT}
    parameters:
      scriptFileUris: ["https://example.com/scripts/setup.sh"]
      scriptToRun: setup.sh
""",
}


@dataclass
class ScannedRun:
    """A finished run with faults, and what the scan needs to know about it."""

    stack: LocalStack
    run: dict[str, Any]
    passwords: list[str]
    faults: list[dict[str, Any]]


@pytest.fixture(scope="module")
def password_file(
    stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """Restart the dev host with the password recorder; restore it afterwards."""
    directory = tmp_path_factory.mktemp("password-recorder")
    (directory / "sitecustomize.py").write_text(PASSWORD_RECORDER, encoding="utf-8")
    passwords = directory / "passwords.txt"
    python_path = [str(directory), str(REPO_ROOT)]
    if os.environ.get("PYTHONPATH"):
        python_path.append(os.environ["PYTHONPATH"])
    added = {
        "PYTHONPATH": os.pathsep.join(python_path),
        PASSWORD_FILE_VARIABLE: str(passwords),
    }
    stack.extra_settings.update(added)
    stack.restart_devhost(kill=False)
    try:
        yield passwords
    finally:
        for name in added:
            stack.extra_settings.pop(name, None)
        stack.restart_devhost(kill=False)


@pytest.fixture(scope="module")
def scanned_run(
    stack: LocalStack, config_repo: ConfigRepo, password_file: Path
) -> ScannedRun:
    controls = stack.emulator.control_endpoint
    session = requests.Session()
    session.trust_env = False
    session.verify = stack.emulator.ca_bundle
    rules = [
        {
            "kind": "artifact_failure",
            "artifact": FAILING_ARTIFACT,
            "count": 1,
            "message": "setup.sh exited with 1 while fetching https://labstore.blob."
            f"core.windows.net/scripts/setup.sh?sv=2024-08-04&sig={FAKE_SIGNATURE}",
        },
        # Upload blobs are named <custom image>.vhd; OS disks have no suffix.
        {"kind": "blob_copy_failure", "name": r".*\.vhd", "count": 1},
    ]
    for rule in rules:
        session.post(f"{controls}/faults", json=rule, timeout=10).raise_for_status()
    try:
        send_webhooks_without_run(stack)
        config_repo.commit(IMAGE_FILES, "Add the log scan images")
        response = stack.api().post(
            "/api/runs", json={"images": [IMAGE_THAT_COPIES, IMAGE_THAT_FAILS]}
        )
        assert response.status_code == 202, response.text
        run = wait_for_run(stack, response.json()["run_id"])
        faults = session.get(f"{controls}/faults", timeout=10).json()["faults"]
    finally:
        session.delete(f"{controls}/faults", timeout=10).raise_for_status()
        session.close()

    passwords = password_file.read_text(encoding="utf-8").split()
    return ScannedRun(stack, run, passwords, faults)


def send_webhooks_without_run(stack: LocalStack) -> None:
    """Send a signed ping and a push signed with a wrong secret."""
    ping = b'{"zen": "Design for failure."}'
    headers = github_headers(ping, stack.webhook_secret, event="ping")
    response = stack.api().post("/api/webhooks/github", data=ping, headers=headers)
    assert response.status_code == 200, response.text

    body = encode(github_push(after="c" * 40))
    headers = github_headers(body, "not-the-webhook-secret")
    response = stack.api().post("/api/webhooks/github", data=body, headers=headers)
    assert response.status_code == 401, response.text


def read_logs(stack: LocalStack) -> dict[str, str]:
    """Return the text of every log the stack's processes wrote, by file name.

    The emulator's lines about its test controls are left out: they echo
    the fault rules, and with them the fake signature that this test sends.
    """
    paths = sorted((stack.state_dir / "logs").glob("*.log"))
    paths.append(stack.state_dir / "emulator" / "requests.jsonl")
    logs = {}
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        logs[path.name] = "".join(line for line in lines if CONTROL_LOGGER not in line)
    return logs


def known_secrets(stack: LocalStack, passwords: list[str]) -> dict[str, str]:
    """Return every secret value of the stack, by a name for the report."""
    secrets = {
        "webhook secret": stack.webhook_secret,
        "function key": stack.function_key,
        "master key": stack.master_key,
        "identity header": stack.emulator.identity_header,
        "Azurite account key": AZURITE_ACCOUNT_KEY,
        "fake SAS signature": FAKE_SIGNATURE,
    }
    emulator_secrets = stack.state_dir / "emulator" / "secrets.json"
    if emulator_secrets.exists():
        for name, value in json.loads(emulator_secrets.read_text()).items():
            if isinstance(value, str):
                secrets[f"emulator {name}"] = value
    for index, password in enumerate(passwords):
        secrets[f"VM admin password {index + 1}"] = password
    return secrets


def test_run_built_and_failed_as_planned(scanned_run: ScannedRun) -> None:
    builds = {t["image"]: t for t in tasks_of(scanned_run.run, "build")}
    assert builds[IMAGE_THAT_COPIES]["status"] == "succeeded"
    assert builds[IMAGE_THAT_FAILS]["status"] == "failed"
    assert tasks_of(scanned_run.run, "copy")
    assert len(scanned_run.passwords) >= 2, "expected a VM password per build"


def test_faults_were_injected(scanned_run: ScannedRun) -> None:
    injected = {rule["kind"]: rule["injected"] for rule in scanned_run.faults}
    assert injected["artifact_failure"] == 1
    assert injected["blob_copy_failure"] == 1


def test_logs_contain_no_known_secret(scanned_run: ScannedRun) -> None:
    logs = read_logs(scanned_run.stack)
    secrets = known_secrets(scanned_run.stack, scanned_run.passwords)
    found = [
        f"{name} in {file}"
        for name, value in secrets.items()
        for file, text in logs.items()
        if value and value in text
    ]
    assert found == []


@pytest.mark.parametrize("shape", sorted(SECRET_SHAPES))
def test_logs_contain_no_secret_shape(scanned_run: ScannedRun, shape: str) -> None:
    pattern = SECRET_SHAPES[shape]
    found = [
        f"{file}: {line.strip()[:200]}"
        for file, text in read_logs(scanned_run.stack).items()
        for line in text.splitlines()
        if pattern.search(line)
    ]
    assert found == []


def test_api_errors_contain_no_signature(scanned_run: ScannedRun) -> None:
    errors = [scanned_run.run["run"]["error"] or ""]
    errors += [task["error"] or "" for task in scanned_run.run["tasks"]]
    assert any("setup.sh exited with 1" in error for error in errors)
    assert [error for error in errors if FAKE_SIGNATURE in error] == []
    signature = SECRET_SHAPES["SAS signature"]
    assert [error for error in errors if signature.search(error)] == []


def test_app_log_lines_carry_context(scanned_run: ScannedRun) -> None:
    """Every app line about the run names its stage; stage lines name the run."""
    run_id = scanned_run.run["run"]["run_id"]
    app_lines = [
        line
        for line in read_logs(scanned_run.stack)["devhost.log"].splitlines()
        if " shared." in line and run_id in line
    ]
    stage_lines = [
        line
        for line in app_lines
        if any(f" stage={stage}]" in line for stage in PIPELINE_STAGES)
    ]
    assert stage_lines
    assert [line for line in app_lines if "stage=" not in line] == []
    assert [line for line in stage_lines if f"[run_id={run_id} " not in line] == []
