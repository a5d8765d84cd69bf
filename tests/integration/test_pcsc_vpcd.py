"""The card path over a real pcscd with vsmartcard's vpcd reader and the virtual EMV cards:
transmission (61xx chaining), the contactless kernel, removed and garbage cards, and a whole
paid session with ``reader.kind = "pcsc"``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from drivers.emv.api import CardRemoved, CardUnreadable, NoCard
from drivers.emv.capk import CaKeyStore
from drivers.emv.transmit import with_le
from drivers.pcsc.terminal import PcscCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.charger import SimCharger
from drivers.sim.clock import SimClock
from drivers.sim.cryptogram import issuer_check
from drivers.sim.emv_card import EmvCardApp
from drivers.sim.host import HostSimulator
from drivers.sim.vpcd import VirtualCard
from kiosk.config import RESOURCES, parse_config
from kiosk.runtime import build_runtime
from kiosk.session import events as ev
from kiosk.session.machine import Outcome, State
from tests.support.cards import CA_KEYS
from tests.support.pcsc import READER

pytestmark = pytest.mark.usefixtures("pcscd")


@pytest.fixture
def insert() -> Iterator:
    cards: list[VirtualCard] = []

    def put(name: str, **kw: object) -> VirtualCard:
        app = EmvCardApp(TEST_CARDS[name], **kw)
        card = VirtualCard(app.apdu, atr=app.atr)
        card.insert()
        cards.append(card)
        return card

    yield put
    for c in cards:
        c.remove()
    time.sleep(0.6)  # let the reader see it empty (pcscd polls about every 400 ms)


def read(terminal: PcscCardTerminal, amount: int = 5000):
    return terminal.read_card(amount, "EUR", 10)


def test_contactless_read_over_pcscd(insert) -> None:
    insert("visa_contactless")
    terminal = PcscCardTerminal(READER, ca_keys=CaKeyStore.load(CA_KEYS))
    out = read(terminal)
    card = TEST_CARDS["visa_contactless"]
    assert (out.pan, out.expiry, out.scheme) == (card.pan, card.expiry, "visa")
    assert issuer_check(out.icc_data, out.pan, True)[0]  # a real ARQC, checked by the issuer
    assert terminal.last_apdus == 6  # PPSE, AID, GPO, the signed record, two certificate ones
    assert terminal.last_protocol == "T=1"  # the contactless pseudo-ATR offers T=1
    assert terminal.last is not None and terminal.last.oda.ok  # fDDA


def test_t0_style_card_with_chained_get_response(insert) -> None:
    vc = insert("mastercard_pin", t0_style=True)
    terminal = PcscCardTerminal(READER)
    out = read(terminal)
    assert out.pan == TEST_CARDS["mastercard_pin"].pan and out.needs_completion
    assert not terminal.complete(False, b"").approved  # the card's AAC, then it is released
    assert terminal.last is not None and terminal.last.oda.ok is False  # no CA keys given
    # every answer with data was announced by 61xx and fetched by GET RESPONSE
    assert terminal.last_apdus == vc.apdus and vc.apdus > 20
    assert terminal.last_protocol == "T=0"  # the contact ATR offers T=0 only


def test_card_pulled_out_mid_transaction(insert) -> None:
    insert("removed_card")
    with pytest.raises(CardRemoved):
        read(PcscCardTerminal(READER))


def test_card_answering_garbage(insert) -> None:
    insert("garbage_card")
    with pytest.raises(CardUnreadable):
        read(PcscCardTerminal(READER))


def test_no_card_then_cancel() -> None:
    terminal = PcscCardTerminal(READER)
    threading.Timer(0.3, terminal.cancel).start()
    t = time.monotonic()
    with pytest.raises(NoCard, match="cancelled"):
        read(terminal)
    assert time.monotonic() - t < 5


def test_wrong_le_is_corrected() -> None:
    assert with_le(bytes.fromhex("00B2010C00"), 0x1A) == bytes.fromhex("00B2010C1A")
    assert with_le(bytes.fromhex("00A4040002AABB"), 0x10) == bytes.fromhex("00A4040002AABB10")
    assert with_le(bytes.fromhex("00A4040002AABB00"), 0x10) == bytes.fromhex("00A4040002AABB10")


def test_a_paid_session_with_the_pcsc_reader(insert, tmp_path: Path) -> None:
    host = HostSimulator()
    host.start()
    clock = SimClock(datetime(2026, 11, 25, 12, tzinfo=UTC))
    charger = SimCharger((1,), auto=False, clock=clock)
    cfg = parse_config(f"schema_version = 1\n[reader]\nkind = 'pcsc'\nname = '{READER}'\n"
                       f"[host]\nport = {host.port}\n", "<test>", RESOURCES, demo=True)
    rt = build_runtime(cfg, clock=clock.now, journal_path=tmp_path / "j.sqlite",
                       charger=charger, watch=False)
    try:
        s = rt.runner.start_session(1)
        insert("visa_contactless")
        end = time.monotonic() + 15
        while rt.runner.active().state is not State.WAIT_PLUG:
            assert time.monotonic() < end and rt.runner.active().state in (
                State.READING_CARD, State.AUTHORIZING), rt.runner.active().message
            rt.runner.wait_and_process(0.05)
        charger.plug(1)
        while rt.runner.active().state is not State.CHARGING:
            assert time.monotonic() < end, rt.runner.active().state
            rt.runner.wait_and_process(0.05)
        charger.advance(600)
        rt.runner.post(ev.StopRequested(s.id))
        while rt.runner.active().state is not State.RECEIPT:
            assert time.monotonic() < end, rt.runner.active().state
            rt.runner.wait_and_process(0.05)
        done = rt.runner.active()
        assert done.masked_pan == "476173******0119" and done.final_minor > 0
        assert rt.settlement.wait_idle(10)
        assert host.ledger()[s.id].captured_minor == done.final_minor
        rt.runner.post(ev.Dismissed(s.id))
        rt.runner.wait_and_process(0.5)
        assert rt.journal.session(s.id).outcome is Outcome.CAPTURED
    finally:
        rt.close()
        host.stop()
    assert date.today()


def test_card_info_command(insert) -> None:
    import json
    import os
    import subprocess
    import sys

    insert("visa_contactless")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-m", "kiosk.cli", "card-info", "--reader", READER,
                          "--timeout", "5"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(root)}, check=False)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    pan = TEST_CARDS["visa_contactless"].pan
    assert info["masked_pan"] == pan[:6] + "******" + pan[-4:] and pan not in out.stdout
    assert info["selected"] == "A0000000031010" and info["scheme"] == "visa"
    assert info["applications"][0]["label"] == "VISA CONTACTLESS" and info["expiry"] == "2029-12"
    assert info["interface"] == "contactless" and info["applications"][0]["kernel"] == 3
    assert info["oda"] == {"method": "fdda", "result": "ok"}  # with the config's CA keys


def test_card_info_on_a_contact_card_with_a_revoked_issuer(insert) -> None:
    from kiosk.maintenance.card_info import card_info

    insert("mastercard_revoked")
    code, info = card_info(READER, 5, CaKeyStore.load(CA_KEYS))
    assert code == 0 and info["interface"] == "contact"
    assert info["oda"] == {"method": "dda", "result": "failed",
                           "reason": "issuer certificate: revoked"}
    assert info["cvm_list"] == ["no CVM required, always"]
    assert "DDA failed" in info["tvr"]


def test_card_info_without_a_card() -> None:
    from drivers.emv.cvm import words
    from kiosk.maintenance.card_info import card_info

    code, info = card_info(READER, 0.3)
    assert code == 2 and info["error"] == "No card was presented."
    said = words(bytes(8) + bytes.fromhex("42031E031F00"))
    assert said[0] == ("enciphered PIN verified online, if the terminal supports the CVM; "
                       "if it fails, the next rule")
    assert said[1].startswith("signature") and said[2] == "no CVM required, always"


def test_pcscd_restart_reader_missing_meanwhile(pcscd, insert) -> None:
    """pcscd goes away (crash, update): the reader is reported missing, with a clear error;
    when it is back, cards are read again without restarting the kiosk."""
    from drivers.emv.api import ReaderUnavailable

    terminal = PcscCardTerminal(READER)
    pcscd.stop()
    try:
        with pytest.raises(ReaderUnavailable, match=r"not running|No card reader"):
            read(terminal)
    finally:
        pcscd.start()
    insert("visa_contactless")
    assert read(terminal).pan == TEST_CARDS["visa_contactless"].pan


def test_a_reader_that_is_not_there(pcscd) -> None:
    from drivers.emv.api import ReaderUnavailable

    with pytest.raises(ReaderUnavailable, match="No card reader matching"):
        read(PcscCardTerminal("Reader that was unplugged"))


def test_reader_watch_reports_cards_and_a_lost_reader(pcscd, insert) -> None:
    """Card in, card out (without touching the card), the reader gone with pcscd and back."""
    from queue import Queue

    from drivers.pcsc.reader import ReaderEvent, ReaderWatch

    events: Queue[ReaderEvent] = Queue()
    watch = ReaderWatch(READER, events.put, poll_s=0.05)
    terminal = PcscCardTerminal(READER)
    try:
        assert watch.reader_present and not watch.card_present and events.empty()
        assert terminal.available
        vc = insert("visa_contactless")
        assert events.get(timeout=5) is ReaderEvent.CARD_IN
        assert vc.apdus == 0  # nothing was sent to the card
        vc.remove()
        assert events.get(timeout=5) is ReaderEvent.CARD_OUT
        pcscd.stop()
        try:
            assert events.get(timeout=5) is ReaderEvent.READER_LOST
            end = time.monotonic() + 5
            while terminal.available and time.monotonic() < end:
                time.sleep(0.05)
            assert not terminal.available
        finally:
            pcscd.start()
        assert events.get(timeout=5) is ReaderEvent.READER_BACK
    finally:
        watch.stop()
        terminal.close()
    missing = ReaderWatch("Reader that was unplugged", events.put, poll_s=0.05)
    try:
        assert events.get(timeout=5) is ReaderEvent.READER_LOST and not missing.reader_present
    finally:
        missing.stop()


def test_the_technicians_card_test_on_the_pcsc_reader(insert, tmp_path: Path) -> None:
    """The maintenance mode's card test reads the card on the kiosk's own PC/SC terminal (on
    the card device's worker) as card-info does, masked."""
    import threading

    from kiosk.maintenance import actions

    cfg = parse_config(f"schema_version = 1\n[reader]\nkind = 'pcsc'\nname = '{READER}'\n",
                       "<test>", RESOURCES, demo=True)
    rt = build_runtime(cfg, journal_path=tmp_path / "j.sqlite", watch=False)
    try:
        insert("visa_contactless")
        result = actions.card_test(rt, threading.Event(), wait_s=10)
    finally:
        rt.close()
    pan = TEST_CARDS["visa_contactless"].pan
    assert result.ok, result.problem
    assert result.masked_pan == pan[:6] + "******" + pan[-4:]
    assert result.info["oda"] == {"method": "fdda", "result": "ok"}
    assert pan not in repr(result) and pan not in "\n".join(result.lines())
    assert any("A0000000031010 (selected)" in line for line in result.lines())
