"""A simulated Eastron SDM630-style meter: a Modbus RTU slave on a pseudo-terminal.

Answers function 04 (read input registers) with IEEE 754 big-endian floats: 30053 total power
(W) and 30073 import energy (kWh); other registers in 30001-30400 read as 0.0. A bad CRC gets
no answer (as on a real bus); an unknown function or register gets a Modbus exception. The
energy grows with ``power_w`` x elapsed time x ``speed``; tests may set it directly.
"""

from __future__ import annotations

import contextlib
import os
import select
import struct
import threading
import time
import tty
from pathlib import Path

POWER_REGISTER = 52  # 30053
IMPORT_REGISTER = 72  # 30073


def crc16(data: bytes) -> int:
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(frame: bytes) -> bytes:
    return frame + struct.pack("<H", crc16(frame))


class ModbusMeterSimulator:
    def __init__(self, directory: Path, *, address: int = 1, energy_wh: float = 1000.0,
                 speed: float = 1.0) -> None:
        self.path = Path(directory) / "ttyMETER0"
        self.address = address
        self.energy_wh = energy_wh
        self.power_w = 0.0
        self.speed = speed
        self.requests = 0
        self.override_kwh: float | None = None  # report this instead (tests: backwards, NaN)
        self._lock = threading.Lock()
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        self._master, self._slave = master, slave
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.path.symlink_to(os.ttyname(slave))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-meter", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _register_value(self, register: int) -> float:
        if register == POWER_REGISTER:
            return self.power_w
        if register == IMPORT_REGISTER:
            return self.override_kwh if self.override_kwh is not None else self.energy_wh / 1000
        return 0.0

    def _answer(self, frame: bytes) -> bytes:
        addr, func = frame[0], frame[1]
        if func != 0x04:
            return with_crc(bytes([addr, func | 0x80, 0x01]))
        start, count = struct.unpack(">HH", frame[2:6])
        if count == 0 or count > 80 or count % 2 or start % 2 or start + count > 400:
            return with_crc(bytes([addr, 0x84, 0x02]))
        data = b"".join(struct.pack(">f", self._register_value(r))
                        for r in range(start, start + count, 2))
        return with_crc(bytes([addr, 0x04, len(data)]) + data)

    def _run(self) -> None:
        buf = b""
        last = time.monotonic()
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.02)
                chunk = os.read(self._master, 256) if ready else b""
            except OSError:
                return
            now = time.monotonic()
            with self._lock:
                self.energy_wh += self.power_w * (now - last) * self.speed / 3600
                last = now
            buf += chunk
            while len(buf) >= 8:
                frame, buf = buf[:8], buf[8:]
                if crc16(frame[:6]) != struct.unpack("<H", frame[6:8])[0]:
                    buf = b""  # resync: drop everything until the next quiet gap
                    break
                if frame[0] != self.address:
                    continue
                self.requests += 1
                with self._lock:
                    answer = self._answer(frame)
                with contextlib.suppress(OSError):
                    os.write(self._master, answer)
