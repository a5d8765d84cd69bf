"""TEST KEYS of the simulators. Public test values (the ANSI X9.24-3 supplement's AES-128 BDK
and initial key ID): never use them with real cards or a real host."""

from __future__ import annotations

from drivers.acquirer.dukpt import aes_initial_key

TEST_BDK_AES128 = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
TEST_IK_ID = bytes.fromhex("1234567890123456")


def sim_terminal_initial_key() -> bytes:
    """What key injection would load into a simulated terminal."""
    return aes_initial_key(TEST_BDK_AES128, TEST_IK_ID)
