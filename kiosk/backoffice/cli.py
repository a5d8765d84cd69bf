"""``kiosk-backoffice``: the operator side.

``export`` only reads: the journal is opened read-only and never migrated, and anything that is
not a kiosk journal, or a damaged one, ends with one line ``kiosk-backoffice: journal <file>:
<problem>`` on standard error and exit status 2.

The back office's database (``--db URL``, else ``$EVKIOSK_BACKOFFICE_DB``, else
``sqlite:///<cwd>/backoffice.sqlite``; ``postgresql+psycopg://USER@HOST/DB`` in production) is
created and migrated when opened:

- ``terminal add ID --public-key HEX [--site NAME]`` registers a terminal with the raw Ed25519
  public key ``kiosk provision`` prints, and the site it stands at (the analytics group by it);
  ``terminal site ID NAME`` sets or changes the site (``""`` clears it); ``terminal list``;
  ``terminal revoke ID``.
- ``demo-data --stations N --sessions M [--seed S] [--from DATE] [--days D]`` fills the
  database with a realistic demo fleet's sessions and health changes, through the import
  (:mod:`kiosk.backoffice.demo_data`); for demo databases only (its terminals' keys are
  derived from their ids).
- ``import FILE...`` imports upload envelopes (files of at most 2 MiB, regular files only):
  one line per file, ``FILE: stored|replay|held|rejected: ...``; exit status 0 unless one
  was rejected (2).
- ``update publish FILE... --operator-key HEX`` stores the operator's signed config and tariff
  bundles (``kiosk update sign``) for the terminals they name (:mod:`kiosk.backoffice.updates`:
  the signature by that key, the validity, the terminal registered and active, a sequence
  above the last published; files of at most 2 MiB, regular files only): one line per file,
  ``FILE: published|already published|refused: ...``; exit status 0 unless one was refused
  (2). ``update list [--terminal ID]`` (``valid``, ``expired`` or ``withdrawn``);
  ``update withdraw ID KIND SEQUENCE`` takes one back (kept, never offered again).

- ``report --out DIR [--from DATE] [--to DATE] [--station ID]`` writes the billing analytics
  (:mod:`kiosk.backoffice.analytics`): ``DIR/index.html`` (self-contained, charts inline as
  SVG, every figure with its definition, period and thresholds), one CSV per table and
  ``DIR/charts/*.svg``. The dates are UTC days, both included (``--to`` the last day); the
  default is the 30 days before today (UTC).

- ``plan suggest [--from DATE] [--to DATE]`` prints the customer segments and the suggested
  plans with their simulated revenue effect (:mod:`kiosk.backoffice.analytics.customers`;
  default the last 90 days); ``plan enable ID --segment S --percent P [--hours 22-6]
  [--min-sessions N] [--name TEXT] [--currency CUR]``, ``plan disable ID``, ``plan list``;
  ``plan publish --signing-key FILE [--valid-days D]`` signs a member list for every active
  terminal with the operator's private key (read, never stored) and publishes it as an update
  of kind ``members`` (:mod:`kiosk.backoffice.plans`): one line per terminal.

- ``what-if --tariff FILE [--from DATE] [--to DATE] [--station ID] [--out DIR] [--top N]``
  re-prices the paid sessions of the period under the proposed OCPI tariff file with the
  kiosk's engine (:mod:`kiosk.backoffice.analytics.whatif`): revenue, average price per kWh
  and the customers most affected beside what was charged, as a table on standard output and,
  with ``--out``, ``DIR/whatif.html`` and CSVs. Same dates as ``report``.

- ``serve`` runs the service (:mod:`kiosk.backoffice.serve`): the terminals' uploads
  (``POST /v1/batches``) and update polls (``POST /v1/updates``), the invoice pages and the
  OCPI CDRs module, over TLS (``--tls-cert``, ``--tls-key``) unless ``--plain-http`` behind a
  TLS-terminating proxy; ``--workers N`` processes share one PostgreSQL. SIGTERM stops it
  gracefully (exit status 0).

Every failure is one line ``kiosk-backoffice: ...`` and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.backoffice.analytics.queries import Period
    from kiosk.backoffice.storage import Database

ENV_DB = "EVKIOSK_BACKOFFICE_DB"


def default_db() -> str:
    return os.environ.get(ENV_DB) or f"sqlite:///{Path.cwd() / 'backoffice.sqlite'}"


SERVE_HELP = f"""\
Serve the back office: the terminals' uploads (POST /v1/batches) and their polls for
updates (POST /v1/updates), the invoice pages and the OCPI 2.2.1 CDRs module. TLS by
default: --tls-cert and --tls-key (PEM; the key unencrypted, readable only by the service's
user). The terminals pin the CA that signed the certificate (backoffice.ca_file) and check
its name against backoffice.url's host.

On SQLite (the embedded default, one process), one command:

  kiosk-backoffice serve --db sqlite:////var/lib/evkiosk/backoffice.sqlite \\
      --host 0.0.0.0 --port 8443 --tls-cert server.pem --tls-key server.key

On PostgreSQL (production): --db postgresql+psycopg://USER[:PASSWORD]@HOST[:PORT]/DBNAME
(or the environment variable ${ENV_DB}, which keeps a password off the
command line). The service keeps no state of its own, so several processes share one
database: --workers N here, or several machines behind a load balancer, each running
serve on the same URL:

  {ENV_DB}=postgresql+psycopg://backoffice@db.internal/backoffice \\
      kiosk-backoffice serve --host 0.0.0.0 --workers 4 \\
      --tls-cert server.pem --tls-key server.key

The database is created and migrated when serve starts. Register each terminal first:
kiosk-backoffice terminal add ID --public-key HEX (what kiosk provision printed).

--plain-http serves HTTP for a TLS-terminating proxy in front (a warning is printed); on an
address that is not loopback it needs --behind-proxy too. uvicorn trusts X-Forwarded-For
from 127.0.0.1 only; set FORWARDED_ALLOW_IPS to the address of a proxy elsewhere.
SIGTERM or Ctrl-C stops it gracefully (exit status 0). No access log is written (invoice
links carry their token in the path).
"""


def _parser() -> argparse.ArgumentParser:
    db_help = (f"database URL: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB "
               f"(default ${ENV_DB}, else sqlite:///./backoffice.sqlite)")
    p = argparse.ArgumentParser(prog="kiosk-backoffice", description=(
        "The back office of the EV charging kiosks: terminal registry, upload import, export, "
        "and the service (serve)."), epilog=(
        "Start the service on SQLite: kiosk-backoffice serve --db sqlite:///backoffice.sqlite "
        "--tls-cert server.pem --tls-key server.key; on PostgreSQL (several processes or "
        "machines share it): --db postgresql+psycopg://USER@HOST/DB. See "
        "kiosk-backoffice serve --help."))
    p.add_argument("--db", default=None, help=db_help)
    db_opt = argparse.ArgumentParser(add_help=False)
    db_opt.add_argument("--db", default=argparse.SUPPRESS, help=db_help)
    sub = p.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="print a journal's queued records as JSON lines "
                                           "(reads only)")
    export.add_argument("--journal", type=Path, required=True)
    export.add_argument("--pending", action="store_true", help="only records not yet sent")
    term = sub.add_parser("terminal", help="the terminal registry")
    tsub = term.add_subparsers(dest="action", required=True)
    add = tsub.add_parser("add", parents=[db_opt], help="register a terminal and its key")
    add.add_argument("id")
    add.add_argument("--public-key", required=True, metavar="HEX",
                     help="the raw 32-byte Ed25519 public key in hex (kiosk provision)")
    add.add_argument("--site", metavar="NAME", help="the site it stands at (1 to 64 characters)")
    tsite = tsub.add_parser("site", parents=[db_opt],
                            help="set or change the site a terminal stands at")
    tsite.add_argument("id")
    tsite.add_argument("name", help='the site (1 to 64 characters); "" clears it')
    tsub.add_parser("list", parents=[db_opt], help="the registered terminals")
    rev = tsub.add_parser("revoke", parents=[db_opt],
                          help="revoke a terminal: its uploads are rejected from now on")
    rev.add_argument("id")
    imp = sub.add_parser("import", parents=[db_opt],
                         help="import upload envelopes from files (e.g. a USB stick)")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    _demo_parser(sub, db_opt)
    _report_parser(sub, db_opt)
    _whatif_parser(sub, db_opt)
    _plan_parser(sub, db_opt)
    tok = sub.add_parser("ocpi-token", help="the credentials tokens of the OCPI parties (eMSPs, "
                                            "roaming hubs) that fetch CDRs")
    osub = tok.add_subparsers(dest="action", required=True)
    oadd = osub.add_parser("add", parents=[db_opt],
                           help="make a token for a party; printed once, stored only hashed")
    oadd.add_argument("name", help="the party, e.g. DE-ABC (1 to 64 of A-Z a-z 0-9 . _ -)")
    osub.add_parser("list", parents=[db_opt], help="the parties and their tokens' state")
    orev = osub.add_parser("revoke", parents=[db_opt], help="revoke a party's token")
    orev.add_argument("name")
    ops = sub.add_parser("operator", help="who may read the analytics (/analytics)")
    psub = ops.add_subparsers(dest="action", required=True)
    padd = psub.add_parser("add", parents=[db_opt],
                           help="add an operator; the password is asked twice (12 to 128 "
                                "characters), kept only as an scrypt hash")
    padd.add_argument("name", help="1 to 64 of A-Z a-z 0-9 . _ @ -")
    padd.add_argument("--password-stdin", action="store_true",
                      help="read the password from the first line of standard input")
    psub.add_parser("list", parents=[db_opt], help="the operators and their state")
    prev = psub.add_parser("revoke", parents=[db_opt], help="revoke an operator")
    prev.add_argument("name")
    upd = sub.add_parser("update", help="the operator's signed config and tariff bundles for "
                                         "the terminals to fetch")
    usub = upd.add_subparsers(dest="action", required=True)
    upub = usub.add_parser("publish", parents=[db_opt],
                           help="store signed bundles (kiosk update sign) for their terminals")
    upub.add_argument("files", nargs="+", type=Path, metavar="FILE")
    upub.add_argument("--operator-key", required=True, metavar="HEX",
                      help="the operator's public key, 64 hex digits (the terminals' "
                           "maintenance.operator_key): only bundles it signed are published")
    ulist = usub.add_parser("list", parents=[db_opt], help="the published bundles")
    ulist.add_argument("--terminal", metavar="ID", help="only this terminal's")
    uwd = usub.add_parser("withdraw", parents=[db_opt],
                          help="take a published bundle back: it is no longer offered")
    uwd.add_argument("id", metavar="ID", help="the terminal")
    uwd.add_argument("kind", choices=("config", "tariff", "members"))
    uwd.add_argument("sequence", type=int)
    srv = sub.add_parser("serve", parents=[db_opt], help="run the service (uploads, updates, "
                         "invoice pages, OCPI) over TLS, on SQLite or PostgreSQL",
                         description=SERVE_HELP,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    srv.add_argument("--host", default="127.0.0.1",
                     help="the address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    srv.add_argument("--port", type=int, default=8443, help="default 8443")
    srv.add_argument("--tls-cert", type=Path, metavar="PEM",
                     help="the server certificate (and any intermediates), PEM")
    srv.add_argument("--tls-key", type=Path, metavar="PEM", help="its private key, PEM")
    srv.add_argument("--public-url", default="", metavar="URL",
                     help="the base URL clients see, for links (default: the request's)")
    srv.add_argument("--workers", type=int, default=1, metavar="N",
                     help="processes (default 1; more than 1 needs PostgreSQL)")
    srv.add_argument("--plain-http", action="store_true",
                     help="HTTP without TLS, for a TLS-terminating proxy in front")
    srv.add_argument("--behind-proxy", action="store_true",
                     help="with --plain-http on an address that is not loopback: the proxy "
                          "is on another machine")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from kiosk.config import one_line

    if args.command == "export":
        from kiosk.backoffice.export import ExportError, export_lines

        try:
            lines = export_lines(args.journal, pending_only=args.pending)
        except ExportError as exc:
            print(f"kiosk-backoffice: {one_line(str(exc))}", file=sys.stderr)
            return 2
        for line in lines:
            print(line)
        return 0

    if args.command == "serve":
        return _serve(args)

    from sqlalchemy.exc import SQLAlchemyError

    from kiosk.backoffice.registry import RegistryError
    from kiosk.backoffice.storage import StorageError, _reason, open_db

    url = args.db or default_db()
    try:
        db = open_db(url)
    except StorageError as exc:
        print(f"kiosk-backoffice: database: {one_line(str(exc))}", file=sys.stderr)
        return 2
    try:
        return _run(args, db)
    except (RegistryError, StorageError, ValueError) as exc:
        print(f"kiosk-backoffice: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(f"kiosk-backoffice: database: {one_line(_reason(exc))}", file=sys.stderr)
        return 2
    finally:
        db.close()


def _run(args: argparse.Namespace, db: Database) -> int:
    from kiosk.backoffice import registry

    if args.command == "terminal":
        if args.action == "add":
            t = registry.add_terminal(db, registry.check_terminal_id(args.id),
                                      registry.parse_public_key(args.public_key), args.site)
            print(f"{t.id}: added, key_id {t.key_id}" + (f", site {t.site}" if t.site else ""))
        elif args.action == "site":
            t = registry.set_site(db, args.id, args.name)
            print(f"{t.id}: " + (f"site {t.site}" if t.site else "no site"))
        elif args.action == "revoke":
            t = registry.revoke_terminal(db, args.id)
            print(f"{t.id}: revoked at {t.revoked_at}")
        else:
            for t in registry.list_terminals(db):
                print(f"{t.id}\t{t.status}\t{t.key_id}\t{t.added_at}\tsite {t.site or '-'}"
                      + (f"\trevoked {t.revoked_at}" if t.revoked_at else ""))
        return 0
    if args.command == "ocpi-token":
        return _ocpi_token(args, db)
    if args.command == "update":
        return _update(args, db)
    if args.command == "operator":
        return _operator(args, db)
    if args.command == "demo-data":
        return _demo_data(args, db)
    if args.command == "report":
        return _report(args, db)
    if args.command == "what-if":
        return _whatif(args, db)
    if args.command == "plan":
        return _plan(args, db)
    return _import(db, args.files)


def _serve(args: argparse.Namespace) -> int:
    from kiosk.backoffice.serve import ServeError, ServeOptions, serve
    from kiosk.config import one_line

    options = ServeOptions(
        db_url=args.db or default_db(), host=args.host, port=args.port, tls_cert=args.tls_cert,
        tls_key=args.tls_key, public_url=args.public_url, workers=args.workers,
        plain_http=args.plain_http, behind_proxy=args.behind_proxy)
    try:
        return serve(options)
    except ServeError as exc:
        print(f"kiosk-backoffice: serve: {one_line(str(exc))}", file=sys.stderr)
        return 2


def _ocpi_token(args: argparse.Namespace, db: Database) -> int:
    from kiosk.backoffice import ocpi_tokens

    if args.action == "add":
        party, secret = ocpi_tokens.add_token(db, args.name)
        print(f"{party.name}: token (give it to the party; it is not shown again): {secret}")
        print(f"  Authorization: Token {ocpi_tokens.encode_header_token(secret)}")
    elif args.action == "revoke":
        party = ocpi_tokens.revoke_token(db, args.name)
        print(f"{party.name}: revoked at {party.revoked_at}")
    else:
        for party in ocpi_tokens.list_tokens(db):
            print(f"{party.name}\t{party.status}\t{party.created_at}"
                  + (f"\trevoked {party.revoked_at}" if party.revoked_at else ""))
    return 0


def _operator(args: argparse.Namespace, db: Database) -> int:
    from kiosk.backoffice import operators

    if args.action == "add":
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            import getpass

            password = getpass.getpass(f"password for {args.name}: ")
            if getpass.getpass("again: ") != password:
                raise ValueError("the two passwords differ")
        op = operators.add_operator(db, args.name, password)
        print(f"{op.name}: added; /analytics asks for this name and password")
    elif args.action == "revoke":
        operators.revoke_operator(db, args.name)
        print(f"{args.name}: revoked")
    else:
        for op in operators.list_operators(db):
            print(f"{op.name}\t{op.status}\t{op.created_at}"
                  + (f"\trevoked {op.revoked_at}" if op.revoked_at else ""))
    return 0


def _update(args: argparse.Namespace, db: Database) -> int:
    from kiosk.backoffice import updates

    if args.action == "withdraw":
        u = updates.withdraw(db, args.id, args.kind, args.sequence)
        print(f"{u.terminal_id} {u.kind} sequence {u.sequence}: withdrawn at {u.withdrawn_at}")
        return 0
    if args.action == "list":
        from datetime import UTC, datetime

        at = datetime.now(UTC)
        for u in updates.list_updates(db, args.terminal):
            print(f"{u.terminal_id}\t{u.kind}\t{u.sequence}\t{u.state(at)}\t"
                  f"published {u.published_at}\texpires {u.expires_at}\t{u.sha256}"
                  + (f"\twithdrawn {u.withdrawn_at}" if u.withdrawn_at else ""))
        return 0
    return _publish(db, args.files, updates.check_operator_key(args.operator_key))


def _publish(db: Database, files: list[Path], operator_key: str) -> int:
    from datetime import UTC, datetime

    from kiosk.backoffice.updates import PublishError, publish
    from kiosk.config import one_line
    from kiosk.files import FileRefused, read_regular_file
    from kiosk.maintenance.updates import BUNDLE_MAX_BYTES

    refused = 0
    for path in files:
        name = one_line(str(path), 200)
        try:
            data = read_regular_file(path, BUNDLE_MAX_BYTES)
            done = publish(db, data, operator_key, now=datetime.now(UTC))
        except (FileRefused, PublishError) as exc:
            print(f"{name}: refused: {one_line(str(exc))}")
            refused += 1
            continue
        print(f"{name}: {one_line(done.line(), 400)}")
    return 2 if refused else 0


def _import(db: Database, files: list[Path]) -> int:
    from kiosk.backoffice.importer import import_envelope
    from kiosk.config import one_line
    from kiosk.files import FileRefused, read_regular_file
    from kiosk.records.batch import MAX_ENVELOPE_BYTES

    rejected = 0
    for path in files:
        name = one_line(str(path), 200)
        try:
            data = read_regular_file(path, MAX_ENVELOPE_BYTES)
        except FileRefused as exc:
            print(f"{name}: rejected: {one_line(str(exc))}")
            rejected += 1
            continue
        result = import_envelope(db, data)
        rejected += result.status == "rejected"
        print(f"{name}: {one_line(result.line(), 400)}")
    return 2 if rejected else 0


def _demo_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                 db_opt: argparse.ArgumentParser) -> None:
    demo = sub.add_parser(
        "demo-data", parents=[db_opt], help="fill the database with a demo fleet's sessions "
        "and health changes (for demo databases only)",
        description="Make a realistic demo fleet (stations at a few sites, 1 to 4 connectors, "
        "daily and weekly patterns, seasons, growth, congested and idle stations, repeat "
        "customers, failures, outages and maintenance) and import its records through the "
        "same path as the terminals' uploads: signed batches of at most 500 records, each "
        "terminal's sequence continuing from what is stored. The same for the same "
        "--stations, --sessions, --seed, --from and --days. The "
        "demo terminals are registered (or reused) with keys derived from their ids: never "
        "run it on a production database.")
    demo.add_argument("--stations", type=int, default=20, metavar="N",
                      help="stations (terminals), default 20")
    demo.add_argument("--sessions", type=int, default=10_000, metavar="M",
                      help="charging sessions in all, default 10000")
    demo.add_argument("--seed", type=int, default=1, metavar="S", help="default 1")
    demo.add_argument("--from", dest="start", default=None, metavar="DATE",
                      help="the first day, YYYY-MM-DD (default: DAYS days before today, UTC)")
    demo.add_argument("--days", type=int, default=90, metavar="D", help="default 90")


def _demo_data(args: argparse.Namespace, db: Database) -> int:
    import time
    from datetime import UTC, date, datetime, timedelta

    from kiosk.backoffice.demo_data import DemoPlan, make_demo

    try:
        start = (date.fromisoformat(args.start) if args.start is not None
                 else datetime.now(UTC).date() - timedelta(days=args.days))
    except ValueError:
        raise ValueError("--from: not a date (YYYY-MM-DD)") from None
    plan = DemoPlan(stations=args.stations, sessions=args.sessions, seed=args.seed,
                    start=start, days=args.days)
    began = time.monotonic()
    done = make_demo(db, plan)
    seconds = max(time.monotonic() - began, 1e-9)
    print(done.line())
    print(f"{done.sessions:,} sessions in {seconds:.1f} s ({done.sessions / seconds:,.0f} "
          f"sessions/s)")
    return 0


def _period_args(p: argparse.ArgumentParser, *, days: int, station: bool) -> None:
    """``--from``, ``--to`` (UTC days, both included) and, with ``station``, ``--station``: the
    period of ``report``, ``what-if`` and ``plan suggest`` (``days``: the default length)."""
    p.add_argument("--from", dest="first", default=None, metavar="YYYY-MM-DD",
                   help=f"the first day (UTC; default: {days} days before --to)")
    p.add_argument("--to", dest="last", default=None, metavar="YYYY-MM-DD",
                   help="the last day, included (UTC; default: yesterday)")
    if station:
        p.add_argument("--station", default=None, metavar="ID", help="only this station")


def _period_of(args: argparse.Namespace, days: int) -> Period:
    """The period of :func:`_period_args`' options: ``--to`` default yesterday (UTC),
    ``--from`` default ``days`` days up to it. A date that does not read is a ValueError naming
    the option (one line, exit 2)."""
    from datetime import UTC, date, datetime, timedelta

    from kiosk.backoffice.analytics.queries import Period

    def day(value: str | None, option: str) -> date | None:
        try:
            return None if value is None else date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{option}: not a date (YYYY-MM-DD)") from None

    last = day(args.last, "--to") or datetime.now(UTC).date() - timedelta(days=1)
    first = day(args.first, "--from") or last - timedelta(days=days - 1)
    return Period.of_dates(first, last)


def _report_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                   db_opt: argparse.ArgumentParser) -> None:
    rep = sub.add_parser(
        "report", parents=[db_opt], help="write the billing analytics: an HTML report with "
        "charts and one CSV per table",
        description="Utilization, availability, success and failures, peak hours, revenue, "
        "under-used and congested stations, payment health, trends and an occupancy "
        "forecast, computed in the database, written to DIR: index.html (one self-contained "
        "file), one CSV per table, charts/*.svg. Dates are UTC days, both included.")
    rep.add_argument("--out", type=Path, required=True, metavar="DIR",
                     help="the folder to write to (made if missing; its files replaced)")
    _period_args(rep, days=30, station=True)


def _report(args: argparse.Namespace, db: Database) -> int:

    from kiosk.backoffice.analytics.queries import DEFAULT_DAYS
    from kiosk.backoffice.analytics.report import write_report
    from kiosk.config import one_line

    period = _period_of(args, DEFAULT_DAYS)
    try:
        done = write_report(db, args.out, period, args.station)
    except OSError as exc:
        print(f"kiosk-backoffice: report: {one_line(str(args.out), 200)}: "
              f"{one_line(exc.strerror or str(exc))}", file=sys.stderr)
        return 2
    stations = sum(1 for u in done.analytics.usage if u.level == "station")
    print(f"{one_line(str(done.index), 300)}: {period.label()}, {stations} station"
          f"{'s' if stations != 1 else ''}, {len(done.csv_files)} CSV files, "
          f"{len(done.svg_files)} charts")
    return 0


def _plan_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                 db_opt: argparse.ArgumentParser) -> None:
    plan = sub.add_parser("plan", help="customer segments, member plans and the signed "
                                       "member lists for the terminals")
    psub = plan.add_subparsers(dest="action", required=True)
    sug = psub.add_parser("suggest", parents=[db_opt], help="the segments and the suggested "
                          "plans with their simulated revenue effect")
    _period_args(sug, days=90, station=False)
    en = psub.add_parser("enable", parents=[db_opt], help="create or change a plan and "
                         "enable it (plan publish sends it to the terminals)")
    en.add_argument("id", help="the plan id: 1 to 32 of a-z 0-9 -")
    en.add_argument("--segment", required=True, metavar="S",
                    help="fleet, night, commuter or occasional")
    en.add_argument("--percent", required=True, metavar="P",
                    help="percent off, above 0 and at most 50 (e.g. 10 or 12.5)")
    en.add_argument("--hours", metavar="FROM-TO",
                    help="local start hours it applies to, e.g. 22-6 (default: every hour)")
    en.add_argument("--min-sessions", type=int, metavar="N",
                    help="loyalty: only cards with at least N paid sessions this month")
    en.add_argument("--name", metavar="TEXT", help="what the driver reads (1 to 40 "
                                                   "characters)")
    en.add_argument("--currency", metavar="CUR", help="default: the fleet's")
    dis = psub.add_parser("disable", parents=[db_opt], help="disable a plan")
    dis.add_argument("id")
    psub.add_parser("list", parents=[db_opt], help="the plans")
    pub = psub.add_parser("publish", parents=[db_opt], help="sign and publish a member list "
                          "for every active terminal")
    pub.add_argument("--signing-key", required=True, type=Path, metavar="FILE",
                     help="the operator's private key (kiosk update keygen); not stored")
    pub.add_argument("--valid-days", type=int, default=30, metavar="D",
                     help="validity of a list without a monthly plan (default 30, at most "
                          "62); a list with one is valid to the end of the month")


def _plan(args: argparse.Namespace, db: Database) -> int:
    from kiosk.backoffice import plans

    if args.action == "enable":
        p = plans.enable_plan(db, args.id, segment=args.segment, percent=args.percent,
                              hours=args.hours, min_sessions=args.min_sessions,
                              name=args.name, currency=args.currency)
        print(f"{p.id}: enabled: {p.line()}")
    elif args.action == "disable":
        print(f"{plans.disable_plan(db, args.id).id}: disabled")
    elif args.action == "list":
        for p in plans.list_plans(db):
            print(p.line())
    elif args.action == "publish":
        key = plans.load_operator_key(args.signing_key)
        return 2 if plans.publish_members(db, key, valid_days=args.valid_days) else 0
    else:
        return _plan_suggest(args, db)
    return 0


def _plan_suggest(args: argparse.Namespace, db: Database) -> int:

    from kiosk.backoffice.analytics.customers import SEGMENT_NAMES, compute_customers
    from kiosk.backoffice.plans import WINDOW_DAYS

    figures = compute_customers(db, _period_of(args, WINDOW_DAYS))
    print(f"customers: {figures.period.label()}")
    for s in figures.segments:
        print(f"segment {SEGMENT_NAMES[s.segment]}\t{s.currency}\t{s.tokens} cards\t"
              f"{s.sessions} sessions\trevenue {s.revenue_minor}\t"
              f"share {'-' if s.share is None else f'{s.share:.1%}'}")
    for e in figures.effects:
        monthly = (f", after {e.min_sessions_month} paid sessions a month"
                   if e.min_sessions_month else "")
        print(f"plan {e.plan.id} for {SEGMENT_NAMES[e.segment]} ({e.currency}): "
              f"{e.plan.percent_off} % off, {e.hours_text()}{monthly}: {e.members} members, "
              f"{e.discounted_sessions} of {e.member_sessions} sessions discounted, revenue "
              f"{e.revenue_before_minor} -> {e.revenue_after_minor} ({e.change_minor:+d}), "
              f"break-even {'-' if e.break_even_sessions is None else e.break_even_sessions} "
              f"more sessions")
    print("assumption: no change in behaviour; amounts in minor units")
    return 0



def _whatif_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                   db_opt: argparse.ArgumentParser) -> None:
    wi = sub.add_parser(
        "what-if", parents=[db_opt], help="re-price the recorded sessions of a period under a "
        "proposed OCPI tariff, beside what was charged",
        description="The paid sessions of the period re-priced with the kiosk's engine under "
        "the tariff file (one OCPI tariff or a list: each session by the first valid at its "
        "charge start), assuming constant power while charging: revenue, average price per "
        "kWh, per station and the customers most affected. Dates are UTC days, both "
        "included.")
    wi.add_argument("--tariff", type=Path, required=True, metavar="FILE",
                    help="the proposed OCPI tariff (JSON, at most 1 MiB)")
    _period_args(wi, days=30, station=True)
    wi.add_argument("--out", type=Path, default=None, metavar="DIR",
                    help="also write DIR/whatif.html and the CSVs (made if missing)")
    wi.add_argument("--top", type=int, default=10, metavar="N",
                    help="the customers shown for each direction (default 10)")


def _whatif(args: argparse.Namespace, db: Database) -> int:

    from kiosk.backoffice.analytics.queries import DEFAULT_DAYS
    from kiosk.backoffice.analytics.whatif import reprice, text, write
    from kiosk.billing.tariff import TariffError, load_tariffs
    from kiosk.config import one_line

    if not 0 <= args.top <= 1000:
        raise ValueError("--top: 0 to 1000")
    warnings: list[str] = []
    try:
        tariffs = load_tariffs(args.tariff, warnings=warnings)
    except TariffError as exc:
        print(f"kiosk-backoffice: what-if: {one_line(str(exc), 400)}", file=sys.stderr)
        return 2
    for w in warnings:
        print(f"kiosk-backoffice: what-if: warning: {one_line(w, 300)}", file=sys.stderr)
    period = _period_of(args, DEFAULT_DAYS)
    found = reprice(db, period, tariffs, args.station, top=args.top)
    sys.stdout.write(text(found))
    if args.out is not None:
        try:
            index, files = write(found, args.out)
        except OSError as exc:
            print(f"kiosk-backoffice: what-if: {one_line(str(args.out), 200)}: "
                  f"{one_line(exc.strerror or str(exc))}", file=sys.stderr)
            return 2
        print(f"{one_line(str(index), 300)}: {len(files)} CSV files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
