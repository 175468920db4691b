"""Command line for integration teams: validate, translate and show MT and MX messages.

    python -m iso20022 validate FILE    exit 0 if the hub would accept it, else 1 with each error on stderr
    python -m iso20022 translate FILE   MT in: MX (hub envelope) out; MX in: MT out; on stdout
    python -m iso20022 show FILE        the parsed business content as JSON on stdout

FILE may be ``-`` for standard input. MT or MX is detected from the content. Exit status: 0 success,
1 the message was refused (errors on stderr, one per line), 2 usage or unreadable file.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
from decimal import Decimal
from enum import Enum
from pathlib import Path

from iso20022 import mx
from iso20022.errors import Iso20022Error
from iso20022.mt import parse_fin, read_message
from iso20022.mt.fields import Field
from iso20022.mt.fin import FinMessage, Sequence
from iso20022.translate import MT, detect, translate

MAX_INPUT_BYTES = 50 * 1024 * 1024


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    with Path(name).open("rb") as handle:
        return handle.read(MAX_INPUT_BYTES + 1)


def _report(name: str, error: Iso20022Error) -> int:
    for item in error.errors:
        print(f"{name}: {item}", file=sys.stderr)
    return 1


def _validate(name: str, data: bytes) -> int:
    _parse(data)
    print(f"{name}: valid", file=sys.stderr)
    return 0


def _translate(name: str, data: bytes) -> int:
    result = translate(data)
    sys.stdout.buffer.write(result.content)
    if not result.content.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")
    return 0


def _show(name: str, data: bytes) -> int:
    print(json.dumps(_parse(data), indent=2, default=_json_default, ensure_ascii=False))
    return 0


def _parse(data: bytes) -> dict[str, object]:
    """What ``show`` prints: format, message name, model name and content."""
    if detect(data) == MT:
        fin = parse_fin(data)
        content = read_message(fin)
        shown: dict[str, object] = {
            "format": "MT",
            "message": f"MT{fin.message_type}",
            "sender": fin.sender,
            "receiver": fin.receiver,
        }
        if isinstance(content, FinMessage):
            return shown | {"model": None, "content": _tree(content.text)}
        return shown | {"model": type(content).__name__, "content": content}
    parsed = mx.parse(data)
    return {
        "format": "MX",
        "message": parsed.message_id,
        "header": parsed.header,
        "model": type(parsed.body).__name__,
        "content": parsed.body,
    }


def _tree(sequence: Sequence) -> list[object]:
    items: list[object] = []
    for item in sequence.items:
        if isinstance(item, Field):
            items.append(
                {
                    "tag": item.tag,
                    "qualifier": item.qualifier,
                    "issuer": item.issuer,
                    "value": item.value,
                    "line": item.line,
                }
            )
        else:
            items.append({"sequence": item.name, "line": item.line, "items": _tree(item)})
    return items


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(f"cannot show {type(value).__name__}")


COMMANDS = {"validate": _validate, "translate": _translate, "show": _show}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m iso20022",
        description="Validate, translate (MT <-> MX) and show ISO 20022 MX and ISO 15022 MT messages. "
        "MT or MX is detected from the content.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    helps = {
        "validate": "exit 0 if the hub accepts the message, else 1 with each error on stderr",
        "translate": "MT in: MX (AppHdr + Document envelope) out; MX in: MT out; on stdout",
        "show": "print the parsed business content as JSON",
    }
    for name, text in helps.items():
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("file", metavar="FILE", help="the message file, or - for standard input")
    args = parser.parse_args(argv)
    try:
        data = _read(args.file)
    except OSError as exc:
        print(f"{args.file}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if len(data) > MAX_INPUT_BYTES:
        print(f"{args.file}: larger than {MAX_INPUT_BYTES // (1024 * 1024)} MB", file=sys.stderr)
        return 1
    try:
        return COMMANDS[args.command](args.file, data)
    except Iso20022Error as exc:
        return _report(args.file, exc)
    except BrokenPipeError:  # e.g. piped into head: the reader has all it wanted
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - let the interpreter's final flush succeed
        return 0


if __name__ == "__main__":
    sys.exit(main())
