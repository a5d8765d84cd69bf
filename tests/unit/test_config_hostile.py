"""``kiosk check-config`` on hostile files, in process: every refusal is one line ``kiosk:
<file>: <key or problem>`` and exit status 2, never a traceback; values have real bounds (baud
rates, lengths, printable text), and the journal and log paths are files in writable folders.

The FIFO and ``/dev/zero`` / ``/dev/urandom`` cases run in a real process with a timeout and a
memory limit: ``tests/integration/test_check_config_cli.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kiosk.cli import main
from kiosk.config import (
    BAUD_RATES,
    CONFIG_MAX_BYTES,
    DEFAULT_CONFIG_PATH,
    MESSAGE_MAX_CHARS,
    ConfigError,
    load_config,
    one_line,
    read_regular_file,
)
from tests.support.production import production_config

DEMO_TOML = DEFAULT_CONFIG_PATH.read_text()

ROOT = Path(__file__).resolve().parents[2]


def check(capsys: pytest.CaptureFixture[str], path: Path, *,
          demo: bool = True) -> tuple[int, str, str]:
    code = main(["check-config", *(["--demo"] if demo else []), str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def refused(result: tuple[int, str, str], path: Path, pattern: str) -> str:
    code, out, err = result
    assert code == 2, (out, err)
    assert out == ""
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err  # one line
    assert err.startswith(f"kiosk: {path}: "), err
    assert re.search(pattern, err), err
    return err


def write(tmp_path: Path, text: str | bytes, name: str = "k.toml") -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def with_key(section: str, line: str) -> str:
    """A demo config (every device a simulator) with one line added to a section."""
    return f"schema_version = 1\n[{section}]\n{line}\n"


# --- values: bounds -----------------------------------------------------------------------

@pytest.mark.parametrize(("section", "line", "pattern"), [
    ("charger", "baud = 999999999999", r"charger\.baud: 999999999999 is not a standard baud"),
    ("charger", "baud = 12345", r"charger\.baud: 12345 is not a standard baud rate \(1200, "),
    ("charger", "baud = 0", r"charger\.baud: 0 is not a standard"),
    ("charger", "baud = -9600", r"charger\.baud: "),
    ("charger", "baud = 1e400", r"charger\.baud: .*integer"),
    ("charger", "meter_baud = 7", r"charger\.meter_baud: 7 is not a standard baud rate"),
    ("charger", "meter_baud = " + "9" * 5000, r"not valid TOML: .*digits"),
    ("charger", "poll_interval_s = nan", r"charger\.poll_interval_s: "),
    ("charger", "poll_interval_s = inf", r"charger\.poll_interval_s: "),
    ("charger", "port = \"/dev/tty\\u0000USB0\"", r"charger\.port: a control character "
                                                  r"\(U\+0000\)"),
    ("station", 'name = "Demo\\u0000Station"', r"station\.name: a control character \(U\+0000\)"),
    ("station", 'name = "\\u001b[2J\\u001b[31mOUT OF ORDER"', r"station\.name: a control char"),
    ("station", 'operator = "Open\\nEV"', r"station\.operator: a control character \(U\+000A\)"),
    ("station", 'operator = "Open\\u202eVE"', r"station\.operator: a control character "
                                              r"\(U\+202E\)"),
    ("station", 'address = "' + "Musterstrasse 1 " * 20 + '"', r"station\.address: .*at most "
                                                                r"200 characters"),
    ("station", 'address = "Muster\\u0000strasse"', r"station\.address: a control character"),
    ("station", 'address = "Line\\u2028Two"', r"station\.address: a control character "
                                              r"\(U\+2028\)"),
    ("station", 'timezone = "' + "Europe/" * 5000 + '"', r"station\.timezone: .*at most 64"),
    ("station", 'currency = "' + "E" * 10000 + '"', r"station\.currency: .*at most 16"),
    ("station", "languages = [" + '"en", ' * 100 + "]", r"station\.languages: .*at most 32"),
    ("reader", 'name = "ACS\\u0007ACR122"', r"reader\.name: a control character \(U\+0007\)"),
    ("reader", 'name = "' + "r" * 129 + '"', r"reader\.name: .*at most 128"),
    ("host", 'address = "evil host"', r"host\.address: .*pattern"),
    ("host", 'address = "' + "h" * 254 + '"', r"host\.address: "),
    ("host", 'address = "10.0.0.5\\u0000"', r"host\.address: "),
    ("backoffice", 'url = "https://bo.example/\\u0000x"', r"backoffice\.url: a control char"),
    ("backoffice", 'url = "https://' + "b" * 3000 + '"', r"backoffice\.url: .*at most 2048"),
    ("backoffice", "upload_interval_s = 99999999999", r"backoffice\.upload_interval_s: .*86400"),
    ("tariff", 'file = "demo\\u0000.json"', r"tariff\.file: a control character \(U\+0000\)"),
    ("tariff", 'file = "~no-such-user-here/t.json"', r"tariff\.file: .*no such user"),
    ("tariff", 'vat_percent = "1e-999999"', r"tariff\.vat_percent: "),
    ("tariff", 'vat_percent = "19.123456789"', r"tariff\.vat_percent: "),
    ("journal", 'path = "j\\u001b.sqlite"', r"journal\.path: a control character"),
    ("logging", 'path = "/var/log/\\u0000kiosk.log"', r"logging\.path: a control character"),
    ("ui", 'language = "\\u0000e"', r"ui\.language: "),
])
def test_values_have_real_bounds(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 section: str, line: str, pattern: str) -> None:
    p = write(tmp_path, with_key(section, line))
    err = refused(check(capsys, p), p, pattern)
    assert len(err) < 600  # a hostile value is never echoed at length


def test_every_standard_baud_rate_is_taken(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    for rate in BAUD_RATES:
        p = write(tmp_path, with_key("charger", f"baud = {rate}\nmeter_baud = {rate}"))
        code, out, err = check(capsys, p)
        assert code == 0, err
        assert json.loads(out)["charger"]["baud"] == rate


def test_a_value_quoted_in_a_message_is_short(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, f'schema_version = "{"x" * 200_000}"\n')
    err = refused(check(capsys, p), p, r"schema_version: this kiosk reads version 1, the file "
                                       r"says 'xxx")
    assert len(err) < 300


# --- the file itself ------------------------------------------------------------------------

def test_a_deeply_nested_file_is_refused(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    for text in ("x = " + "[" * 100_000 + "]" * 100_000, "x = " + "[" * 5000,
                 "x = " + "{a = " * 30_000 + "1" + "}" * 30_000):
        p = write(tmp_path, "schema_version = 1\n" + text + "\n")
        refused(check(capsys, p), p, r"not valid TOML")


def test_an_integer_of_thousands_of_digits_is_refused(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, "schema_version = " + "1" * 5000 + "\n")
    refused(check(capsys, p), p, r"not valid TOML: .*digits")


def test_a_config_over_the_size_limit_is_not_read(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, with_key("station", 'address = "' + "A" * 20_000_000 + '"'))
    refused(check(capsys, p), p, r"too large: 200000\d\d bytes, at most 256 KiB")
    p = write(tmp_path, "schema_version = 1\n" + "#" * (CONFIG_MAX_BYTES - 20) + "\n")
    assert check(capsys, p)[0] == 0  # just under the limit


def test_a_folder_or_a_binary_file_as_the_config(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    refused(check(capsys, tmp_path), tmp_path, r"cannot read: a directory, not a regular file")
    p = write(tmp_path, bytes(range(256)) * 10)
    refused(check(capsys, p), p, r"not UTF-8 text")
    p = write(tmp_path, "schema_version = 1\x00\n")
    refused(check(capsys, p), p, r"not valid TOML")


def test_a_symlink_loop_as_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loop = tmp_path / "loop.toml"
    loop.symlink_to(loop)
    refused(check(capsys, loop), loop, r"cannot read: Too many levels of symbolic links")


def test_a_config_file_name_with_a_line_break_is_still_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, "schema_version = 2\n", name="bad\nname\x1b.toml")
    code, _out, err = check(capsys, p)
    assert code == 2 and err.count("\n") == 1
    assert "bad; name\\x1b.toml: schema_version" in err


# --- the files it names -----------------------------------------------------------------------

def test_the_files_it_names_must_be_regular_files(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "folder.json").mkdir()
    p = write(tmp_path, with_key("tariff", 'file = "folder.json"'))
    refused(check(capsys, p), p, r"tariff\.file: .*folder\.json: cannot read: a directory, not "
                                 r"a regular file")
    p = write(tmp_path, with_key("tariff", 'file = "nope.json"'))
    refused(check(capsys, p), p, r"tariff\.file: .*nope\.json: no such file")
    p = write(tmp_path, with_key("tariff", 'file = "/dev/null"'))
    refused(check(capsys, p), p, r"tariff\.file: /dev/null: cannot read: a character device")
    p = write(tmp_path, "schema_version = 1\n[reader]\nkind = 'pcsc'\nca_keys = '/dev/null'\n")
    refused(check(capsys, p), p, r"reader\.ca_keys: /dev/null: cannot read: a character device")


def test_a_tariff_or_a_ca_key_file_over_its_limit_is_not_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "big.json").write_bytes(b" " * (2 << 20) + b"{}")
    p = write(tmp_path, with_key("tariff", 'file = "big.json"'))
    refused(check(capsys, p), p, r"tariff\.file: .*big\.json: (too large|larger than)")
    p = write(tmp_path, "schema_version = 1\n[reader]\nkind = 'pcsc'\nca_keys = 'big.json'\n")
    refused(check(capsys, p), p, r"reader\.ca_keys: .*big\.json: too large: \d+ bytes, at most "
                                 r"1 MiB")


def test_production_needs_the_key_and_ca_files_it_names(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    etc = tmp_path / "etc"
    p = production_config(etc)
    assert check(capsys, p, demo=False)[0] == 0
    (etc / "pin.key").unlink()
    refused(check(capsys, p, demo=False), p, r"host\.pin_key_file: .*pin\.key: no such file")
    p = production_config(etc, host=['pin_key_file = "keys"'])
    (etc / "keys").mkdir()
    refused(check(capsys, p, demo=False), p, r"host\.pin_key_file: .*keys: cannot read: a "
                                             r"directory")
    p = production_config(etc, host=['pin_key_file = "big.key"'])
    (etc / "big.key").write_bytes(b"{" + b" " * (70 << 10) + b"}")
    refused(check(capsys, p, demo=False), p, r"host\.pin_key_file: .*big\.key: too large: "
                                             r"\d+ bytes, at most 64 KiB")
    (etc / "acquirer-ca.pem").unlink()
    p = production_config(etc)
    refused(check(capsys, p, demo=False), p, r"host\.ca_file: .*acquirer-ca\.pem: no such file")
    (etc / "live_ca.json").unlink()
    p = production_config(etc, host=["tls = false", "allow_plaintext_lab = true"])
    refused(check(capsys, p, demo=False), p, r"reader\.ca_keys: .*live_ca\.json: no such file")


def test_the_tariffs_own_problems_pass_through_on_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t.json").write_text(json.dumps({"id": "T\n1", "currency": "EUR",
                                                 "elements": "none", "bogus\n": 1}))
    p = write(tmp_path, with_key("tariff", 'file = "t.json"'))
    err = refused(check(capsys, p), p, r"tariff\.file: .*t\.json: \$")
    assert "elements" in err  # kiosk.billing's words, with the JSON path


# --- paths the kiosk writes -----------------------------------------------------------------

@pytest.mark.parametrize(("key", "value", "pattern"), [
    ("journal", "/proc", r"journal\.path: /proc: under /proc, a kernel file system"),
    ("journal", "/proc/journal.sqlite", r"journal\.path: .*under /proc, a kernel file system"),
    ("journal", "/proc/self/../journal.sqlite", r"journal\.path: .*under /proc"),
    ("journal", "/sys/kernel/journal.sqlite", r"journal\.path: .*under /sys"),
    ("journal", "/dev/shm/journal.sqlite", r"journal\.path: .*under /dev"),
    ("journal", "/dev/null", r"journal\.path: .*under /dev"),
    ("journal", "/etc", r"journal\.path: /etc: a directory: name the journal file in it"),
    ("logging", "/etc", r"logging\.path: /etc: a directory: name the log file in it"),
    ("logging", "/proc/self/fd/2", r"logging\.path: .*under /proc"),
    ("logging", "/dev/stderr", r"logging\.path: .*under /dev"),
    ("logging", "/sys/kiosk.log", r"logging\.path: .*under /sys"),
])
def test_the_journal_and_the_log_are_files_on_a_real_disk(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: str,
        pattern: str) -> None:
    p = write(tmp_path, with_key(key, f'path = "{value}"'))
    refused(check(capsys, p), p, pattern)


def test_the_journal_and_the_log_need_a_folder_that_can_hold_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    for key in ("journal", "logging"):
        p = write(tmp_path, with_key(key, f'path = "{tmp_path}/file/sub/x"'))
        refused(check(capsys, p), p, rf"{key}\.path: .*: {tmp_path}/file is not a folder")
        p = write(tmp_path, with_key(key, f'path = "{tmp_path}"'))
        refused(check(capsys, p), p, rf"{key}\.path: .*: a directory")
        p = write(tmp_path, with_key(key, f'path = "{tmp_path}/fifo"'))
        refused(check(capsys, p), p, rf"{key}\.path: .*fifo: a named pipe \(FIFO\), not a "
                                     rf"regular file")
        p = write(tmp_path, with_key(key, f'path = "{tmp_path}/new/deeper/x"'))
        assert check(capsys, p)[0] == 0  # a folder that can be created
    assert not (tmp_path / "new").exists()  # checked, not created


def test_a_folder_the_kiosk_cannot_write_is_refused(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """As root (the test rig) the check runs in a child without CAP_DAC_OVERRIDE, so the
    folder's missing write bits count as they do for the service user."""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    p = write(tmp_path, with_key("journal", f'path = "{locked}/j.sqlite"'))
    if os.geteuid() != 0:
        refused(check(capsys, p), p, r"journal\.path: .*the folder .*locked is not writable")
        return
    setpriv = shutil.which("setpriv")
    assert setpriv is not None, "setpriv (util-linux) is needed to drop root's override"
    proc = subprocess.run(
        [setpriv, "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m",
         "kiosk.cli", "check-config", "--demo", str(p)], capture_output=True, text=True,
        timeout=60,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert proc.returncode == 2, proc.stderr
    assert re.search(r"journal\.path: .*the folder .*locked is not writable", proc.stderr)
    assert len(proc.stderr.strip().splitlines()) == 1


# --- the helpers ----------------------------------------------------------------------------

def test_one_line_joins_lines_and_escapes_control_characters() -> None:
    assert one_line("a\nb\r\n\n c\x00d\x1b") == "a; b; c\\x00d\\x1b"
    assert len(one_line("x" * 10_000)) == MESSAGE_MAX_CHARS
    assert str(ConfigError("f: a\nb")) == "f: a; b"


def test_read_regular_file_reads_at_most_its_limit(tmp_path: Path) -> None:
    from kiosk.config import FileRefused

    p = write(tmp_path, b"12345")
    assert read_regular_file(p, 5) == b"12345"
    with pytest.raises(FileRefused, match=r"too large: 5 bytes"):
        read_regular_file(p, 4)
    with pytest.raises(FileRefused, match=r"a character device"):
        read_regular_file("/dev/zero", 1 << 20)


# --- generated hostile files ----------------------------------------------------------------

def _demo_folder(tmp: Path) -> Path:
    """The demo config with its tariff and CA key files, in a folder of its own."""
    if not (tmp / "tariffs").exists():
        shutil.copytree(DEFAULT_CONFIG_PATH.parent / "tariffs", tmp / "tariffs")
        shutil.copy(DEFAULT_CONFIG_PATH.parent / "ca_keys.json", tmp / "ca_keys.json")
    return tmp


_KEY_LINE = re.compile(r"^(\w+) = (.*?)(\s+#.*)?$", re.M)
_KEYS = [m.start(2) for m in _KEY_LINE.finditer(DEMO_TOML)]

_toml_values = st.one_of(
    st.integers().map(str), st.integers(min_value=10**15, max_value=10**300).map(str),
    st.text(alphabet="0123456789", min_size=300, max_size=6000),
    st.floats().map(lambda f: {float("inf"): "inf", float("-inf"): "-inf"}.get(f, repr(f))
                    if f == f else "nan"),
    st.text(max_size=60).map(json.dumps),
    st.text(max_size=60).map(lambda t: json.dumps(t, ensure_ascii=False)),
    st.sampled_from(["true", "[]", "{}", "[1, 2]", '"/dev/zero"', '"/proc/x"', '"/etc"',
                     '"\\u0000"', '"~nobody-here/x"', "1979-05-27T07:32:00Z", '""',
                     "[" * 2000 + "]" * 2000, '"' + "A" * 5000 + '"']),
)


@st.composite
def hostile_toml(draw: st.DrawFn) -> bytes:
    text = DEMO_TOML
    how = draw(st.sampled_from(["value", "truncate", "mutate", "splice", "nest", "bytes"]))
    if how == "value":  # a key of the demo file with a value of another kind
        for _ in range(draw(st.integers(1, 3))):
            m = draw(st.sampled_from(list(_KEY_LINE.finditer(text))))
            text = text[:m.start(2)] + draw(_toml_values) + text[m.end(2):]
        return text.encode()
    raw = text.encode()
    if how == "truncate":
        return raw[:draw(st.integers(0, len(raw)))]
    if how == "mutate":
        data = bytearray(raw)
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.integers(0, 255))
        return bytes(data)
    if how == "splice":
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.binary(max_size=200)) + raw[at:]
    if how == "nest":
        depth = draw(st.integers(1, 3000))
        opener, closer = draw(st.sampled_from([("[", "]"), ("{a = ", "}"), ("[{a = ", "}]")]))
        return (text + f"\n[extra]\nx = {opener * depth}1{closer * depth}\n").encode()
    return draw(st.binary(max_size=2000))


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(content=hostile_toml(), demo=st.booleans())
def test_any_hostile_file_gives_a_config_or_one_clean_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes,
        demo: bool) -> None:
    p = _demo_folder(tmp_path) / "kiosk.toml"
    p.write_bytes(content)
    code, out, err = check(capsys, p, demo=demo)
    event(f"exit {code}")
    assert code in (0, 2)
    assert "Traceback" not in out + err
    if code == 2:
        assert out == "" and err.count("\n") == 1 and err.startswith(f"kiosk: {p}: "), err
        assert len(err) <= MESSAGE_MAX_CHARS + 100
    else:
        assert json.loads(out)["schema_version"] == 1
        load_config(p, demo=demo)  # and the kiosk would start on it


def test_the_generator_reaches_the_keys() -> None:
    assert len(_KEYS) > 40  # the demo file spells out its keys, the generator edits them
