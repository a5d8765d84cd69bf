"""The Modbus RTU meter (pymodbus) against the simulated SDM630 on a real pty, and the guard
that turns impossible counters into faults."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.charger.api import ChargerFaulted, MeterReading, PilotState
from drivers.charger.meter import MeterFault, MeterGuard, ModbusMeter, float_from_registers
from drivers.sim.evse import EvseSimulator
from drivers.sim.modbus_meter import ModbusMeterSimulator, crc16
from tests.support.evse import open_charger, wait_for

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def meter_sim(tmp_path: Path) -> Iterator[ModbusMeterSimulator]:
    s = ModbusMeterSimulator(tmp_path, energy_wh=12_345.0)
    yield s
    s.close()


def test_modbus_crc_known_values() -> None:
    assert crc16(bytes.fromhex("010300000001")) == 0x0A84  # sent as 84 0A
    assert crc16(bytes.fromhex("01030000000A")) == 0xCDC5


@given(st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_register_floats_round_trip(value: float) -> None:
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    assert float_from_registers(hi, lo) == value


def test_reads_energy_and_power(meter_sim: ModbusMeterSimulator) -> None:
    meter_sim.power_w = 11_000
    m = ModbusMeter(str(meter_sim.path))
    try:
        v = m.read()
        assert v.energy_wh == 12_345 and v.power_w == 11_000
        meter_sim.override_kwh = float("nan")
        with pytest.raises(MeterFault, match="not a number"):
            m.read()
    finally:
        m.close()


def test_a_silent_meter_is_a_fault(tmp_path: Path, meter_sim: ModbusMeterSimulator) -> None:
    meter_sim.address = 9  # answers another address: silence for us
    m = ModbusMeter(str(meter_sim.path), timeout_s=0.2)
    try:
        with pytest.raises(MeterFault):
            m.read()
    finally:
        m.close()


def test_guard_refuses_backwards_and_jumps() -> None:
    g = MeterGuard(max_power_w=22_000)
    assert g.check(1000, T0) == 1000
    assert g.check(1100, T0 + timedelta(seconds=10)) == 1100  # 36 kW x 10 s: fine with slack
    with pytest.raises(MeterFault, match="backwards"):
        g.check(1099, T0 + timedelta(seconds=11))
    with pytest.raises(MeterFault, match="jumped"):
        g.check(5000, T0 + timedelta(seconds=12))
    assert g.check(1100 + 22_000 * 3600 // 3600, T0 + timedelta(hours=1, seconds=10)) == 23_100


def test_the_charger_bills_from_the_modbus_meter(tmp_path: Path,
                                                 meter_sim: ModbusMeterSimulator) -> None:
    evse = EvseSimulator(tmp_path, speed=1)
    c, rec = open_charger(evse, meter=ModbusMeter(str(meter_sim.path)), max_power_w=22_000)
    try:
        evse.plug()
        c.enable(1)
        wait_for(lambda: c.status(1).state is PilotState.C, "charging")
        meter_sim.speed = 100  # 194 Wh a second: fast, yet within the guard at 22 kW
        meter_sim.power_w = 7_000
        wait_for(lambda: any(r.energy_wh >= 12_600 for r in rec.of(MeterReading)),
                 "readings from the MID meter")
        r = rec.of(MeterReading)[-1]
        assert r.power_w == 7_000  # the MID meter's power, not the controller's 7360 W
        assert 12_600 <= r.energy_wh <= meter_sim.energy_wh
        assert evse.energy_wh() < 2_000  # the controller's own counter is not what bills
        meter_sim.override_kwh = 5.0  # the counter goes backwards: a fault, not a price
        wait_for(lambda: rec.of(ChargerFaulted), "the meter fault")
        assert "backwards" in rec.of(ChargerFaulted)[0].message
        time.sleep(0.5)  # several more polls of the bad meter
        assert len(rec.of(ChargerFaulted)) == 1  # reported once, not every poll
    finally:
        c.close()
        evse.close()
