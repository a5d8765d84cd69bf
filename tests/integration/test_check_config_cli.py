"""``kiosk check-config`` in a real process on files that are not files: a FIFO (opening one
waits for a writer: the check must not hang), ``/dev/zero`` and ``/dev/urandom`` (endless: the
check must not read them), as the config and as each file the config names. Each run has a
timeout and a memory limit, so a regression fails here instead of filling the machine."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.production import production_config

ROOT = Path(__file__).resolve().parents[2]
MEMORY_LIMIT = 2 << 30  # far more than a check needs, far less than /dev/zero would take


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def check_config(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "kiosk.cli", "check-config", *args],
                          capture_output=True, text=True, timeout=30, env=env, check=False,
                          preexec_fn=_limit_memory)


def refused(proc: subprocess.CompletedProcess[str], start: str, message: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr  # one line
    assert proc.stderr.startswith(f"kiosk: {start}: "), proc.stderr
    assert message in proc.stderr, proc.stderr


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_device_as_the_config(device: str) -> None:
    refused(check_config("--demo", device), device,
            "cannot read: a character device, not a regular file")


def test_a_fifo_as_the_config_does_not_hang(fifo: Path) -> None:
    refused(check_config("--demo", str(fifo)), str(fifo),
            "cannot read: a named pipe (FIFO), not a regular file")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "FIFO"])
def test_an_endless_device_or_a_fifo_as_the_tariff(tmp_path: Path, fifo: Path,
                                                   device: str) -> None:
    name = str(fifo) if device == "FIFO" else device
    p = tmp_path / "k.toml"
    p.write_text(f'schema_version = 1\n[tariff]\nfile = "{name}"\n')
    refused(check_config("--demo", str(p)), str(p), f"tariff.file: {name}: cannot read: ")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "FIFO"])
def test_an_endless_device_or_a_fifo_as_a_key_or_ca_file(tmp_path: Path, fifo: Path,
                                                         device: str) -> None:
    name = str(fifo) if device == "FIFO" else device
    etc = tmp_path / "etc"
    for section, key in (("host", "ca_file"), ("host", "pin_key_file"), ("reader", "ca_keys")):
        p = production_config(etc, edits={section: [f'{key} = "{name}"']})
        refused(check_config(str(p)), str(p), f"{section}.{key}: {name}: cannot read: ")


@pytest.mark.parametrize("key", ["journal", "logging"])
def test_a_fifo_or_a_device_as_the_journal_or_the_log(tmp_path: Path, fifo: Path,
                                                      key: str) -> None:
    for name, message in ((str(fifo), "a named pipe (FIFO), not a regular file"),
                          ("/dev/zero", "under /dev, a kernel file system")):
        p = tmp_path / "k.toml"
        p.write_text(f'schema_version = 1\n[{key}]\npath = "{name}"\n')
        refused(check_config("--demo", str(p)), str(p), f"{key}.path: {name}: {message}")


def test_a_good_config_still_passes(tmp_path: Path) -> None:
    proc = check_config(str(production_config(tmp_path / "etc")))
    assert proc.returncode == 0, proc.stderr
    assert '"baud": 115200' in proc.stdout
