"""TEST KEYS of the simulators. Public test values (the ANSI X9.24-3 supplement's AES-128 BDK
and initial key ID): never use them with real cards or a real host."""

from __future__ import annotations

from drivers.acquirer.dukpt import aes_initial_key

TEST_BDK_AES128 = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
TEST_IK_ID = bytes.fromhex("1234567890123456")


def sim_terminal_initial_key() -> bytes:
    """What key injection would load into a simulated terminal."""
    return aes_initial_key(TEST_BDK_AES128, TEST_IK_ID)

# The issuer's application cryptogram master key of the simulated cards (TEST KEY: the value
# of pyemv's test suite); the host simulator knows it too.
TEST_IMK_AC = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
TEST_TERMINAL_COUNTRY = "0276"  # Germany
