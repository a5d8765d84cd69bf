"""The charging + payment session as a pure state machine.

Theory of operation
-------------------
One :class:`Session` per driver transaction. ``SessionMachine.handle(session, event)`` returns
the next session snapshot and the effects to perform; it never performs I/O and never reads a
clock (time arrives in events). The runner writes (event, new snapshot, effects) to the journal
in one transaction *before* any effect runs, so after a power cut the journal knows exactly
where each session stood, and :class:`~kiosk.session.events.Recover` finishes it:

* no authorization sent yet → the session is dropped, no money moved;
* an authorization may be at the host with an unknown answer → reversal advice;
* approved, no energy delivered → reversal (void) of the amount held;
* charging still running → monitoring resumes; charging over → capture of the metered energy.

Settlement runs in the background: when a session knows what is owed it emits one
:class:`~kiosk.session.effects.Settle` (capture, reversal or reversal advice, a
:class:`~kiosk.session.effects.SettleKind`, never a text), which the runner journals in the same
commit as the step; the payments queue sends it, with the session's one reference, until the
host acknowledges it, across restarts. The session itself goes on at once to the receipt (or
the message), so a host outage never holds a connector or a driver. Every preauthorization
therefore ends in exactly one capture or one reversal.

A charger link that goes quiet (``ChargerLinkLost``) is shown to the driver at once
(:attr:`Session.notice`); the driver's fault after ``link_grace_s`` stops the session, and a
stop the charger cannot confirm settles on the last reading.

What the driver is told is typed: :attr:`Session.say` (a :class:`~kiosk.session.says.Say`) on
every end in DECLINED or ERROR, every PIN prompt and every stop the driver did not ask for, and
:attr:`Session.notice` for the passing condition; the screens word them. :attr:`Session.message`
is the technician's detail (English, may be technical), never shown to a driver. No decision
here reads a text: the ``Say`` comes from the event's type and typed fields.

Offline PIN is asked while the card read waits: ``PinRequested`` takes READING_CARD to
PIN_ENTRY, ``PinEntered(offline=True)`` takes it back (the card checks the PIN and may ask
again, or the read fails); a cancel or timeout in PIN_ENTRY cancels the read. A contact card
has the last word after the host answered: a card that refuses an approved hold
(``CardDeclined``) has the hold reversed and ends as a decline.

The table :data:`TRANSITIONS` lists every (state, event) pair a state accepts and the handler
that decides; :data:`IGNORED` lists the pairs that are benign late or duplicate arrivals (a host
answer after its timeout, a second stop press). Any other pair raises :class:`UnexpectedEvent`,
which names both.

``Tick`` and ``Recover`` are accepted in every live state. ``DONE`` accepts nothing.

Every timeout a driver faces can be extended (EN 301 549): in :data:`EXTENDABLE` states
(reading the card, the PIN, plugging in, the receipt, a decline or error message) the screen
warns :meth:`Policy.warn_before_s` before :attr:`Session.deadline` and offers *More time*;
``MoreTime`` restarts the state's full timeout (:meth:`Policy.timeout_s`) from now, at most
:attr:`Policy.max_extensions` times (:attr:`Session.extensions` counts them; a new state or a
new deadline starts a new count). :meth:`SessionMachine.timeout_warning` gives the screen all
of it. Beyond the limit, after the deadline, or in another state ``MoreTime`` changes nothing.
The card device's own waits are only a backstop longer than every extension
(:meth:`Policy.longest_wait_s`): the session's deadline decides, by ``Tick``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from kiosk.session import effects as fx
from kiosk.session import events as ev
from kiosk.session.codec import register, upgrade
from kiosk.session.holds import HoldAction, capture_amount, decide_hold
from kiosk.session.says import Say, for_response_code


class State(StrEnum):
    READING_CARD = "READING_CARD"
    PIN_ENTRY = "PIN_ENTRY"
    AUTHORIZING = "AUTHORIZING"
    WAIT_PLUG = "WAIT_PLUG"
    CHARGING = "CHARGING"
    STOPPING = "STOPPING"
    RECEIPT = "RECEIPT"
    DECLINED = "DECLINED"
    ERROR = "ERROR"  # ended without a charge; ``say`` tells the driver why, ``message`` details
    DONE = "DONE"


class Outcome(StrEnum):
    NONE = ""
    ABORTED = "aborted"  # ended before any authorization was sent
    DECLINED = "declined"
    CAPTURED = "captured"  # the capture of ``final_minor`` is queued (or done)
    REVERSED = "reversed"  # the release of the hold is queued (or done)


@register
@dataclass(frozen=True)
class Mark:
    """The start of a charging period (OCPI): where another price could begin to apply. The
    billing side decides where marks go (:attr:`Policy.tracker`); the machine keeps them."""

    at: datetime
    meter_wh: int
    power_w: int = 0
    charging: bool = True  # False: the car is plugged in but not charging (parking/idle)


@register
@dataclass(frozen=True)
class Session:
    """A snapshot of one session; the journal stores each one it passes through."""

    id: str
    connector: int
    state: State
    created_at: datetime
    updated_at: datetime
    seq: int = 0
    masked_pan: str = ""
    token: str = ""
    scheme: str = ""
    interface: str = ""  # how the card was read: "contact" | "contactless"; "": not (yet)
    # the member plan of the card (kiosk.billing.plans), fixed at the card read: "" none
    plan_id: str = ""
    plan_name: str = ""  # what the driver reads ("Night plan")
    plan_percent: str = ""  # the percent off, a decimal string ("15", "12.5")
    pin_offline: bool = False  # the PIN pad serves the card read (the card checks the PIN)
    auth_code: str = ""
    held_minor: int = 0  # what the host holds for us (authorized total)
    increment_pending: bool = False
    deadline: datetime | None = None  # the timer of the current state
    charge_started_at: datetime | None = None
    meter_start_wh: int = 0
    meter_now_wh: int = 0
    power_w: int = 0
    last_reading_at: datetime | None = None
    cost_minor: int = 0
    marks: tuple[Mark, ...] = ()
    parking_since: datetime | None = None  # the car stopped drawing but is still plugged in
    stop_reason: str = ""
    final_minor: int = 0
    outcome: Outcome = Outcome.NONE
    message: str = ""  # the technician's detail of ``say`` (English, may be technical)
    settle_kind: fx.SettleKind | None = None  # what the settlement queue was asked to do
    notice: Say = Say.NONE  # a passing condition the screen shows (the charger does not answer)
    say: Say = Say.NONE  # what the driver is told: why it ended, a PIN prompt, why it stopped
    pin_tries_left: int | None = None  # with a PIN say: the card's PIN try counter, if it tells
    language: str = ""  # the driver's choice on the screen (the invoice's); "": the station's
    extensions: int = 0  # MoreTime taken in this state (for this deadline); 0 in a new state

    @property
    def ref(self) -> str:
        """The host reference of this session's authorization, capture and reversal."""
        return self.id

    @property
    def energy_wh(self) -> int:
        return max(0, self.meter_now_wh - self.meter_start_wh)

    @property
    def duration_s(self) -> int:
        if self.charge_started_at is None or self.last_reading_at is None:
            return 0
        return max(0, int((self.last_reading_at - self.charge_started_at).total_seconds()))

    @property
    def finished(self) -> bool:
        return self.state is State.DONE


@upgrade(Session)
def _session_before_says(data: dict[str, Any]) -> dict[str, Any]:
    """Snapshots written before :class:`Say` had the driver's text in ``message`` and
    ``notice``: the notice (only ever the charger's silence) and a generic ``say`` for an
    ended session take their place; the old text stays in ``message`` as detail."""
    if "say" in data:
        return data
    data["notice"] = Say.CHARGER_NOT_ANSWERING.value if data.get("notice") else Say.NONE.value
    ended = {State.DECLINED.value: Say.DECLINED, State.ERROR.value: Say.PAYMENT_FAILED}
    data["say"] = ended.get(str(data.get("state")), Say.NONE).value
    return data


Pricer = Callable[["Session"], int]  # the session so far → amount incl. VAT, minor units
# (marks so far, the previous observation or None, the new one) → the new marks
Tracker = Callable[[tuple[Mark, ...], "Mark | None", Mark], tuple[Mark, ...]]


def simple_tracker(marks: tuple[Mark, ...], prev: Mark | None, new: Mark) -> tuple[Mark, ...]:
    """For tariffs without restrictions: a new period only when charging stops or resumes."""
    if not marks or marks[-1].charging != new.charging:
        return (*marks, new)
    return marks


@dataclass(frozen=True)
class Policy:
    """What the operator configured; the machine's only knobs."""

    hold_minor: int
    pricer: Pricer
    tracker: Tracker = simple_tracker
    bills_parking: bool = False  # the tariff charges idle time: a full car keeps the session
    increment_minor: int = 0
    max_total_hold_minor: int = 0
    threshold_percent: int = 90
    allow_increments: bool = False
    card_timeout_s: int = 60
    pin_timeout_s: int = 60
    host_timeout_s: int = 30  # backstop; the host adapter times out first
    plug_timeout_s: int = 180
    stop_timeout_s: int = 30
    receipt_timeout_s: int = 60
    message_timeout_s: int = 20
    max_extensions: int = 3  # MoreTime per state: how often a driver may restart a timeout

    def timeout_s(self, state: State) -> int | None:
        """The full timeout of ``state`` if the driver may extend it (:data:`EXTENDABLE`);
        None for the other states (their timers are the terminal's, not the driver's)."""
        return {
            State.READING_CARD: self.card_timeout_s,
            State.PIN_ENTRY: self.pin_timeout_s,
            State.WAIT_PLUG: self.plug_timeout_s,
            State.RECEIPT: self.receipt_timeout_s,
            State.DECLINED: self.message_timeout_s,
            State.ERROR: self.message_timeout_s,
        }.get(state)

    def warn_before_s(self, state: State) -> int | None:
        """How many seconds before the deadline of ``state`` the screen warns the driver (seen
        and heard) and offers *More time*: a third of the timeout, at most 20 s and at least
        5 s (a timeout under 5 s: the warning shows from the start). None: not extendable."""
        timeout = self.timeout_s(state)
        return None if timeout is None else max(5, min(20, timeout // 3))

    def longest_wait_s(self, timeout_s: float) -> float:
        """The longest a state with timer ``timeout_s`` can last when the driver takes every
        extension, each at the last moment: what a device's own wait must outlast (plus a
        margin) so that the session's deadline, not the device, ends the wait."""
        return timeout_s * (self.max_extensions + 1)


@dataclass(frozen=True)
class TimeoutWarning:
    """For the screen (:meth:`SessionMachine.timeout_warning`): from ``warn_at`` on, warn that
    the state ends at ``deadline``; ``more_time``: the *More time* button is offered (a
    ``MoreTime`` would still extend it)."""

    deadline: datetime
    warn_at: datetime
    more_time: bool


class UnexpectedEvent(Exception):
    """An event arrived in a state that cannot take it."""

    def __init__(self, state: State, event: ev.Event) -> None:
        super().__init__(f"state {state.value} cannot take event {type(event).__name__}")
        self.state = state
        self.event = event


Result = tuple[Session, list[fx.Effect]]
S = State
TRANSITIONS: dict[tuple[State, type[ev.Event]], str] = {
    (S.READING_CARD, ev.CardRead): "_card_read",            # → AUTHORIZING | PIN_ENTRY
    (S.READING_CARD, ev.CardFailed): "_card_failed",        # → ERROR
    (S.READING_CARD, ev.Cancelled): "_abort",               # → DONE
    (S.READING_CARD, ev.PinRequested): "_pin_requested",    # → PIN_ENTRY (offline PIN)
    (S.PIN_ENTRY, ev.PinRequested): "_pin_requested",       # the card asks again
    (S.PIN_ENTRY, ev.PinEntered): "_pin_entered",           # → AUTHORIZING | READING_CARD
    (S.PIN_ENTRY, ev.CardFailed): "_card_failed",           # the waiting read gave up → ERROR
    (S.PIN_ENTRY, ev.Cancelled): "_abort",                  # → DONE
    (S.AUTHORIZING, ev.HostApproved): "_approved",          # → WAIT_PLUG
    (S.AUTHORIZING, ev.HostDeclined): "_declined",          # → DECLINED
    (S.AUTHORIZING, ev.HostTimedOut): "_auth_timed_out",    # → ERROR + reversal advice
    (S.AUTHORIZING, ev.CardDeclined): "_card_declined",     # → DECLINED + reversal
    (S.WAIT_PLUG, ev.ChargingStarted): "_charging_started", # → CHARGING
    (S.WAIT_PLUG, ev.Cancelled): "_void",                   # → ERROR + reversal
    (S.WAIT_PLUG, ev.StopRequested): "_void",               # → ERROR + reversal
    (S.WAIT_PLUG, ev.ChargerFault): "_void",                # → ERROR + reversal
    (S.WAIT_PLUG, ev.ChargerLinkLost): "_link_lost",
    (S.WAIT_PLUG, ev.ChargerLinkBack): "_link_back",
    (S.CHARGING, ev.Reading): "_reading",                   # → CHARGING | STOPPING (hold used)
    (S.CHARGING, ev.ChargingStarted): "_charging_started",  # parking ends: the car draws again
    (S.CHARGING, ev.IncrementApproved): "_increment_approved",
    (S.CHARGING, ev.IncrementDeclined): "_stop",            # → STOPPING
    (S.CHARGING, ev.StopRequested): "_stop",                # → STOPPING
    (S.CHARGING, ev.CarUnplugged): "_stop",                 # → STOPPING
    (S.CHARGING, ev.ChargerFault): "_stop",                 # → STOPPING
    (S.CHARGING, ev.ChargingStopped): "_charging_stopped",  # → RECEIPT | ERROR
    (S.CHARGING, ev.ChargerLinkLost): "_link_lost",
    (S.CHARGING, ev.ChargerLinkBack): "_link_back",
    (S.STOPPING, ev.Reading): "_reading",
    (S.STOPPING, ev.IncrementApproved): "_increment_approved",
    (S.STOPPING, ev.ChargingStopped): "_charging_stopped",  # → RECEIPT | ERROR
    (S.STOPPING, ev.ChargerLinkLost): "_link_lost",
    (S.STOPPING, ev.ChargerLinkBack): "_link_back",
    (S.RECEIPT, ev.Dismissed): "_done",
    (S.DECLINED, ev.Dismissed): "_done",
    (S.ERROR, ev.Dismissed): "_done",
}
LIVE_STATES = tuple(s for s in State if s is not S.DONE)
for _s in LIVE_STATES:
    TRANSITIONS[(_s, ev.Tick)] = "_tick"
    TRANSITIONS[(_s, ev.Recover)] = "_recover"
    TRANSITIONS[(_s, ev.LanguageChosen)] = "_language"  # the invoice follows the driver
ENDED = (S.RECEIPT, S.DECLINED, S.ERROR)  # settled (or queued): only the screen is left
# the states whose timer the driver faces, and may extend (MoreTime)
EXTENDABLE = (S.READING_CARD, S.PIN_ENTRY, S.WAIT_PLUG, *ENDED)
TRANSITIONS.update({(s, ev.MoreTime): "_more_time" for s in EXTENDABLE})

# Benign arrivals that change nothing: late host answers after a timeout or a cancel, the
# charger's echo of our own stop, a second press of a button.
IGNORED: frozenset[tuple[State, type[ev.Event]]] = frozenset(
    [(s, e) for s in (S.DECLINED, S.ERROR) for e in
     (ev.HostApproved, ev.HostDeclined, ev.HostTimedOut, ev.CardDeclined, ev.CardRead,
      ev.CardFailed)]
    # a card only asks for its PIN while it is being read; an offline PIN typed just as the
    # read gave up (no PIN in time) finds the session ended
    + [(s, ev.PinRequested) for s in LIVE_STATES if s not in (S.READING_CARD, S.PIN_ENTRY)]
    + [(S.ERROR, ev.PinEntered)]
    + [(s, e) for s in ENDED for e in
       (ev.Reading, ev.ChargingStopped, ev.CarUnplugged, ev.ChargerFault, ev.StopRequested,
        ev.IncrementApproved, ev.IncrementDeclined, ev.Cancelled)]
    + [(S.WAIT_PLUG, e) for e in (ev.Reading, ev.ChargingStopped, ev.CarUnplugged)]
    + [(S.STOPPING, e) for e in (ev.StopRequested, ev.CarUnplugged, ev.ChargerFault,
                                  ev.IncrementDeclined, ev.Cancelled)]
    + [(S.CHARGING, ev.Cancelled), (S.AUTHORIZING, ev.Cancelled)]
    # the charger is not enabled before the hold: news of a car left from the last session
    + [(s, e) for s in (S.READING_CARD, S.PIN_ENTRY, S.AUTHORIZING)
       for e in (ev.Reading, ev.ChargingStarted, ev.ChargingStopped, ev.CarUnplugged)]
    + [(s, ev.ChargingStarted) for s in (S.STOPPING, *ENDED)]
    # the link matters only while the charger may deliver energy
    + [(s, e) for s in (S.READING_CARD, S.PIN_ENTRY, S.AUTHORIZING, *ENDED)
       for e in (ev.ChargerLinkLost, ev.ChargerLinkBack)]
    # no timer of the driver's here: a "More time" pressed as the state changed
    + [(s, ev.MoreTime) for s in LIVE_STATES if s not in EXTENDABLE]
)

REASON_CARD_DECLINED = "card declined"


def pin_say(e: ev.PinRequested) -> Say:
    """What the PIN page tells the driver when the card asks (again) for its PIN (the tries
    left go with it in :attr:`Session.pin_tries_left`); NONE: just the PIN pad."""
    last = e.tries_left == 1
    if e.wrong:
        return Say.PIN_WRONG_LAST_TRY if last else Say.PIN_WRONG
    return Say.PIN_LAST_TRY if last else Say.NONE


class SessionMachine:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    # --- entry points --------------------------------------------------------------------
    def start(self, session_id: str, connector: int, now: datetime) -> Result:
        """The driver chose a connector and pressed *Pay*: read a card for the hold amount."""
        s = Session(
            id=session_id, connector=connector, state=S.READING_CARD, created_at=now,
            updated_at=now, seq=1, deadline=now + timedelta(seconds=self.policy.card_timeout_s),
        )
        return s, [fx.ReadCard(s.id, self.policy.hold_minor)]

    def accepts(self, state: State, event: ev.Event) -> bool:
        return (state, type(event)) in TRANSITIONS

    def more_time_allowed(self, s: Session) -> bool:
        """Would a ``MoreTime`` extend ``s`` now (an extendable state with a deadline, and
        fewer than :attr:`Policy.max_extensions` extensions taken in it)?"""
        return (s.state in EXTENDABLE and s.deadline is not None
                and s.extensions < self.policy.max_extensions)

    def timeout_warning(self, s: Session) -> TimeoutWarning | None:
        """When the screen warns the driver of ``s``'s deadline (None: ``s`` has no timer of
        the driver's): ``warn_at`` is :meth:`Policy.warn_before_s` before the deadline."""
        before = self.policy.warn_before_s(s.state)
        if before is None or s.deadline is None:
            return None
        return TimeoutWarning(s.deadline, s.deadline - timedelta(seconds=before),
                              self.more_time_allowed(s))

    def handle(self, s: Session, event: ev.Event, now: datetime) -> Result:
        """Decide what ``event`` does to ``s`` at time ``now`` (the runner's clock).

        Returns ``s`` itself (same object) when nothing changes and nothing is to be done.
        """
        key = (s.state, type(event))
        name = TRANSITIONS.get(key)
        if name is None:
            if key in IGNORED:
                return s, []
            raise UnexpectedEvent(s.state, event)
        stamped = replace(s, updated_at=now)
        new, effects = getattr(self, name)(stamped, event)
        if new == stamped and not effects:
            return s, []
        if new.extensions and (new.state is not s.state
                               or (new.deadline != s.deadline and name != "_more_time")):
            new = replace(new, extensions=0)  # a new state, or a new timer: a new count
        return replace(new, seq=s.seq + 1), effects

    def _more_time(self, s: Session, e: ev.MoreTime) -> Result:
        """The driver wants more time: the state's full timeout again from now (never
        earlier than the deadline it had), until the extensions are used up. After the
        deadline it is too late: the next ``Tick`` acts."""
        timeout = self.policy.timeout_s(s.state)
        if (timeout is None or not self.more_time_allowed(s) or s.deadline is None
                or s.updated_at >= s.deadline):
            return s, []
        deadline = max(s.deadline, _later(s, timeout))
        return replace(s, deadline=deadline, extensions=s.extensions + 1), []

    def _language(self, s: Session, e: ev.LanguageChosen) -> Result:
        """The driver switched the screen's language: the invoice will be in it too."""
        ok = len(e.language) == 2 and all("a" <= c <= "z" for c in e.language)
        return (replace(s, language=e.language) if ok else s), []

    # --- card and PIN ----------------------------------------------------------------------
    def _card_read(self, s: Session, e: ev.CardRead) -> Result:
        s = replace(s, masked_pan=e.masked_pan, token=e.token, scheme=e.scheme,
                    interface=e.interface, message="", say=Say.NONE, pin_tries_left=None,
                    plan_id=e.plan_id, plan_name=e.plan_name if e.plan_id else "",
                    plan_percent=e.plan_percent if e.plan_id else "")
        if e.needs_online_pin:
            return replace(s, state=S.PIN_ENTRY, pin_offline=False,
                           deadline=_later(s, self.policy.pin_timeout_s)), [fx.AskPin(s.id)]
        return self._authorize(s)

    def _pin_requested(self, s: Session, e: ev.PinRequested) -> Result:
        """The card read waits for a PIN: the PIN pad shows, the card keeps waiting."""
        s = replace(s, state=S.PIN_ENTRY, pin_offline=e.offline, message="", say=pin_say(e),
                    pin_tries_left=e.tries_left, deadline=_later(s, self.policy.pin_timeout_s))
        return s, [fx.AskPin(s.id)]

    def _pin_entered(self, s: Session, e: ev.PinEntered) -> Result:
        s = replace(s, message="", say=Say.NONE, pin_tries_left=None)
        if e.offline:  # the card checks it: the read goes on (and may ask again)
            return replace(s, state=S.READING_CARD,
                           deadline=_later(s, self.policy.card_timeout_s)), []
        return self._authorize(s)

    def _authorize(self, s: Session) -> Result:
        s = replace(s, state=S.AUTHORIZING, deadline=_later(s, self.policy.host_timeout_s))
        return s, [fx.Authorize(s.id, s.ref, self.policy.hold_minor)]

    def _card_failed(self, s: Session, e: ev.CardFailed) -> Result:
        if e.declined:  # the card refused offline: a decline the driver should see as one
            say = e.say or Say.DECLINED_BY_CARD
            s = self._end(replace(s, outcome=Outcome.DECLINED), S.DECLINED, say, e.message)
            return s, [fx.Enqueue(s.id, "session")]
        say = e.say or Say.CARD_UNREADABLE
        return self._end(replace(s, outcome=Outcome.ABORTED), S.ERROR, say, e.message), []

    def _abort(self, s: Session, e: ev.Event) -> Result:
        # READING_CARD, or PIN_ENTRY: an offline PIN's read waits for the pad, and an online
        # PIN's card still sits in the adapter's memory (and a contact card in the reader):
        # both are let go
        effects: list[fx.Effect] = [fx.CancelCardRead(s.id)]
        return replace(s, state=S.DONE, outcome=Outcome.ABORTED, deadline=None), effects

    # --- authorization ---------------------------------------------------------------------
    def _approved(self, s: Session, e: ev.HostApproved) -> Result:
        s = replace(s, state=S.WAIT_PLUG, auth_code=e.auth_code, held_minor=e.approved_minor,
                    deadline=_later(s, self.policy.plug_timeout_s))
        return s, [fx.EnableCharger(s.connector)]

    def _declined(self, s: Session, e: ev.HostDeclined) -> Result:
        say = e.say or for_response_code(e.response_code)
        msg = f"declined by the host ({e.response_code}): {e.message}"
        s = self._end(replace(s, outcome=Outcome.DECLINED), S.DECLINED, say, msg)
        return s, [fx.Enqueue(s.id, "session")]

    def _auth_timed_out(self, s: Session, e: ev.Event) -> Result:
        if isinstance(e, ev.Tick):
            msg = f"no answer from the payment host within {self.policy.host_timeout_s} s"
        else:
            msg = "the authorization's outcome is unknown (no answer, or a broken one)"
        return self._release(s, "host timeout", Say.SERVICE_TIMEOUT,
                             f"{msg}; reversal advice queued", advice=True)

    def _card_declined(self, s: Session, e: ev.CardDeclined) -> Result:
        """The host approved but the card refused at the end (or left): release the hold."""
        detail = e.message.strip() or "no reason given"
        s = replace(s, held_minor=e.approved_minor)
        return self._release(s, REASON_CARD_DECLINED, e.say or Say.DECLINED_BY_CARD,
                             f"the card refused after the host approved: {detail}",
                             state=S.DECLINED)

    def _void(self, s: Session, e: ev.Event) -> Result:
        if isinstance(e, ev.ChargerFault):
            say, msg, reason = Say.CHARGER_FAULT, f"charger fault: {e.message}", "charger fault"
        elif isinstance(e, ev.Tick):
            say, reason = Say.NO_CAR, "car not plugged in"
            msg = f"no car plugged in within {self.policy.plug_timeout_s} s"
        elif isinstance(e, ev.Recover):
            say, reason = Say.RESTART_BEFORE_CHARGING, "restart before charging"
            msg = "the terminal restarted after the approval, before charging began"
        else:
            say, reason = Say.CANCELLED, "cancelled by driver"
            msg = f"{type(e).__name__} before charging began"
        s, effects = self._release(s, reason, say, f"{msg}; reversal queued")
        return s, [fx.DisableCharger(s.connector), *effects]

    def _release(self, s: Session, reason: str, say: Say, message: str, *,
                 advice: bool = False, state: State = S.ERROR) -> Result:
        """End without a charge and queue the release of the hold: a reversal of what is held
        (an approval we know of), or a reversal advice of what was asked (an authorization
        whose answer never came: the host may hold it or not)."""
        if advice:
            kind, amount = fx.SettleKind.ADVICE, self.policy.hold_minor
        else:
            kind, amount = fx.SettleKind.REVERSAL, s.held_minor or self.policy.hold_minor
        s = replace(s, stop_reason=s.stop_reason or reason, outcome=Outcome.REVERSED,
                    settle_kind=kind, notice=Say.NONE, increment_pending=False)
        s = self._end(s, state, say, message)
        return s, [fx.Settle(s.id, s.ref, kind, amount), fx.Enqueue(s.id, "session")]

    # --- the charger link ------------------------------------------------------------------
    def _link_lost(self, s: Session, e: ev.ChargerLinkLost) -> Result:
        # the last power reading is stale now: the screen must not show it as live
        return replace(s, notice=Say.CHARGER_NOT_ANSWERING, power_w=0), []

    def _link_back(self, s: Session, e: ev.ChargerLinkBack) -> Result:
        return replace(s, notice=Say.NONE), []

    # --- charging --------------------------------------------------------------------------
    def _charging_started(self, s: Session, e: ev.ChargingStarted) -> Result:
        if s.state is S.CHARGING:  # the car draws again after a pause (parking ends)
            s = self._observe(replace(s, parking_since=None), e.at, e.meter_wh, s.power_w)
            return s, []
        first = Mark(e.at, e.meter_wh, 0, True)
        return replace(s, state=S.CHARGING, charge_started_at=e.at, meter_start_wh=e.meter_wh,
                       meter_now_wh=e.meter_wh, last_reading_at=e.at, deadline=None,
                       marks=self.policy.tracker((), None, first)), []

    def _observe(self, s: Session, at: datetime, meter_wh: int, power_w: int) -> Session:
        """A new meter observation: extend the periods, then price the session so far."""
        if s.last_reading_at is not None and at < s.last_reading_at:
            at = s.last_reading_at  # a reading from the past cannot reopen a closed period
        charging = s.parking_since is None
        prev = Mark(s.last_reading_at or at, s.meter_now_wh, s.power_w,
                    s.marks[-1].charging if s.marks else charging)
        new = Mark(at, meter_wh, power_w, charging)
        s = replace(s, meter_now_wh=meter_wh, power_w=power_w, last_reading_at=at,
                    marks=self.policy.tracker(s.marks, prev, new))
        return replace(s, cost_minor=self.policy.pricer(s))

    def _reading(self, s: Session, e: ev.Reading) -> Result:
        if e.meter_wh < s.meter_now_wh:  # a meter never runs backwards: keep what we have
            return s, []
        s = self._observe(s, e.at, e.meter_wh, e.power_w)
        if s.state is not S.CHARGING:
            return s, []
        p = self.policy
        d = decide_hold(s.cost_minor, s.held_minor, increment_pending=s.increment_pending,
                        threshold_percent=p.threshold_percent,
                        allow_increments=p.allow_increments, increment_minor=p.increment_minor,
                        max_total_hold_minor=p.max_total_hold_minor)
        if d.action is HoldAction.INCREMENT:
            s = replace(s, increment_pending=True)
            return s, [fx.Increment(s.id, s.ref, d.increment_minor, d.new_total_minor)]
        if d.action is HoldAction.STOP:
            return self._stop(s, e, reason=d.reason)
        return s, []

    def _increment_approved(self, s: Session, e: ev.IncrementApproved) -> Result:
        return replace(s, held_minor=max(s.held_minor, e.new_total_minor),
                       increment_pending=False), []

    def _stop(self, s: Session, e: ev.Event, reason: str = "") -> Result:
        """Charging stops; ``say`` tells the driver why when it was not the driver or the car
        (the receipt shows it): the hold used up, the bank refused more, a charger fault."""
        say, msg = Say.NONE, ""
        if reason:  # from the hold rules
            say, msg = Say.HOLD_USED_UP, reason
        elif isinstance(e, ev.IncrementDeclined):
            reason = "hold used, increment declined"
            say, msg = Say.INCREMENT_DECLINED, f"increment declined: {e.message}"
        elif isinstance(e, ev.ChargerFault):
            reason = f"charger fault: {e.message}"
            say, msg = Say.CHARGER_FAULT_STOPPED, reason
        else:
            reason = {ev.StopRequested: "stopped by driver",
                      ev.CarUnplugged: "car unplugged"}.get(type(e), "")
        s = replace(s, state=S.STOPPING, stop_reason=reason, increment_pending=False,
                    say=say, message=msg, deadline=_later(s, self.policy.stop_timeout_s))
        return s, [fx.DisableCharger(s.connector)]

    def _charging_stopped(self, s: Session, e: ev.ChargingStopped) -> Result:
        s = self._observe(s, e.at, max(e.meter_wh, s.meter_now_wh), 0)
        effects: list[fx.Effect] = []
        if s.state is S.CHARGING and self.policy.bills_parking:
            # the car is full but still plugged in: idle time is billed until it leaves
            if s.parking_since is None:
                s = replace(s, parking_since=e.at)
                s = self._observe(s, e.at, s.meter_now_wh, 0)
            return s, []
        if s.state is S.CHARGING:  # the car (or the charger) ended it
            s = replace(s, stop_reason="car finished")
            effects.append(fx.DisableCharger(s.connector))
        s, more = self._settle(s)
        return s, effects + more

    def _settle(self, s: Session) -> Result:
        """Charging is over: capture what was delivered, or release the hold when nothing
        was. The session goes to its receipt at once; the queue settles with the host."""
        if s.energy_wh == 0:
            s = replace(s, power_w=0)
            return self._release(s, "no energy delivered", Say.NO_ENERGY,
                                 f"no energy delivered ({s.stop_reason or 'no stop reason'}); "
                                 "reversal queued")
        cost = self.policy.pricer(s)
        final = capture_amount(cost, s.held_minor)
        if final <= 0:  # a few Wh that round to nothing: there is nothing to capture
            s = replace(s, cost_minor=cost, power_w=0)
            return self._release(s, "nothing to pay", Say.NOTHING_TO_PAY,
                                 f"{s.energy_wh} Wh priced at {cost} minor units: nothing to "
                                 "capture; reversal queued")
        s = replace(s, state=S.RECEIPT, outcome=Outcome.CAPTURED, cost_minor=cost,
                    final_minor=final, power_w=0, notice=Say.NONE, increment_pending=False,
                    settle_kind=fx.SettleKind.CAPTURE,
                    deadline=_later(s, self.policy.receipt_timeout_s))
        return s, [fx.Settle(s.id, s.ref, fx.SettleKind.CAPTURE, final),
                   fx.Enqueue(s.id, "session")]

    def _done(self, s: Session, e: ev.Event) -> Result:
        return replace(s, state=S.DONE, deadline=None), []

    def _end(self, s: Session, state: State, say: Say, message: str) -> Session:
        """Show the end (DECLINED or ERROR): ``say`` to the driver, ``message`` for the
        technician, until the message timeout."""
        return replace(s, state=state, say=say, message=message, pin_tries_left=None,
                       deadline=_later(s, self.policy.message_timeout_s))

    # --- time ------------------------------------------------------------------------------
    def _tick(self, s: Session, e: ev.Tick) -> Result:
        if s.deadline is None or e.now < s.deadline:
            return s, []
        st = s.state
        if st in (S.READING_CARD, S.PIN_ENTRY):
            return self._abort(s, e)
        if st is S.AUTHORIZING:
            return self._auth_timed_out(s, e)
        if st is S.WAIT_PLUG:
            return self._void(s, e)
        if st is S.STOPPING:  # the charger never confirmed: settle on the last reading
            return self._settle(s)
        if st in ENDED:
            return self._done(s, e)
        return replace(s, deadline=None), []

    # --- after a restart -------------------------------------------------------------------
    def _recover(self, s: Session, e: ev.Recover) -> Result:
        st = s.state
        if st in (S.READING_CARD, S.PIN_ENTRY):  # a pending read (offline PIN) died with us
            return replace(s, state=S.DONE, outcome=Outcome.ABORTED, deadline=None), []
        if st is S.AUTHORIZING:
            return self._release(s, "restart during authorization",
                                 Say.RESTART_DURING_PAYMENT,
                                 "the terminal restarted during the authorization; reversal "
                                 "advice queued", advice=True)
        if st is S.WAIT_PLUG:
            return self._void(s, e)
        if st is S.CHARGING and e.charging:
            if e.meter_wh is not None and e.meter_wh >= s.meter_now_wh:
                s = self._observe(s, e.now, e.meter_wh, s.power_w)
            return (replace(s, increment_pending=False, notice=Say.NONE),
                    [fx.EnableCharger(s.connector)])
        if st in (S.CHARGING, S.STOPPING):
            if e.meter_wh is not None and e.meter_wh > s.meter_now_wh and st is S.STOPPING:
                s = self._observe(s, e.now, e.meter_wh, 0)
            s = replace(s, stop_reason=s.stop_reason or "terminal restarted")
            s, effects = self._settle(s)
            return s, [fx.DisableCharger(s.connector), *effects]
        return self._done(s, e)  # the receipt or message of a settled session


def _later(s: Session, seconds: int) -> datetime:
    """A deadline ``seconds`` after the current event (``updated_at`` is stamped with it)."""
    return s.updated_at + timedelta(seconds=seconds)


def table_rows() -> list[tuple[str, str, str]]:
    """(state, event, handler) rows, for documentation and tests."""
    return sorted((s.value, e.__name__, h) for (s, e), h in TRANSITIONS.items())


__all__ = [
    "EXTENDABLE", "IGNORED", "TRANSITIONS", "Mark", "Outcome", "Policy", "Pricer", "Say",
    "Session", "SessionMachine", "State", "TimeoutWarning", "Tracker", "UnexpectedEvent",
    "pin_say", "simple_tracker",
]
