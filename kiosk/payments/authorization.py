"""The authorization flow above the host link: preauthorization and incremental
authorization, on the host worker thread.

The card's PAN and PIN block go from the card device into the request and are dropped. What
the host's answer means is decided on types, never on message text:

* :class:`~drivers.acquirer.api.HostUnavailable`: the request surely never reached the host,
  nothing is held → a decline the driver can retry;
* any other :class:`~drivers.acquirer.api.HostError` (no answer, a broken link, an answer that
  breaks the rules: another reference, terminal or currency, more than was asked): the outcome
  is unknown → ``HostTimedOut``, and the session queues a reversal advice;
* approved, but the card refuses at its second GENERATE AC → ``CardDeclined`` with the amount
  the host approved, which the session reverses.

What the driver is told is chosen here from the same types and from the ISO 8583 response
code (:func:`~kiosk.session.says.for_response_code`); the host's and the card's texts go to
the log (once, here) and to the session as the technician's detail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from drivers.acquirer.api import AuthRequest, HostError, HostUnavailable, PaymentHost
from drivers.emv.api import Interface
from kiosk.devices.card import CardDevice
from kiosk.devices.worker import Worker
from kiosk.session import effects as fx
from kiosk.session import events as ev
from kiosk.session.says import Say, for_response_code

log = logging.getLogger(__name__)


class Authorizations:
    def __init__(self, host: PaymentHost, card: CardDevice, *,
                 post: Callable[[ev.Event], None], currency: str) -> None:
        self.host = host
        self.card = card
        self.post = post
        self.currency = currency
        self.worker = Worker("kiosk-host")

    def close(self) -> None:
        self.worker.stop()

    def authorize(self, e: fx.Authorize) -> None:
        self.worker.submit(lambda: self._authorize(e))

    def increment(self, e: fx.Increment) -> None:
        self.worker.submit(lambda: self._increment(e))

    def _authorize(self, e: fx.Authorize) -> None:
        card, pin = self.card.take(e.session_id)
        if card is None:  # only after a restart, and recovery never re-authorizes
            log.error("authorization without a card read", extra={
                "fields": {"session": e.session_id}})
            self.post(ev.HostDeclined(e.session_id, "card", "no card read waits for this "
                                      "authorization", say=Say.PAYMENT_FAILED))
            return
        needs_completion = card.needs_completion
        req = AuthRequest(ref=e.ref, amount_minor=e.amount_minor, currency=self.currency,
                          pan=card.pan, expiry=card.expiry, icc_data=card.icc_data,
                          pin_block=pin.block if pin else b"", pin_ksn=pin.ksn if pin else b"",
                          entry_mode="071" if card.interface is Interface.CONTACTLESS else "051")
        del card, pin
        try:
            result = self.host.authorize(req)
        except HostUnavailable as exc:  # never reached the host: nothing to reverse
            log.warning("authorization not sent: %s: %s", type(exc).__name__, exc,
                        extra={"fields": {"session": e.session_id}})
            self.card.finish(e.session_id, needs_completion, False, b"")
            self.post(ev.HostDeclined(e.session_id, "unavailable", str(exc),
                                      say=Say.SERVICE_UNREACHABLE))
            return
        except HostError as exc:  # timeout, broken link or a rule-breaking answer: unknown
            log.warning("authorization outcome unknown: %s: %s", type(exc).__name__, exc,
                        extra={"fields": {"session": e.session_id}})
            self.card.finish(e.session_id, needs_completion, False, b"")
            self.post(ev.HostTimedOut(e.session_id))
            return
        finally:
            del req
        done = self.card.finish(e.session_id, needs_completion, result.approved,
                                result.icc_response)
        fields = {"session": e.session_id}
        if result.approved and not done.approved:  # the card refused what the host allowed
            detail = done.message or "the card declined (AAC)"
            log.warning("the card refused the approved hold: %s", detail,
                        extra={"fields": {**fields, "removed": done.removed}})
            self.post(ev.CardDeclined(
                e.session_id, detail, result.approved_minor,
                say=Say.CARD_REMOVED if done.removed else Say.DECLINED_BY_CARD))
        elif result.approved:
            self.post(ev.HostApproved(e.session_id, result.auth_code, result.approved_minor))
        else:
            log.info("authorization declined: response code %s", result.response_code,
                     extra={"fields": fields})
            self.post(ev.HostDeclined(e.session_id, result.response_code, result.message,
                                      say=for_response_code(result.response_code)))

    def _increment(self, e: fx.Increment) -> None:
        try:
            result = self.host.increment(e.ref, e.amount_minor, e.new_total_minor)
        except HostError as exc:
            log.warning("increment failed: %s: %s", type(exc).__name__, exc,
                        extra={"fields": {"session": e.session_id}})
            self.post(ev.IncrementDeclined(e.session_id, f"{type(exc).__name__}: {exc}"))
            return
        if result.approved:
            self.post(ev.IncrementApproved(e.session_id, e.new_total_minor))
        else:
            log.info("increment declined: response code %s", result.response_code,
                     extra={"fields": {"session": e.session_id}})
            self.post(ev.IncrementDeclined(
                e.session_id, f"response code {result.response_code}: {result.message}"))
