"""Card interaction over a real pcscd + vpcd, split into transport, kernel and card time, with
the APDU count: the contactless card phase (PPSE to cryptogram) and the contact path to the
first GENERATE AC (offline enciphered PIN and CDA; the PIN is typed instantly, so the driver's
typing is excluded).

Total: ``PcscCardTerminal.read_card`` with the virtual card on vpcd. Kernel: the same read with
the card answering in process, minus the time spent inside the card (its RSA signatures, its
MACs). Transport: total minus in-process.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from drivers.emv.api import Interface
from drivers.emv.capk import CaKeyStore
from drivers.emv.transaction import Transaction
from drivers.emv.transmit import transmit
from drivers.pcsc.terminal import PcscCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.emv_card import EmvCardApp
from drivers.sim.vpcd import VirtualCard
from tests.bench.stats import percentile
from tests.support.cards import CA_KEYS
from tests.support.pcsc import READER

pytestmark = pytest.mark.usefixtures("pcscd")


def _timed_card(app: EmvCardApp) -> tuple[Callable[[bytes], bytes], list[float]]:
    spent = [0.0]

    def card(apdu: bytes) -> bytes:
        t = time.perf_counter()
        try:
            return app.apdu(apdu)
        finally:
            spent[0] += time.perf_counter() - t
    return card, spent


@pytest.mark.parametrize("name", ["visa_contactless", "mastercard_contact_cda"])
def test_bench_card_phase(benchmark, name: str) -> None:
    card = TEST_CARDS[name]
    store = CaKeyStore.load(CA_KEYS)
    app = EmvCardApp(card)
    vc = VirtualCard(app.apdu, atr=app.atr)
    vc.insert()
    terminal = PcscCardTerminal(READER, ca_keys=store)
    totals: list[float] = []
    try:
        def one() -> None:
            t = time.perf_counter()
            outcome = terminal.read_card(5000, "EUR", 10, pin_entry=lambda req: card.offline_pin)
            totals.append(time.perf_counter() - t)
            assert outcome.pan == card.pan
            terminal.complete(False, b"")

        rounds = 30 if benchmark.enabled else 2
        benchmark.pedantic(one, rounds=rounds, iterations=1, warmup_rounds=1)
    finally:
        vc.remove()
    inproc: list[float] = []
    kernel: list[float] = []
    apdus = 0
    for _ in range(rounds):
        app = EmvCardApp(card)
        answer, spent = _timed_card(app)
        sent = [0]

        def counted(apdu: bytes, answer=answer, sent=sent) -> bytes:
            sent[0] += 1
            return answer(apdu)
        tx = Transaction(lambda a, counted=counted: transmit(counted, a), card.interface,
                         ca_keys=store, pin_entry=lambda req: card.offline_pin)
        t = time.perf_counter()
        tx.run(5000, "978")
        total = time.perf_counter() - t
        inproc.append(total)
        kernel.append(total - spent[0])
        apdus = sent[0]
    med, inp, k = (percentile(v, 50) for v in (totals, inproc, kernel))
    what = "contactless card phase" if card.interface is Interface.CONTACTLESS else \
        "contact to first GENERATE AC"
    print(f"\n{name}: {what} over pcscd+vpcd median {med * 1e3:.1f} ms "
          f"(p95 {percentile(totals, 95) * 1e3:.1f} ms, {terminal.last_apdus} APDUs); "
          f"kernel {k * 1e3:.2f} ms; card in process {(inp - k) * 1e3:.2f} ms; "
          f"transport {(med - inp) * 1e3:.1f} ms ({apdus} APDUs in process)")
