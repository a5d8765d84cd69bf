"""The terminal's keys: where they live, how they are checked, how they are created once.

The data folder is the journal's folder (``journal.path``; default ``$EVKIOSK_DATA_DIR`` or
``~/.local/share/evkiosk``). It holds the token keys: ``card-token.key`` (the HMAC key of card
tokens), ``invoice-token.key`` (the invoice links) and ``outbox.key`` (the AES-256-GCM key the
outbox is sealed with at rest), and ``terminal-signing.key``, the terminal's Ed25519 key that
signs its upload batches (raw 32 bytes or PEM; its public key is registered at the back office:
:func:`terminal_identity`). The PIN key (DUKPT initial key and its
transaction counter) is the injected file ``host.pin_key_file``.

Production (the default):

* the data folder must exist, be owned by the kiosk's user and be 0700; every key file 0600
  and owned by it. Anything else is a :class:`ProvisioningError` naming the path, the mode
  found and the fix;
* a missing token key is an error, never silently regenerated (that would break every card
  token and invoice link issued before): ``kiosk provision --config FILE`` creates the folder
  and the missing keys once (:func:`provision`), and never overwrites one;
* TEST keys are refused: the public DUKPT test keys and the simulators' keys
  (:func:`kiosk.security.keys.dukpt_test_key_reason`).

**The card token key is the operator's** (issue #18): a card's token must be the same on every
terminal of the operator (the member lists name cards by token), so every terminal gets one
operator-wide key at provisioning instead of a key of its own. The operator makes it once
(``kiosk provision --new-card-token-key FILE``: 32 random bytes, 0600, never overwritten; or
``head -c 32 /dev/urandom > FILE; chmod 600 FILE``), keeps it like the operator's update key
(off the terminals but for this copy) and provisions each terminal with
``kiosk provision --config FILE --card-token-key FILE`` (:func:`provision`,
``card_token_key``): the key file must be a regular file owned by the kiosk's user, 0600,
exactly 32 bytes, not 32 equal bytes (:func:`read_operator_card_key`). A terminal that has a
card token key already keeps it: a different given key is refused (replacing it would break
every card token issued before), the same one is a no-op. Without ``--card-token-key`` a
terminal makes a key of its own (a single terminal, or demo): its tokens then match no other
terminal's and no member list made for the operator's key.

Demo (``kiosk run --demo``): missing token keys and the signing key are created, and without a
PIN key file the simulator's TEST key is written to ``TEST_demo-pin.key`` in the data folder on
first use, so its counter lives with it like a real key's.

A counter file of an earlier version (``dukpt.counter`` in the data folder) only ever raises
the key's counter (a counter is never handed out twice).
"""

from __future__ import annotations

import hmac
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drivers.acquirer.dukpt import DukptError
from drivers.acquirer.pin import (
    CounterStore,
    PinEncryptor,
    PinKey,
    PinKeyFile,
    dump_pin_key,
)
from drivers.files import write_private
from kiosk.records.batch import key_id, public_key_raw
from kiosk.security.keys import (
    KeyError_,
    check_key_folder,
    check_private_dir,
    check_private_file,
    create_key,
    create_signing_key,
    dukpt_test_key_reason,
    load_key,
    load_signing_key,
)

if TYPE_CHECKING:
    from kiosk.config import KioskConfig

log = logging.getLogger(__name__)

CARD_TOKEN_KEY = "card-token.key"  # noqa: S105 - a file name
INVOICE_TOKEN_KEY = "invoice-token.key"  # noqa: S105 - a file name
OUTBOX_KEY = "outbox.key"  # kiosk.journal.store.OUTBOX_KEY_FILE (a test checks they agree)
SIGNING_KEY = "terminal-signing.key"
DEMO_PIN_KEY = "TEST_demo-pin.key"
LEGACY_COUNTER = "dukpt.counter"
_TOKEN_KEYS = {CARD_TOKEN_KEY: "every card token issued before",
               INVOICE_TOKEN_KEY: "every invoice link issued before",
               OUTBOX_KEY: "every queued record not yet sent: they would no longer open"}
_SIGNING_BREAKS = "the terminal's registration at the back office (its public key)"


class ProvisioningError(Exception):
    """A key or the data folder cannot be used; the message names the file and what is
    wrong."""


@dataclass(frozen=True)
class TerminalKeys:
    card_token_key: bytes = field(repr=False)
    invoice_key: bytes = field(repr=False)
    # None: no online PIN (cards that ask for it are declined); with the current config rules
    # there is always one (production: host.pin_key_file; demo: the simulator's TEST key)
    pin_encryptor: PinEncryptor | None = field(repr=False)
    pin_key_file: Path | None = None  # where the PIN key and its counter live
    signing_key: Ed25519PrivateKey | None = field(default=None, repr=False)  # upload batches
    outbox_key: bytes | None = field(default=None, repr=False)  # the outbox, sealed at rest


@dataclass(frozen=True)
class TerminalIdentity:
    """What the back office registers: the terminal id and its batch-signing public key."""

    terminal_id: str
    public_key_hex: str  # raw 32 bytes, hex
    key_id: str  # SHA-256 of the raw public key, hex (the envelopes' key_id)


def terminal_id(config: KioskConfig) -> str:
    """The terminal's id towards the back office: the station id (``station.id``)."""
    return config.station.id


def terminal_identity(config: KioskConfig, signing_key: Ed25519PrivateKey) -> TerminalIdentity:
    public = signing_key.public_key()
    return TerminalIdentity(terminal_id(config), public_key_raw(public).hex(), key_id(public))


def data_dir(config: KioskConfig, journal_path: Path | None = None) -> Path:
    """The data folder: the journal's folder (``--journal`` overrides the config)."""
    return Path(journal_path or config.journal_path()).expanduser().absolute().parent


def load_terminal_keys(config: KioskConfig, data_dir: Path, *, demo: bool) -> TerminalKeys:
    """The terminal's keys, checked (see the module's docstring); raises
    :class:`ProvisioningError`."""
    folder = Path(data_dir)
    try:
        if demo:
            _demo_folder(folder)
        else:
            _production_folder(folder)
        tokens = {name: _token_key(folder / name, demo=demo) for name in _TOKEN_KEYS}
        signing = _signing_key(folder / SIGNING_KEY, demo=demo)
        encryptor, pin_path = _pin_encryptor(config, folder, demo=demo)
    except (KeyError_, DukptError) as exc:
        raise ProvisioningError(str(exc)) from None
    return TerminalKeys(tokens[CARD_TOKEN_KEY], tokens[INVOICE_TOKEN_KEY], encryptor, pin_path,
                        signing_key=signing, outbox_key=tokens[OUTBOX_KEY])


def read_operator_card_key(path: Path) -> bytes:
    """The operator-wide card token key given to ``kiosk provision --card-token-key``: a
    regular file owned by the kiosk's user, 0600, of exactly 32 bytes that are not all the
    same (a key file of zeros or of one repeated byte is a mistake, not a key). Raises
    :class:`ProvisioningError` naming the file."""
    from kiosk.files import FileRefused, read_regular_file
    from kiosk.security.keys import KEY_BYTES

    where = f"{path}: --card-token-key"
    try:
        check_private_file(Path(path), "card token key file")
        data = read_regular_file(path, KEY_BYTES)
    except KeyError_ as exc:
        raise ProvisioningError(f"--card-token-key: {exc}") from None
    except FileRefused as exc:
        raise ProvisioningError(f"{where}: {exc} (a card token key is {KEY_BYTES} bytes)"
                                ) from None
    if len(data) != KEY_BYTES:
        raise ProvisioningError(f"{where}: {len(data)} bytes, a card token key is exactly "
                                f"{KEY_BYTES} (head -c {KEY_BYTES} /dev/urandom)")
    if len(set(data)) == 1:
        raise ProvisioningError(f"{where}: {KEY_BYTES} times the same byte: not a key")
    return data


def provision(config: KioskConfig, data_dir: Path, *,
              card_token_key: Path | None = None) -> list[Path]:
    """Create the data folder (0700), the token keys and the signing key that are missing
    (0600); return what was created. An existing key is checked and kept, never overwritten.
    ``card_token_key``: the operator-wide card token key's file, installed as
    ``card-token.key`` instead of a new key (see the module); a terminal with another card
    token key already is a :class:`ProvisioningError` and nothing is created. The PIN key is
    not made here: it is injected for the terminal (``host.pin_key_file``)."""
    folder = Path(data_dir)
    created: list[Path] = []
    given = read_operator_card_key(card_token_key) if card_token_key is not None else None
    if given is not None and os.path.lexists(folder / CARD_TOKEN_KEY):
        try:
            have = load_key(folder / CARD_TOKEN_KEY)
        except KeyError_ as exc:
            raise ProvisioningError(str(exc)) from None
        if not hmac.compare_digest(have, given):
            raise ProvisioningError(
                f"{folder / CARD_TOKEN_KEY}: this terminal has another card token key "
                f"already: it is kept, never replaced (a new one would break "
                f"{_TOKEN_KEYS[CARD_TOKEN_KEY]}, and every journaled session's); give the "
                f"operator's key when the terminal is first provisioned")
    try:
        if not folder.exists():
            folder.mkdir(parents=True, mode=0o700)
            os.chmod(folder, 0o700)  # whatever the umask
            created.append(folder)
        check_private_dir(folder)
        for name in _TOKEN_KEYS:
            path = folder / name
            if os.path.lexists(path):
                load_key(path)  # a bad existing key is reported, not replaced
            else:
                create_key(path, given if name == CARD_TOKEN_KEY else None)
                created.append(path)
        signing = folder / SIGNING_KEY
        if os.path.lexists(signing):
            load_signing_key(signing)  # a bad existing key is reported, not replaced
        else:
            create_signing_key(signing)
            created.append(signing)
    except KeyError_ as exc:
        raise ProvisioningError(str(exc)) from None
    except OSError as exc:
        raise ProvisioningError(f"{folder}: cannot create the data folder: "
                                f"{exc.strerror or exc}") from None
    for path in created:
        log.info("provisioned %s", path)
    return created


# --- the parts ---------------------------------------------------------------------------------

def _production_folder(folder: Path) -> None:
    if not folder.exists():
        raise ProvisioningError(f"{folder}: the data folder does not exist: create it and the "
                                f"terminal's keys once with kiosk provision --config FILE")
    check_private_dir(folder)


def _demo_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ProvisioningError(f"{folder}: cannot create the data folder: "
                                f"{exc.strerror or exc}") from None
    try:
        check_private_dir(folder)
    except KeyError_ as exc:  # a demo on test keys: said, not refused
        log.warning("demo data folder: %s", exc)


def _token_key(path: Path, *, demo: bool) -> bytes:
    if not os.path.lexists(path):
        if not demo:
            raise ProvisioningError(
                f"{path}: missing: this key is created once, by kiosk provision --config FILE; "
                f"it is never made again by itself (a new one would break "
                f"{_TOKEN_KEYS[path.name]})")
        log.info("demo: created %s", path)
        return create_key(path)
    return load_key(path)


def _signing_key(path: Path, *, demo: bool) -> Ed25519PrivateKey:
    if not os.path.lexists(path):
        if not demo:
            raise ProvisioningError(
                f"{path}: missing: this key is created once, by kiosk provision --config FILE; "
                f"it is never made again by itself (a new one would break {_SIGNING_BREAKS})")
        log.info("demo: created %s", path)
        return create_signing_key(path)
    return load_signing_key(path)


def _pin_encryptor(config: KioskConfig, folder: Path, *,
                   demo: bool) -> tuple[PinEncryptor | None, Path | None]:
    if config.host.pin_key_file:
        path = Path(config.host.pin_key_file).expanduser()
        if not os.path.lexists(path):
            raise ProvisioningError(f"{path}: host.pin_key_file: no such file (the DUKPT key "
                                    f"injected for this terminal)")
        check_private_file(path, "PIN key file")
        check_key_folder(path.parent)
    elif demo:
        path = folder / DEMO_PIN_KEY
        if not os.path.lexists(path):
            _write_demo_pin_key(path)
        check_private_file(path, "PIN key file")
    else:
        raise ProvisioningError("host.pin_key_file: none given: outside demo the terminal's "
                                "DUKPT key is the file injected for it (the simulator's test "
                                "key only with kiosk run --demo)")
    encryptor = PinEncryptor.from_key_file(path)
    store = encryptor.counter
    assert isinstance(store, PinKeyFile)
    if not demo and (reason := dukpt_test_key_reason(store.key.scheme, store.key.initial_key,
                                                     store.key.key_id)):
        raise ProvisioningError(f"{path}: a TEST key: {reason}; a terminal needs the key "
                                f"injected for it by the acquirer (test keys only with kiosk "
                                f"run --demo)")
    _merge_legacy_counter(store, folder)
    encryptor.check()  # a damaged or exhausted counter stops the start, not a driver's PIN
    return encryptor, path


def _write_demo_pin_key(path: Path) -> None:
    from drivers.sim.keys import TEST_IK_ID, sim_terminal_initial_key

    write_private(path, dump_pin_key(PinKey("aes", sim_terminal_initial_key(), TEST_IK_ID, 0)))
    log.info("demo: created the simulator's TEST PIN key %s", path)


def _merge_legacy_counter(store: PinKeyFile, folder: Path) -> None:
    """An earlier version counted in ``dukpt.counter`` beside the journal: the key's counter is
    raised to it, so a counter used then is not used again."""
    legacy = folder / LEGACY_COUNTER
    if not legacy.exists():
        return
    used = CounterStore(legacy).current()
    if used > store.current():
        store.reserve(used)
        log.warning("the DUKPT counter of %s was raised to %d from %s", store.path, used, legacy)
