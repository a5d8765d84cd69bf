"""Key files on disk: 0600 and owned by the kiosk's user, never overwritten; TEST keys are
recognised; the log file is private."""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path

import pytest

from drivers.acquirer.dukpt import aes_initial_key, tdes_ipek
from drivers.sim.keys import TEST_BDK_AES128, TEST_IK_ID, sim_terminal_initial_key
from kiosk.logs import setup_logging
from kiosk.security.keys import (
    KEY_BYTES,
    KeyError_,
    check_key_folder,
    check_private_dir,
    create_key,
    dukpt_test_key_reason,
    load_key,
    load_or_create_key,
)
from tests.support import shared

SHARED = shared.VECTORS / "dukpt"
TDES_BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
TDES_IKSN = bytes.fromhex("FFFF9876543210E00000")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")


def test_a_key_is_created_0600_once_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "card-token.key"
    key = create_key(path)
    assert len(key) == KEY_BYTES and path.stat().st_mode & 0o777 == 0o600
    assert load_key(path) == key == load_or_create_key(path)
    with pytest.raises(KeyError_, match=r"card-token\.key: exists already: a key is never "
                                        r"overwritten"):
        create_key(path)
    assert load_key(path) == key


def test_a_key_created_under_a_loose_umask_is_still_0600(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        create_key(tmp_path / "k.key")
    finally:
        os.umask(old)
    assert (tmp_path / "k.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "card-token.key"
    create_key(path)
    path.chmod(mode)
    with pytest.raises(KeyError_, match=rf"card-token\.key: mode {mode:04o}, a key file must be "
                                        rf"0600 \(chmod 600 .*card-token\.key\)"):
        load_key(path)
    with pytest.raises(KeyError_, match="mode"):
        load_or_create_key(path)  # the demo's way refuses it too, and does not replace it


@needs_root
def test_a_key_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "invoice-token.key"
    create_key(path)
    os.chown(path, 65534, 65534)
    with pytest.raises(KeyError_, match=rf"invoice-token\.key: owned by uid 65534, the kiosk "
                                        rf"runs as uid {os.geteuid()}"):
        load_key(path)


def test_a_key_of_the_wrong_size_or_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    path.write_bytes(b"short")
    path.chmod(0o600)
    with pytest.raises(KeyError_, match="expected 32 bytes, found 5"):
        load_key(path)
    (tmp_path / "dir.key").mkdir(mode=0o700)
    with pytest.raises(KeyError_, match="not a regular file"):
        load_key(tmp_path / "dir.key")
    with pytest.raises(KeyError_, match="no such key file"):
        load_key(tmp_path / "none.key")


def test_the_data_folder_is_0700_and_owned_by_the_kiosk(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    check_private_dir(folder)
    folder.chmod(0o755)
    with pytest.raises(KeyError_, match=r"data: mode 0755, the data folder must be 0700 "
                                        r"\(chmod 700 .*data\)"):
        check_private_dir(folder)
    if os.geteuid() == 0:
        folder.chmod(0o700)
        os.chown(folder, 65534, 65534)
        with pytest.raises(KeyError_, match="data: owned by uid 65534"):
            check_private_dir(folder)


def test_the_folder_of_a_rewritten_key_is_writable_by_no_one_else(tmp_path: Path) -> None:
    check_key_folder(tmp_path)
    tmp_path.chmod(0o777)
    try:
        with pytest.raises(KeyError_, match="mode 0777, others can replace the key file"):
            check_key_folder(tmp_path)
    finally:
        tmp_path.chmod(0o700)


# --- TEST keys -----------------------------------------------------------------------------------

def test_the_published_dukpt_test_keys_are_recognised() -> None:
    assert "X9.24-3" in (dukpt_test_key_reason("aes", sim_terminal_initial_key(), TEST_IK_ID)
                         or "")  # the simulator's key
    other_id = bytes.fromhex("0011223344556677")
    reason = dukpt_test_key_reason("aes", aes_initial_key(TEST_BDK_AES128, other_id), other_id)
    assert reason is not None and "derived from" in reason and "X9.24-3" in reason
    ipek = tdes_ipek(TDES_BDK, TDES_IKSN)
    assert "X9.24-1" in (dukpt_test_key_reason("tdes", ipek, TDES_IKSN) or "")
    other_ksn = bytes.fromhex("FFFF0102030405E00000")
    reason = dukpt_test_key_reason("tdes", tdes_ipek(TDES_BDK, other_ksn), other_ksn)
    assert reason is not None and "derived from the TDES test BDK" in reason
    assert "BDK" in (dukpt_test_key_reason("aes", TEST_BDK_AES128, TEST_IK_ID) or "")
    # the literal published initial key, whatever key id comes with it
    assert dukpt_test_key_reason("aes", bytes.fromhex("1273671EA26AC29AFA4D1084127652A1"),
                                 bytes(8)) is not None
    for _ in range(20):
        assert dukpt_test_key_reason("aes", secrets.token_bytes(16),
                                     secrets.token_bytes(8)) is None
        assert dukpt_test_key_reason("tdes", secrets.token_bytes(16),
                                     secrets.token_bytes(10)) is None


@shared.needs(SHARED)
def test_the_keys_of_the_shared_vectors_are_recognised() -> None:
    d = json.loads((SHARED / "dukpt_tdes_test.json").read_text())
    bdk, iksn = bytes.fromhex(d["bdk"]["hex"]), bytes.fromhex(d["iksn"]["hex"])
    assert dukpt_test_key_reason("tdes", tdes_ipek(bdk, iksn), iksn) is not None
    assert dukpt_test_key_reason("tdes", bytes.fromhex(d["ik_verify"]["hex"]), iksn) is not None
    summary = json.loads((SHARED / "tdes_summary.json").read_text())["tdes"]
    assert dukpt_test_key_reason("tdes", bytes.fromhex(summary["IPEK"]),
                                 bytes.fromhex(summary["IKSN"])) is not None


# --- the log file ----------------------------------------------------------------------------

def test_the_log_file_is_created_0600_and_an_open_one_narrowed(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "kiosk.log"
    old = os.umask(0o022)
    try:
        handler = setup_logging("INFO", path)
        logging.getLogger("test").info("hello")
        assert path.stat().st_mode & 0o777 == 0o600
        assert json.loads(path.read_text().splitlines()[-1])["msg"] == "hello"
        logging.getLogger().removeHandler(handler)
        handler.close()
        path.chmod(0o644)
        handler = setup_logging("INFO", path)
        logging.getLogger("test").info("again")
        assert path.stat().st_mode & 0o777 == 0o600
        assert len(path.read_text().splitlines()) == 2  # appended, not replaced
    finally:
        os.umask(old)
        logging.getLogger().removeHandler(handler)
        handler.close()
