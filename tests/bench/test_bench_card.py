"""Card interaction over a real pcscd + vpcd: the contactless card phase (PPSE to cryptogram),
split into transport and kernel time, with the APDU count. Kernel time is the same read with the
card answering in process (no PC/SC, no socket)."""

from __future__ import annotations

import time
from datetime import date

import pytest

from drivers.emv.kernel import read_contactless
from drivers.pcsc.terminal import PcscCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.emv_card import EmvCardApp
from drivers.sim.vpcd import VirtualCard
from tests.support.pcsc import READER

pytestmark = pytest.mark.usefixtures("pcscd")
CARD = TEST_CARDS["visa_contactless"]


def test_bench_contactless_card_phase(benchmark) -> None:
    card = VirtualCard(EmvCardApp(CARD).apdu)
    card.insert()
    terminal = PcscCardTerminal(READER)
    totals: list[float] = []
    try:
        def one() -> None:
            t = time.perf_counter()
            assert terminal.read_card(5000, "EUR", 10).pan == CARD.pan
            totals.append(time.perf_counter() - t)

        rounds = 50 if benchmark.enabled else 2
        benchmark.pedantic(one, rounds=rounds, iterations=1, warmup_rounds=1)
    finally:
        card.remove()
    kernel: list[float] = []
    for _ in range(rounds):
        app = EmvCardApp(CARD)
        t = time.perf_counter()
        read_contactless(app.apdu, amount_minor=5000, currency_numeric="978",
                         country_numeric="276", today=date.today())
        kernel.append(time.perf_counter() - t)
    totals.sort()
    kernel.sort()
    med, k = totals[len(totals) // 2], kernel[len(kernel) // 2]
    print(f"\ncontactless card phase over pcscd+vpcd: median {med * 1e3:.1f} ms "
          f"({terminal.last_apdus} APDUs); kernel + card in process {k * 1e3:.1f} ms; "
          f"transport about {(med - k) * 1e3:.1f} ms")
