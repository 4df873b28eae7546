"""``ctseg pacs``: echo, find, get, send and listen, against a DICOMweb or DIMSE archive.

SERVER is a DICOMweb base URL, ``AET@host:port`` or a configured server's name
(:mod:`ctseg_core.pacs.servers`). Every failure is one ``ctseg: error:`` line naming the server and
the operation (exit 2); text the archive sent is shown through :func:`~ctseg_core.shown_text.for_terminal`.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from typing import TYPE_CHECKING

from ctseg_core.cli.terminal import progress_bar
from ctseg_core.errors import InvalidArgumentError
from ctseg_core.shown_text import for_terminal

if TYPE_CHECKING:
    from ctseg_core.pacs.archive import Archive
    from ctseg_core.pacs.query import StudyMatch
    from ctseg_core.pacs.receiver import Received
    from ctseg_core.pacs.servers import ServerConfig

#: Where a password or token given for a URL on the command line comes from (never an argument: ps shows those).
PASSWORD_ENV, TOKEN_ENV = "CTSEG_PACS_PASSWORD", "CTSEG_PACS_TOKEN"


def server_from(args: argparse.Namespace, operation: str) -> ServerConfig:
    """SERVER with the command line's overrides; a bad one is an error naming it and ``operation``."""
    from ctseg_core.pacs.errors import PacsError
    from ctseg_core.pacs.servers import parse_server, with_overrides

    try:
        server = parse_server(args.server)
        changes: dict[str, object] = {"timeout_s": args.timeout, "our_aet": args.calling_aet}
        if args.no_verify_tls:
            changes["verify_tls"] = False
        if args.user:
            changes |= {"auth": "basic", "username": args.user, "password": os.environ.get(PASSWORD_ENV, "")}
        if args.bearer:
            changes |= {"auth": "bearer", "token": os.environ.get(TOKEN_ENV, "")}
        return with_overrides(server, **changes)
    except InvalidArgumentError as error:
        raise PacsError(for_terminal(args.server), operation, error.problem) from None


def _archive(args: argparse.Namespace, operation: str) -> Archive:
    from ctseg_core.pacs.connect import open_archive

    server = server_from(args, operation)
    method, port = getattr(args, "method", "get"), getattr(args, "move_port", 0) or 0
    return open_archive(server, method, port, getattr(args, "bind", "127.0.0.1"))


def run_echo(args: argparse.Namespace) -> int:
    archive = _archive(args, "echo")
    seconds = archive.echo()
    print(f"{for_terminal(archive.server.display())}: answered in {seconds * 1000:.0f} ms")
    return 0


def run_find(args: argparse.Namespace) -> int:
    from ctseg_core.pacs.query import Query, parse_date_range

    date_from, date_to = parse_date_range(args.date) if args.date else ("", "")
    query = Query(
        args.patient_id or "", args.patient_name or "", date_from, date_to, args.modality or "", args.accession or ""
    )
    archive = _archive(args, "search")
    studies = archive.find_studies(query)
    series = (
        {s.study_uid: archive.find_series(s.study_uid, args.modality or "") for s in studies} if args.series else {}
    )
    if args.json:
        found = [
            s.to_dict() | ({"series": [m.to_dict() for m in series[s.study_uid]]} if args.series else {})
            for s in studies
        ]
        print(json.dumps(found, indent=2))
        return 0
    _print_studies(studies, series)
    return 0


def _print_studies(studies: list[StudyMatch], series: dict) -> None:
    if not studies:
        print("no matching studies")
        return
    for study in studies:
        fields = (study.study_date, study.patient_id, study.patient_name, study.modalities, study.description)
        count = f"{study.series_count} series" if study.series_count is not None else ""
        print(for_terminal("  ".join(f or "-" for f in fields)) + f"  {count}")
        print(f"  study {for_terminal(study.study_uid)}")
        for match in series.get(study.study_uid, []):
            number = match.number if match.number is not None else "-"
            count = match.instance_count if match.instance_count is not None else "?"
            text = f"{number}  {match.modality or '-'}  {count} instances  {match.description or '-'}"
            print(f"    series {for_terminal(match.series_uid)}  {for_terminal(text)}")


def run_get(args: argparse.Namespace) -> int:
    from ctseg_core.pacs.retrieve import retrieve

    archive = _archive(args, "retrieve")
    with progress_bar(not args.json) as progress:
        reports = retrieve(archive, args.study, args.series, db=args.db, progress=progress)
    if args.json:
        print(json.dumps([report.to_dict() for report in reports], indent=2))
        return 0
    for report in reports:
        extra = f", {report.skipped} already here" if report.skipped else ""
        extra += f", {report.duplicates} duplicates ignored" if report.duplicates else ""
        print(
            f"retrieved series {for_terminal(report.series_uid)}: {report.instances} instances "
            f"({report.received} received{extra}, {report.bytes / 1e6:.1f} MB, {report.seconds:.1f} s) "
            f"into {for_terminal(report.folder)}"
        )
    print("indexed into the cohort database" + (f" {for_terminal(args.db)}" if args.db else ""))
    return 0


def run_send(args: argparse.Namespace) -> int:
    from ctseg_core.pacs.errors import PacsError
    from ctseg_core.pacs.send import send_files

    archive = _archive(args, "send")
    with progress_bar(True) as progress:
        report = send_files(archive, args.files, progress)
    for path, why in report.failed:
        print(f"not stored: {for_terminal(path)}: {for_terminal(why)}")
    print(f"sent {report.sent} of {len(args.files)} files to {for_terminal(report.server)} ({report.seconds:.1f} s)")
    if report.failed:
        raise PacsError(report.server, "send", f"{len(report.failed)} of {len(args.files)} files were refused")
    return 0


def run_listen(args: argparse.Namespace) -> int:
    from ctseg_core.pacs.errors import PacsError
    from ctseg_core.pacs.receiver import NodeSettings, ReceivingNode

    allowed = tuple(args.allow or ())
    settings = NodeSettings(args.aet, args.port, args.bind, allowed, int(args.quota_gb * 1024**3))
    try:
        node = ReceivingNode(settings, db=args.db, on_received=_print_received)
    except InvalidArgumentError as error:
        address = for_terminal(f"{args.aet}@{args.bind}:{args.port}")
        raise PacsError(address, "listen", error.problem) from None
    node.start()
    print(
        f"listening as {for_terminal(node.address)}; accepting {', '.join(map(for_terminal, allowed))}; "
        f"quota {args.quota_gb:g} GB; Ctrl+C stops",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        node.stop()
    return 0


def _print_received(received: Received) -> None:
    who = for_terminal(received.calling_aet)
    if not received.kept:
        print(f"from {who}: {for_terminal(received.error)} ({received.instances} instances)", flush=True)
        return
    series = ", ".join(f"{for_terminal(uid)} ({count})" for uid, count in received.series.items()) or "none"
    notes = f"; {received.duplicates} duplicates ignored" if received.duplicates else ""
    notes += f"; {len(received.refused)} refused ({for_terminal(received.refused[0])})" if received.refused else ""
    notes += f"; error: {for_terminal(received.error)}" if received.error else ""
    print(f"from {who}: {received.instances} instances, series {series}{notes}", flush=True)
