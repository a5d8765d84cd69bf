"""The ``kiosk`` command fails closed: production is the default, simulators need --demo, keys
are made once by ``kiosk provision``; every refusal is one line and exit code 2, never a
traceback (real processes, real files)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.sim.keys import TEST_IK_ID, sim_terminal_initial_key
from kiosk.config import DEFAULT_CONFIG_PATH, load_config
from kiosk.security.provisioning import (
    CARD_TOKEN_KEY,
    INVOICE_TOKEN_KEY,
    ProvisioningError,
    load_terminal_keys,
)
from tests.support.production import pin_key, production_config

ROOT = Path(__file__).resolve().parents[2]


def kiosk(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    if home is not None:  # where a default journal would go: nothing may land in the real one
        env["EVKIOSK_DATA_DIR"] = str(home)
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True,
                          text=True, timeout=60, env=env, check=False)


def refused(proc: subprocess.CompletedProcess[str], message: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr  # one clear line


def test_kiosk_run_without_a_config_or_demo_is_refused(tmp_path: Path) -> None:
    proc = kiosk("run", home=tmp_path / "data")
    refused(proc, "kiosk: run: no config: production needs its file")
    assert "kiosk run --demo" in proc.stderr and "--config" in proc.stderr
    assert not (tmp_path / "data").exists()  # nothing was started or created


def test_kiosk_run_on_the_demo_file_without_demo_is_refused(tmp_path: Path) -> None:
    proc = kiosk("run", "--config", str(DEFAULT_CONFIG_PATH), home=tmp_path / "data")
    refused(proc, "reader.kind = 'sim' runs a simulator: only with kiosk run --demo")
    assert not (tmp_path / "data").exists()


def test_check_config_refuses_simulators_in_a_production_file(tmp_path: Path) -> None:
    p = production_config(tmp_path, charger=['kind = "sim"'])
    refused(kiosk("check-config", str(p)),
            f"{p}: charger.kind = 'sim' runs a simulator: only with kiosk run --demo")
    ok = kiosk("check-config", "--demo", str(p))
    assert ok.returncode == 0 and '"demo": true' in ok.stdout
    refused(kiosk("check-config", str(DEFAULT_CONFIG_PATH)), "reader.kind = 'sim'")
    p = production_config(tmp_path, drop=("host",))
    refused(kiosk("check-config", str(p)), f"{p}: host: missing: outside demo there is no "
                                           f"built-in payment host")


def test_check_config_accepts_a_production_file(tmp_path: Path) -> None:
    proc = kiosk("check-config", str(production_config(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    assert '"demo": false' in proc.stdout and '"tls": true' in proc.stdout


def test_kiosk_provision_creates_the_keys_once(tmp_path: Path) -> None:
    p = production_config(tmp_path / "etc")
    journal = tmp_path / "data" / "journal.sqlite"
    cfg = load_config(p)
    with pytest.raises(ProvisioningError, match="kiosk provision"):
        load_terminal_keys(cfg, journal.parent, demo=False)
    proc = kiosk("provision", "--config", str(p), "--journal", str(journal))
    assert proc.returncode == 0, proc.stderr
    folder = journal.parent
    assert proc.stdout.splitlines()[:3] == [f"created {folder}",
                                            f"created {folder / CARD_TOKEN_KEY}",
                                            f"created {folder / INVOICE_TOKEN_KEY}"]
    assert "checked" in proc.stdout
    assert folder.stat().st_mode & 0o777 == 0o700
    keys = {n: (folder / n).read_bytes() for n in (CARD_TOKEN_KEY, INVOICE_TOKEN_KEY)}
    assert all((folder / n).stat().st_mode & 0o777 == 0o600 for n in keys)
    load_terminal_keys(cfg, folder, demo=False)  # the kiosk starts on them
    again = kiosk("provision", "--config", str(p), "--journal", str(journal))
    assert again.returncode == 0 and "nothing to create" in again.stdout
    assert {n: (folder / n).read_bytes() for n in keys} == keys  # never overwritten
    (folder / CARD_TOKEN_KEY).chmod(0o644)
    refused(kiosk("provision", "--config", str(p), "--journal", str(journal)),
            "card-token.key: mode 0644, a key file must be 0600")


def test_kiosk_run_in_production_without_provisioned_keys_is_refused(tmp_path: Path) -> None:
    p = production_config(tmp_path / "etc")
    journal = tmp_path / "data" / "journal.sqlite"
    proc = kiosk("run", "--config", str(p), "--journal", str(journal))
    assert proc.returncode == 2, proc.stderr
    assert f"kiosk: {journal.parent / CARD_TOKEN_KEY}: missing: this key is created once, by " \
           f"kiosk provision" in proc.stderr or "the data folder does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (journal.parent / CARD_TOKEN_KEY).exists()  # never made by itself


def test_kiosk_provision_refuses_a_demo_config_and_test_keys(tmp_path: Path) -> None:
    refused(kiosk("provision", "--config", str(DEFAULT_CONFIG_PATH), "--journal",
                  str(tmp_path / "data" / "j.sqlite")), "reader.kind = 'sim'")
    p = production_config(tmp_path / "etc")
    pin_key(tmp_path / "etc" / "pin.key", initial_key=sim_terminal_initial_key(),
            key_id=TEST_IK_ID)
    refused(kiosk("provision", "--config", str(p), "--journal", str(tmp_path / "d" / "j.sqlite")),
            "pin.key: a TEST key")


def test_run_app_turns_a_key_problem_into_one_line_and_sets_a_private_umask(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import kiosk.app

    seen: list[int] = []

    def build_runtime(config: object, **_: object) -> object:
        mask = os.umask(0o077)
        seen.append(mask)
        raise ProvisioningError(f"{tmp_path}/card-token.key: missing: this key is created once")

    monkeypatch.setattr(kiosk.app, "build_runtime", build_runtime)
    old = os.umask(0o022)
    try:
        cfg = load_config(DEFAULT_CONFIG_PATH, demo=True)
        assert kiosk.app.run_app(cfg, journal_path=tmp_path / "j.sqlite") == 2
    finally:
        os.umask(old)
    assert seen == [0o077]
    err = capsys.readouterr().err
    assert err == f"kiosk: {tmp_path}/card-token.key: missing: this key is created once\n"
