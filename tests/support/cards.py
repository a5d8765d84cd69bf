"""The project's test CA key file (resources/ca_keys.json) for the kernel's tests."""

from __future__ import annotations

from pathlib import Path

CA_KEYS = Path(__file__).resolve().parents[2] / "resources" / "ca_keys.json"
