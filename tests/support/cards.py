"""The project's test CA key file (kiosk/resources/ca_keys.json) for the kernel's tests."""

from __future__ import annotations

from drivers.sim.pki import TEST_CA_KEYS_PATH as CA_KEYS

__all__ = ["CA_KEYS"]
