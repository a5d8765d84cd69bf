"""Builds the running kiosk from its config, and is the one face of it the UI talks to.

No Qt here: the same runtime runs under the window (``kiosk/app.py``), in headless scripts and
in tests. The parts:

* :mod:`kiosk.devices.registry` opens the devices the config names (simulators only in demo);
* :class:`DeviceAdapters` routes the machine's effects to the device workers
  (:mod:`kiosk.devices`) and the payment flows (:mod:`kiosk.payments`);
* :class:`~kiosk.payments.settlement.SettlementQueue` settles ended sessions in the background;
* :class:`~kiosk.records.uploader.Uploader` sends the outbox's batches to the back office in the
  background (when ``backoffice.url`` is set and not ``offline``), kicked when a session queues
  records;
* :class:`~kiosk.maintenance.remote.RemoteUpdates` asks the back office for signed config,
  tariff and member list updates (outside demo, with the config file to update); a config or
  a tariff applied asks for a restart (:meth:`Runtime.request_restart`: the window quits with
  :data:`RESTART_EXIT_CODE` when no driver's session runs, and the service starts the kiosk
  again), a member list does not;
* :class:`~kiosk.billing.member_file.MemberFile` (``members.json`` in the data folder) gives
  a card read the card's member plan (:meth:`DeviceAdapters._card_post`), read again when the
  file changes; the screens show the member's prices (:meth:`Runtime.member_display`);
* :class:`~kiosk.health.Health` says whether the terminal is in service;
  :class:`~kiosk.records.health_upload.HealthUpload` queues each change of it as a record for
  the back office (uploaded or exported like the sessions' records), kicking the uploader;
* stop with the same card: while a session charges and nobody is starting one, the card
  device identifies a presented card and stops the session it started
  (:meth:`~kiosk.devices.card.CardDevice.watch_for`); another card is a
  :class:`~kiosk.devices.card.NotTheSameCard` for :attr:`Runtime.card_notices`;
* :class:`Runtime` is what the UI uses: start a session, post the driver's events, hand over a
  PIN, read the prices, the health and whether a payment is still pending.

A journal write that fails switches every charger off directly (``ChargerDevice.all_off``, on
the runner's thread, without the journal) and takes the terminal out of service until writes
work again (the runner then resumes the sessions from their journaled steps).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drivers.acquirer.api import PaymentHost
from drivers.acquirer.pin import PinEncryptor
from drivers.charger.api import Charger
from drivers.emv.api import CardTerminal
from kiosk.billing.display import PriceDisplay, price_display
from kiosk.billing.live import TariffBook
from kiosk.billing.member_file import MEMBERS_FILE, MemberFile, member_tariff, plan_of
from kiosk.billing.tariff import Tariff, load_tariffs, simple_tariff
from kiosk.config import KioskConfig
from kiosk.devices.card import BACKSTOP_MARGIN_S, CardDevice, CardNotice
from kiosk.devices.charger import ChargerDevice
from kiosk.devices.registry import UnsupportedDevice, open_devices
from kiosk.devices.watch import HealthWatch
from kiosk.health import JOURNAL, MSG_JOURNAL, Health
from kiosk.journal.runner import Busy, OutOfService, Runner
from kiosk.journal.store import FAILED, Journal, JournalError, JournalWriteError
from kiosk.maintenance.mode import AUDIT, MSG_AUDIT, HealthAudit, Maintenance
from kiosk.maintenance.remote import RemoteUpdates
from kiosk.maintenance.updates import LIVE_KINDS, Update
from kiosk.payments.authorization import Authorizations
from kiosk.payments.settlement import SettlementQueue
from kiosk.records.documents import Documents
from kiosk.records.health_upload import HealthUpload
from kiosk.records.outbox import OutboxError
from kiosk.records.uploader import Uploader, UploaderError, UploadStatus
from kiosk.security.audit import AuditError, AuditLog, verify_file
from kiosk.security.technicians import Access
from kiosk.session import effects as fx
from kiosk.session import events as ev
from kiosk.session.machine import Outcome, Policy, Session, SessionMachine, State

log = logging.getLogger(__name__)
SETTLEMENT_JOURNAL = f"{JOURNAL} (settlement queue)"
# a session in one of these uses the card reader: no card is identified to stop another
READER_STATES = (State.READING_CARD, State.PIN_ENTRY, State.AUTHORIZING)

Clock = Callable[[], datetime]
__all__ = ["Busy", "DeviceAdapters", "OutOfService", "Runtime", "UnsupportedDevice",
           "build_runtime"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def tariffs_from(config: KioskConfig) -> list[Tariff]:
    path = config.tariff_path()
    if path is not None:
        return load_tariffs(path)  # checked when the config was loaded
    t = config.tariff
    return [simple_tariff(config.station.currency, energy_per_kwh=t.energy_price_per_kwh,
                          time_per_hour=t.time_price_per_hour, session_fee=t.session_fee,
                          vat=t.vat_percent)]


def policy_from(config: KioskConfig, book: TariffBook) -> Policy:
    p = config.payment
    return Policy(
        hold_minor=config.to_minor(p.hold_amount),
        pricer=book.price,
        tracker=book.track,
        bills_parking=book.bills_parking,
        increment_minor=config.to_minor(p.increment_amount),
        max_total_hold_minor=config.to_minor(p.max_total_hold),
        threshold_percent=p.hold_threshold_percent,
        allow_increments=p.allow_increments,
        host_timeout_s=math.ceil(config.host.timeout_s) + 5,
        card_timeout_s=config.ui.card_timeout_s,
        pin_timeout_s=config.ui.pin_timeout_s,
        plug_timeout_s=config.ui.plug_timeout_s,
        stop_timeout_s=config.charger.stop_timeout_s,
        receipt_timeout_s=config.ui.receipt_timeout_s,
        message_timeout_s=config.ui.message_timeout_s,
    )


class DeviceAdapters:
    """Routes the machine's effects to the device workers and the payment flows."""

    def __init__(
        self,
        *,
        post: Callable[[ev.Event], None],
        card_terminal: CardTerminal,
        host: PaymentHost,
        charger: Charger,
        currency: str,
        token_key: bytes,
        clock: Clock,
        card_timeout_s: float = 60.0,
        pin_encryptor: PinEncryptor | None = None,
        max_current_a: dict[int, int] | None = None,
        health: Health | None = None,
        settlement: SettlementQueue | None = None,
        pin_timeout_s: float | None = None,
        members: MemberFile | None = None,
    ) -> None:
        self.members = members
        self._post = post
        self.card = CardDevice(card_terminal, post=self._card_post if members else post,
                               currency=currency, token_key=token_key,
                               card_timeout_s=card_timeout_s, pin_timeout_s=pin_timeout_s,
                               pin_encryptor=pin_encryptor)
        self.charger = ChargerDevice(charger, post=post, clock=clock,
                                     max_current_a=max_current_a, health=health)
        self.payments = Authorizations(host, self.card, post=post, currency=currency)
        self.settlement = settlement

    def __call__(self, effect: fx.Effect) -> None:
        match effect:
            case fx.ReadCard():
                self.card.read(effect)
            case fx.CancelCardRead():
                self.card.cancel_read(effect.session_id)
            case fx.AskPin():
                pass  # the screen shows the PIN pad because the session is in PIN_ENTRY
            case fx.Authorize():
                self.payments.authorize(effect)
            case fx.Increment():
                self.payments.increment(effect)
            case fx.EnableCharger():
                self.charger.enable(effect.connector)
            case fx.DisableCharger():
                self.charger.disable(effect.connector)
            case fx.Settle():
                self.card.forget(effect.session_id)
                if self.settlement is not None:
                    self.settlement.added(effect.session_id)  # journaled with the step
            case _:
                log.error("no adapter for effect %s", type(effect).__name__)

    def _card_post(self, event: ev.Event) -> None:
        """The card device's events; a card read carries the card's member plan valid now
        (the member list, :class:`~kiosk.billing.member_file.MemberFile`, by token)."""
        if isinstance(event, ev.CardRead) and self.members is not None:
            plan = None
            try:
                plan = self.members.plan_for(event.token)
            except Exception:  # never the card read's end: the full price
                log.exception("member plan")
            if plan is not None:
                event = replace(event, plan_id=plan.id, plan_name=plan.name,
                                plan_percent=str(plan.percent_off))
        self._post(event)

    def submit_pin(self, session_id: str, pin: str) -> None:
        self.card.submit_pin(session_id, pin)

    def probe(self, connector: int) -> tuple[bool, int | None]:
        return self.charger.probe(connector)

    def close(self) -> None:
        self.payments.close()  # first: an authorization ending now still completes its card
        self.card.close()
        self.charger.close()


@dataclass
class Runtime:
    config: KioskConfig
    journal: Journal
    machine: SessionMachine
    runner: Runner
    adapters: DeviceAdapters
    card_terminal: CardTerminal
    charger: Charger
    host: PaymentHost
    tariffs: TariffBook
    clock: Clock
    health: Health
    settlement: SettlementQueue
    watch: HealthWatch | None = None
    uploader: Uploader | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)  # for the technician's uptime
    audit: AuditLog | None = None  # every maintenance action and health change
    maintenance: Maintenance | None = None  # the technicians' mode
    remote_updates: RemoteUpdates | None = None  # signed updates from the back office
    health_upload: HealthUpload | None = None  # each health change queued as a record
    restart_reason: str = ""  # an update was applied: restart when no driver's session runs
    displays: dict[tuple[int, str], PriceDisplay] = field(default_factory=dict)
    member_displays: dict[tuple[int, str, str, str], PriceDisplay] = field(
        default_factory=dict)
    # told (on the card worker's thread) when a card presented while charging is not the
    # card of any charging session
    card_notices: list[Callable[[CardNotice], None]] = field(default_factory=list)

    def _card_notice(self, notice: CardNotice) -> None:
        for listener in list(self.card_notices):
            listener(notice)

    @property
    def currency(self) -> str:
        return self.config.station.currency

    # --- what the UI asks -----------------------------------------------------------------
    def member_display(self, session: Session, lang: str = "") -> PriceDisplay | None:
        """The unit prices a member pays (the tariff of ``session``'s start, its plan taken
        off), for the screens after the card read; None without a plan."""
        plan = plan_of(session)
        if plan is None:
            return None
        at = session.marks[0].at if session.marks else session.created_at
        pricer = self.tariffs.for_start(at)
        key = (id(pricer), plan.id, str(plan.percent_off), lang or self.config.ui.language)
        shown = self.member_displays.get(key)
        if shown is None:
            shown = self.member_displays[key] = price_display(
                member_tariff(pricer.tariff, plan), lang=key[3],
                hold_minor=self.config.to_minor(self.config.payment.hold_amount))
        return shown

    def member_status(self) -> tuple[bool, str]:
        """The member list's state for the technician (ok, one line)."""
        members = self.adapters.members
        if members is None:
            return True, "no member list"
        st = members.status()
        return st.ok, st.text

    def price_display(self, lang: str = "") -> PriceDisplay | None:
        """The prices of the tariff valid now, for the idle screen; None: no valid tariff."""
        pricer = self.tariffs.at(self.clock())
        if pricer is None:
            return None
        key = (id(pricer), lang or self.config.ui.language)
        shown = self.displays.get(key)
        if shown is None:  # once per tariff and language: the idle screen asks twice a second
            shown = self.displays[key] = price_display(
                pricer.tariff, lang=key[1],
                hold_minor=self.config.to_minor(self.config.payment.hold_amount))
        return shown

    def active(self) -> Session | None:
        return self.runner.active()

    def start_session(self, connector: int) -> Session:
        """Raises :class:`Busy` (or :class:`OutOfService`) when no session can start."""
        if not self.health.in_service:
            raise OutOfService("; ".join(self.health.reasons()))
        return self.runner.start_session(connector)

    def post(self, event: ev.Event) -> None:
        self.runner.post(event)

    def submit_pin(self, session_id: str, pin: str) -> None:
        self.adapters.submit_pin(session_id, pin)

    def settlement_pending(self, session_id: str) -> bool:
        """Is the payment of ``session_id`` not (yet) acknowledged by the host? Also True when
        the host refused it for good: the driver has not paid, an operator settles it."""
        if self.settlement.pending(session_id):
            return True
        job = self.journal.settlement(session_id)
        return job is not None and job.status == FAILED

    def session_on(self, connector: int) -> Session | None:
        return self.runner.session_on(connector)

    def upload_status(self) -> UploadStatus | None:
        """What the uploader is doing; None when the terminal does not upload (no
        ``backoffice.url``, ``offline``, or built with ``upload=False``)."""
        return None if self.uploader is None else self.uploader.status()

    # --- life -----------------------------------------------------------------------------
    def request_restart(self, reason: str) -> None:
        """An update was applied (it takes effect at the next start): the window restarts the
        kiosk (exit status :data:`RESTART_EXIT_CODE`) as soon as no driver's session runs and
        the maintenance mode is closed. Audited; asking again keeps the first reason."""
        if self.restart_reason:
            return
        self.restart_reason = reason or "restart asked"
        log.warning("restart asked: %s", self.restart_reason)
        if self.audit is not None:
            try:
                self.audit.append("system", "restart asked", {"reason": self.restart_reason})
            except (AuditError, ValueError) as exc:
                log.error("audit: %s", exc)

    def may_restart(self) -> bool:
        """A restart was asked, no driver's session runs and the maintenance mode is not
        open."""
        mode = self.maintenance
        return (bool(self.restart_reason) and not self.runner.sessions
                and (mode is None or mode.state == "closed"))

    def recover(self) -> int:
        found = len(self.runner.recover(self.adapters.probe))
        self.settlement.kick()
        if self.uploader is not None:
            self.uploader.kick()
        return found

    def close(self) -> None:
        self.runner.stop_thread()  # no step runs while the devices and the journal close
        if self.health_upload in self.health.listeners:  # closing is no change of health
            self.health.listeners.remove(self.health_upload)
        if self.watch is not None:
            self.watch.close()
        if self.remote_updates is not None:
            self.remote_updates.close()
        if self.uploader is not None:
            self.uploader.close()
        self.settlement.close()
        self.adapters.close()
        for close in reversed(self.closers):
            try:
                close()
            except Exception:
                log.exception("error while closing")
        if self.audit is not None:
            self.audit.close()
        self.journal.close()


RESTART_EXIT_CODE = 75  # kiosk run's exit status when it quits to take an update (EX_TEMPFAIL)


def build_runtime(
    config: KioskConfig,
    *,
    clock: Clock = utc_now,
    journal_path: Path | None = None,
    card_terminal: CardTerminal | None = None,
    charger: Charger | None = None,
    host: PaymentHost | None = None,
    watch: bool = True,
    upload: bool = True,
    config_path: Path | None = None,
) -> Runtime:
    """The kiosk of ``config``. Devices passed in (tests) replace the configured ones;
    ``watch=False`` leaves out the background health checks (reader, disk, host echo);
    ``upload=False`` the uploader (records stay in the outbox) and the back office's updates;
    ``config_path``: the file ``config`` was read from, which updates from the back office
    replace (None: none are asked for)."""
    from kiosk.security.provisioning import load_terminal_keys

    path = journal_path or config.journal_path()
    keys = load_terminal_keys(config, path.parent, demo=config.demo)  # before any file is made
    journal = Journal(path, outbox_key=keys.outbox_key)  # the outbox sealed at rest
    try:
        # an altered audit log stops the kiosk (AuditTampered names the entry): someone must
        # look before the terminal takes payments again (move the file aside: a new chain)
        audit = AuditLog(path.parent, keys.signing_key, check="tail") if keys.signing_key \
            else None
    except BaseException:
        journal.close()
        raise
    try:
        devices = open_devices(config, clock, card_terminal=card_terminal, charger=charger,
                               host=host)
    except BaseException:
        journal.close()
        if audit is not None:
            audit.close()
        raise
    health = Health(clock, phone=config.station.service_phone)
    book = TariffBook(tariffs_from(config), ZoneInfo(config.station.timezone))
    machine = SessionMachine(policy_from(config, book))
    docs = Documents(config, book, keys.invoice_key)
    runner = Runner(machine, journal, clock=clock, record_builder=docs.record,
                    invoice_for=docs.invoice_for, captured_records=docs.captured_records)

    def journal_trouble(exc: JournalError) -> None:
        health.report(JOURNAL, False, MSG_JOURNAL, str(exc))

    def queue_journal(exc: JournalError | None) -> None:
        health.report(SETTLEMENT_JOURNAL, exc is None, MSG_JOURNAL, str(exc or ""))

    settlement = SettlementQueue(journal, devices.host, clock=clock,
                                 station_id=config.station.id,
                                 currency=config.station.currency, on_journal=queue_journal,
                                 retry_s=config.payment.settle_retry_s,
                                 retry_max_s=config.payment.settle_retry_max_s)
    adapters = DeviceAdapters(
        post=runner.post, card_terminal=devices.card_terminal, host=devices.host,
        charger=devices.charger, currency=config.station.currency,
        token_key=keys.card_token_key, clock=clock, pin_encryptor=keys.pin_encryptor,
        # backstops: the session's deadline, which the driver may extend, ends a wait first
        card_timeout_s=machine.policy.longest_wait_s(config.ui.card_timeout_s) + BACKSTOP_MARGIN_S,
        pin_timeout_s=machine.policy.longest_wait_s(config.ui.pin_timeout_s) + BACKSTOP_MARGIN_S,
        max_current_a={c.id: c.max_current_a for c in config.connectors}, health=health,
        settlement=settlement,
        members=MemberFile(path.parent / MEMBERS_FILE, currency=config.station.currency,
                           zone=book.zone, clock=clock))
    runner.executor = adapters

    def journal_failed(exc: JournalWriteError) -> None:
        adapters.charger.all_off()  # first, and without the journal
        journal_trouble(exc)

    runner.on_journal_failure = journal_failed
    def journal_back() -> None:
        health.report(JOURNAL, True)
        settlement.kick()

    runner.on_journal_back = journal_back
    health.listeners.append(_charger_off_when_out_of_service(adapters, runner))
    # after the chargers' listener (they go off first); records leave by upload or by USB
    # export, so always. Once now: a part that failed while the devices opened is recorded too
    health_upload = HealthUpload(journal, station_id=config.station.id, clock=clock)
    health.listeners.append(health_upload)
    health_upload.started(health)  # a new timeline: the last run's problems ended with it
    health_upload(health)
    runner.listeners.append(_stop_with_the_same_card(adapters.card, runner))
    rt = Runtime(config, journal, machine, runner, adapters, devices.card_terminal,
                 devices.charger, devices.host, book, clock, health, settlement,
                 closers=devices.closers, health_upload=health_upload)
    adapters.card.on_notice = rt._card_notice
    if audit is not None:
        rt.audit = audit
        audit.append("system", "started", {"version": _version(), "demo": config.demo})
        health.listeners.append(HealthAudit(audit))
        rt.maintenance = Maintenance(path.parent, Access(path.parent), audit, health,
                                     lambda: len(runner.sessions),
                                     idle_timeout_s=config.maintenance.idle_timeout_s)
        # the whole chain, checked once after the start (opening checked only its end)
        threading.Thread(target=_check_audit, args=(path.parent, audit, health),
                         name="kiosk-audit-check", daemon=True).start()
    if upload and config.backoffice.uploads():
        try:
            rt.uploader = _uploader(config, journal, keys.signing_key, clock)
        except (UploaderError, OutboxError) as exc:  # a CA file changed since the config check
            rt.close()
            raise UnsupportedDevice(str(exc)) from None
        except BaseException:
            rt.close()
            raise
        runner.listeners.append(_kick_when_records_queued(rt.uploader))
        settlement.on_finished = rt.uploader.kick  # the settlement record is queued
        health_upload.kick = rt.uploader.kick  # a health record is queued
    if rt.uploader is not None and config_path is not None and _asks_for_updates(config):
        rt.remote_updates = _remote_updates(rt, config_path, keys.signing_key, path.parent)
    settlement.start()
    if rt.uploader is not None:
        rt.uploader.start()
    if rt.remote_updates is not None:
        rt.remote_updates.start()
    if watch:
        h = config.health
        rt.watch = HealthWatch(health, journal_dir=path.parent,
                               card_terminal=devices.card_terminal, host=devices.host,
                               echo_interval_s=h.host_echo_interval_s,
                               host_down_after_s=h.host_down_after_s,
                               min_free_bytes=h.min_free_mb * 1024 * 1024)
        rt.watch.start()
    return rt


def _check_audit(folder: Path, audit: AuditLog, health: Health) -> None:
    """The full audit check: an altered log takes the terminal out of service."""
    try:
        n = verify_file(folder, audit.public_key)
    except AuditError as exc:
        log.critical("audit log: %s", exc)
        health.report(AUDIT, False, MSG_AUDIT, str(exc))
        return
    log.info("audit log verified: %d entries", n)


def _version() -> str:
    from kiosk.maintenance.status import version

    return version()


def _uploader(config: KioskConfig, journal: Journal, signing_key: Ed25519PrivateKey | None,
              clock: Clock) -> Uploader:
    from kiosk.security.provisioning import terminal_id

    if signing_key is None:  # load_terminal_keys always gives one
        raise UploaderError("no terminal signing key: kiosk provision --config FILE")
    b = config.backoffice
    return Uploader(journal, terminal_id(config), signing_key, clock=clock, url=b.url,
                    ca_file=b.ca_file or None, interval_s=b.upload_interval_s,
                    retry_s=b.upload_retry_s, retry_max_s=b.upload_retry_max_s,
                    timeout_s=b.timeout_s)


def _asks_for_updates(config: KioskConfig) -> bool:
    m = config.maintenance
    return not config.demo and bool(m.operator_key) and m.update_poll_s > 0


def _restart_for(update: Update) -> str:
    """Why an update from the back office restarts the kiosk; "" for a member list (the
    runtime reads ``members.json`` again at the next card)."""
    if update.kind in LIVE_KINDS:
        return ""
    return f"the {update.kind} update {update.sequence} from the back office"


def _remote_updates(rt: Runtime, config_path: Path, signing_key: Ed25519PrivateKey | None,
                    data_dir: Path) -> RemoteUpdates:
    from kiosk.maintenance.updates import Updates
    from kiosk.security.provisioning import terminal_id

    assert signing_key is not None  # the uploader runs, so there is one
    config = rt.config

    def applied(update: Update) -> None:
        reason = _restart_for(update)
        if reason:
            rt.request_restart(reason)

    b = config.backoffice
    try:
        return RemoteUpdates(
            Updates(data_dir, config_path, config, clock=rt.clock),
            terminal_id=terminal_id(config), signing_key=signing_key, url=b.url,
            ca_file=b.ca_file or None, clock=rt.clock,
            interval_s=config.maintenance.update_poll_s, timeout_s=b.timeout_s,
            audit=rt.audit, on_applied=applied)
    except UploaderError as exc:  # the uploader was built from the same settings just now
        rt.close()
        raise UnsupportedDevice(str(exc)) from None


def _kick_when_records_queued(uploader: Uploader) -> Callable[[Session], None]:
    """A session queues its records (session, invoice, CDR) in the step that gives it an
    outcome: then the uploader is kicked. (A settlement's record follows later, from the
    settlement queue, which kicks it too: ``SettlementQueue.on_finished``.)"""
    seen: dict[str, Outcome] = {}

    def listener(s: Session) -> None:
        before = seen.pop(s.id, Outcome.NONE)
        if not s.finished:
            seen[s.id] = s.outcome
        if s.outcome is not before:
            uploader.kick()
    return listener


def _stop_with_the_same_card(card: CardDevice, runner: Runner) -> Callable[[Session], None]:
    """After every step: the card tokens of the charging sessions go to the card device,
    which identifies presented cards while there are any; none while a session uses the
    reader (a card presented then starts that session, as without a charge)."""
    def listener(_s: Session) -> None:
        live = list(runner.sessions.values())
        busy = any(s.state in READER_STATES for s in live)
        card.watch_for({} if busy else {s.id: s.token for s in live
                                        if s.state is State.CHARGING and s.token})
    return listener


def _charger_off_when_out_of_service(adapters: DeviceAdapters, runner: Runner
                                     ) -> Callable[[Health], None]:
    """Out of service → every idle connector off (a charging session is stopped by its own
    fault or by the journal hook; a reader or host problem does not end a paid charge)."""
    def listener(health: Health) -> None:
        if health.in_service:
            return
        for c in adapters.charger.charger.connectors:
            if runner.session_on(c) is None:
                adapters.charger.disable(c)  # on the charger's worker
    return listener
