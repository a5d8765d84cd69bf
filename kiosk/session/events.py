"""Events: what happened. They come from the driver (UI), the devices and the clock.

Events addressed to one session carry ``session_id``; events from a charger carry
``connector`` and the runner routes them to the session on that connector; ``Tick`` and
``Recover`` reach every unfinished session. Time is always a field, never read from a clock,
so tests control it.

Whatever an event says to the driver is typed: a :class:`~kiosk.session.says.Say` its producer
chose from types (the class of an exception, the ISO 8583 response code), never from a text.
``message`` fields are the technician's detail (logged, kept in ``Session.message``), never
shown to a driver. ``say`` fields default to ``Say.NONE`` (journals written before says): the
machine then decides from the event's other fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiosk.session.codec import register
from kiosk.session.says import Say


@dataclass(frozen=True)
class Event:
    """Base class of every event."""


# --- from the driver ---------------------------------------------------------------------
@register
@dataclass(frozen=True)
class CardRead(Event):
    session_id: str
    masked_pan: str
    token: str
    scheme: str
    needs_online_pin: bool = False
    interface: str = ""  # "contact" | "contactless" (the record's, for analytics); "": unknown
    # the card's member plan valid now (the runtime looks the token up): "" none
    plan_id: str = ""
    plan_name: str = ""
    plan_percent: str = ""  # decimal string


@register
@dataclass(frozen=True)
class CardFailed(Event):
    """The card read ended without a card (``message``: the technician's detail)."""

    session_id: str
    message: str
    declined: bool = False  # the card itself declined (its AAC): no host request was made
    say: Say = Say.NONE  # NONE: unreadable, or declined by the card when ``declined``


@register
@dataclass(frozen=True)
class PinRequested(Event):
    """The card read waits for a PIN (offline PIN: the card itself checks it in VERIFY).

    ``tries_left`` is the card's PIN try counter when it tells; ``wrong``: the PIN entered
    last was refused and the card asks again."""

    session_id: str
    offline: bool = True
    tries_left: int | None = None
    wrong: bool = False


@register
@dataclass(frozen=True)
class PinEntered(Event):
    """The PIN itself stays in the payment adapter's memory; the journal sees only this.

    ``offline``: the PIN went to the waiting card read (the card checks it); otherwise it is
    enciphered for the host (online PIN)."""

    session_id: str
    offline: bool = False


@register
@dataclass(frozen=True)
class LanguageChosen(Event):
    """The driver chose the screen's language (a two-letter code) during the session."""

    session_id: str
    language: str


@register
@dataclass(frozen=True)
class MoreTime(Event):
    """The driver asked for more time (the screen's "More time" button, shown before a
    deadline): the waiting state's timer starts again from its full timeout, a limited number
    of times per state (EN 301 549: timeouts the user can extend)."""

    session_id: str


@register
@dataclass(frozen=True)
class Cancelled(Event):
    session_id: str


@register
@dataclass(frozen=True)
class StopRequested(Event):
    session_id: str
    by: str = "driver"  # "driver" (button) or "card" (same card tapped again)


@register
@dataclass(frozen=True)
class Dismissed(Event):
    session_id: str


# --- from the payment host ---------------------------------------------------------------
@register
@dataclass(frozen=True)
class HostApproved(Event):
    session_id: str
    auth_code: str
    approved_minor: int


@register
@dataclass(frozen=True)
class HostDeclined(Event):
    """``response_code``: ISO 8583 field 39, or the adapter's own word (``unavailable``)."""

    session_id: str
    response_code: str
    message: str
    say: Say = Say.NONE  # NONE: from ``response_code`` (``says.for_response_code``)


@register
@dataclass(frozen=True)
class HostTimedOut(Event):
    session_id: str


@register
@dataclass(frozen=True)
class CardDeclined(Event):
    """The host approved, then the card refused (second GENERATE AC: AAC) or was removed
    before it could agree: the hold must be released. ``message``: the technician's detail."""

    session_id: str
    message: str
    approved_minor: int = 0  # what the host had approved: the amount to release
    say: Say = Say.NONE  # NONE: declined by the card


@register
@dataclass(frozen=True)
class IncrementApproved(Event):
    session_id: str
    new_total_minor: int


@register
@dataclass(frozen=True)
class IncrementDeclined(Event):
    """The host refused to raise the hold (or did not answer): charging stops."""

    session_id: str
    message: str


# --- from the charger --------------------------------------------------------------------
@register
@dataclass(frozen=True)
class ChargingStarted(Event):
    connector: int
    meter_wh: int
    at: datetime


@register
@dataclass(frozen=True)
class Reading(Event):
    connector: int
    meter_wh: int
    power_w: int
    at: datetime


@register
@dataclass(frozen=True)
class ChargingStopped(Event):
    """The charger stopped delivering (after a disable, or the car finished)."""

    connector: int
    meter_wh: int
    at: datetime


@register
@dataclass(frozen=True)
class CarUnplugged(Event):
    connector: int
    at: datetime


@register
@dataclass(frozen=True)
class ChargerFault(Event):
    """The controller reported a fault, refused a command, or stayed silent past the link's
    grace time; ``message``: the technician's detail."""

    connector: int
    message: str
    at: datetime


@register
@dataclass(frozen=True)
class ChargerLinkLost(Event):
    """The charge controller stopped answering (port gone or silent). Its fault follows after
    the link's grace time if it does not come back."""

    connector: int
    at: datetime


@register
@dataclass(frozen=True)
class ChargerLinkBack(Event):
    connector: int
    at: datetime


# --- from the clock and from start-up ----------------------------------------------------
@register
@dataclass(frozen=True)
class Tick(Event):
    now: datetime


@register
@dataclass(frozen=True)
class Recover(Event):
    """Sent once to each unfinished session after a restart, with what the charger says now."""

    now: datetime
    charging: bool
    meter_wh: int | None


@register
@dataclass(frozen=True)
class Started(Event):
    """Journal entry of a session's first transition (``SessionMachine.start``)."""

    connector: int
