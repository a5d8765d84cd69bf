"""Payment host figures over loopback TCP: the kiosk side of one ISO 8583 authorization
(build, encode, connect, send, read, decode, check every echoed field; median and p99), the
echo test (0800) the health monitor runs, and the simulator's throughput for 1,000
authorizations from 8 parallel clients."""

from __future__ import annotations

import threading
import time

from drivers.acquirer.api import AuthRequest
from drivers.acquirer.iso_link import IsoHostLink
from drivers.sim.cards import TEST_CARDS
from drivers.sim.host import HostSimulator
from tests.bench.stats import median_p99

CARD = TEST_CARDS["visa_contactless"]


def request(i: int) -> AuthRequest:
    return AuthRequest(ref=f"bench-{i}-{time.monotonic_ns()}", amount_minor=5000,
                       currency="EUR", pan=CARD.pan, expiry=CARD.expiry)


def test_bench_authorization_round_trip(benchmark) -> None:
    host = HostSimulator()
    host.start()
    link = IsoHostLink("127.0.0.1", host.port, terminal_id="BENCH001", merchant_id="BENCH",
                       currency="EUR")
    samples: list[float] = []
    counter = iter(range(10**9))
    try:
        def one() -> None:
            t = time.perf_counter()
            assert link.authorize(request(next(counter))).approved
            samples.append(time.perf_counter() - t)

        benchmark.pedantic(one, rounds=500 if benchmark.enabled else 3, iterations=1)
        p50, p99 = median_p99(samples)
        print(f"\nISO 8583 authorization over loopback: median {p50 * 1e3:.2f} ms, "
              f"p99 {p99 * 1e3:.2f} ms (kiosk and simulator in one process)")
    finally:
        host.stop()


def test_bench_echo_round_trip(benchmark) -> None:
    host = HostSimulator()
    host.start()
    link = IsoHostLink("127.0.0.1", host.port, terminal_id="BENCH001", merchant_id="BENCH",
                       currency="EUR")
    samples: list[float] = []
    try:
        benchmark.pedantic(lambda: samples.append(link.echo()),
                           rounds=500 if benchmark.enabled else 3, iterations=1)
        p50, p99 = median_p99(samples)
        print(f"\nISO 8583 echo test (0800) over loopback: median {p50 * 1e3:.2f} ms, "
              f"p99 {p99 * 1e3:.2f} ms (as the link measures it: connect to answer)")
    finally:
        host.stop()


def test_bench_simulator_throughput(benchmark) -> None:
    host = HostSimulator()
    host.start()
    total = 1000 if benchmark.enabled else 40
    try:
        def run() -> float:
            link = IsoHostLink("127.0.0.1", host.port, terminal_id="BENCH002",
                               merchant_id="BENCH", currency="EUR")
            per = total // 8

            def client(c: int) -> None:
                for i in range(per):
                    assert link.authorize(request(c * per + i)).approved

            t = time.perf_counter()
            threads = [threading.Thread(target=client, args=(c,)) for c in range(8)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            return per * 8 / (time.perf_counter() - t)

        rate = benchmark.pedantic(run, rounds=1, iterations=1)
        print(f"\nhost simulator: {rate:,.0f} authorizations per second ({total} from 8 clients)")
    finally:
        host.stop()
