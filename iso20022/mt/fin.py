"""SWIFT FIN envelope and block 4 tree: parse and build ``{1:}{2:}{3:}{4:...-}{5:}``.

The parser accepts CRLF or LF line ends, keeps the line of every field, turns block 4 into a
tree of ``Sequence`` (``:16R:``/``:16S:`` pairs) holding ``Field`` values, and collects every fault it
finds before refusing the message with ``MalformedMessage``. The builder writes CRLF, as FIN does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from iso20022.errors import MalformedMessage, MessageError, ReasonCode
from iso20022.mt.fields import Field, FieldFormatError, parse_field
from iso20022.mt.problems import problem

MAX_MESSAGE_CHARS = 2_000_000  # FIN caps a message at 10,000 characters (MT537 statements are paged)
MAX_DEPTH = 16
MAX_ERRORS = 50


@dataclass(frozen=True, slots=True)
class BasicHeader:
    """Block 1: ``F01`` + logical terminal address (BIC8 + terminal letter + branch) + session + sequence."""

    lt_address: str
    application: str = "F"
    service: str = "01"
    session: str = "0000"
    sequence: str = "000000"

    @property
    def bic(self) -> str:
        return self.lt_address[:8] + self.lt_address[9:12]


@dataclass(frozen=True, slots=True)
class ApplicationHeader:
    """Block 2, input (``I540RECEIVERXXXXN``) or output (``O540...``): direction, type, counterparty."""

    message_type: str
    direction: str = "I"
    address: str = ""  # receiver's LT address for input; sender's (from the MIR) for output
    priority: str = "N"
    rest: str = ""  # output: input time, MIR, output date/time, as received

    @property
    def bic(self) -> str:
        return self.address[:8] + self.address[9:12] if len(self.address) == 12 else self.address


@dataclass(slots=True)
class Sequence:
    """A block 4 sequence (``GENL``, ``TRADDET``...) or the root (name ``""``)."""

    name: str
    items: list[Field | Sequence] = field(default_factory=list)
    line: int = 0

    def fields(self, tag: str, qualifier: str | None = None) -> Iterator[Field]:
        for item in self.items:
            if isinstance(item, Field) and item.matches(tag, qualifier):
                yield item

    def field(self, tag: str, qualifier: str | None = None) -> Field | None:
        """The first field ``fields`` would give, found without a generator: readers look up every field
        of a message this way, most of them in sequences of a few items."""
        any_option = len(tag) == 3 and tag[2] == "a"  # as in ``Field.matches``
        if any_option:
            tag = tag[:2]
        for item in self.items:
            if (
                type(item) is Field
                and (item.tag[:2] == tag if any_option else item.tag == tag)
                and (qualifier is None or item.qualifier == qualifier)
            ):
                return item
        return None

    def value(self, tag: str, qualifier: str | None = None, default: object = None) -> object:
        found = self.field(tag, qualifier)
        return default if found is None else found.value

    def sequences(self, name: str) -> Iterator[Sequence]:
        for item in self.items:
            if isinstance(item, Sequence) and item.name == name:
                yield item

    def sequence(self, name: str) -> Sequence | None:
        for item in self.items:
            if type(item) is Sequence and item.name == name:
                return item
        return None

    def find(self, *path: str) -> Sequence | None:
        """The first sequence along a path of names, e.g. ``find("SETDET", "SETPRTY")``."""
        node: Sequence | None = self
        for name in path:
            node = node.sequence(name) if node else None
        return node

    def add(self, item: Field | Sequence) -> Sequence:
        self.items.append(item)
        return self


@dataclass(slots=True)
class FinMessage:
    basic: BasicHeader
    application: ApplicationHeader
    text: Sequence
    user: tuple[tuple[str, str], ...] = ()
    trailer: tuple[tuple[str, str], ...] = ()

    @property
    def message_type(self) -> str:
        return self.application.message_type

    @property
    def sender(self) -> str:
        return self.basic.bic if self.application.direction == "I" else self.application.bic

    @property
    def receiver(self) -> str:
        return self.application.bic if self.application.direction == "I" else self.basic.bic


_BLOCK1 = re.compile(r"^([FAL])(\d{2})([A-Z0-9]{12})(\d{4})(\d{6})$")
_BLOCK2_IN = re.compile(r"^I(\d{3})([A-Z0-9]{12})([SNU]?)(\d?)(\d{3})?$")
_BLOCK2_OUT = re.compile(r"^O(\d{3})(\d{4})(\d{6})([A-Z0-9]{12})(\d{10})(\d{6})(\d{4})([SNU]?)$")
_SUBBLOCK = re.compile(r"\{([A-Za-z0-9]{1,3}):([^{}]*)\}")
_FIELD_LINE = re.compile(r"^:(\d{2}[A-Z]?):", re.MULTILINE)
_BLOCK_START = re.compile(r"\{([1-5S]):")
_SEQUENCE_NAME = re.compile(r"[A-Z0-9]{1,16}")  # :16R: / :16S: (GENL, TRADDET, SETPRTY ...)


def parse_fin(data: str | bytes) -> FinMessage:
    """Parse one FIN message; raise ``MalformedMessage`` with every fault found."""
    errors: list[MessageError] = []
    if isinstance(data, bytes):
        try:
            data = data.decode("ascii")
        except UnicodeDecodeError as exc:
            raise MalformedMessage(
                MessageError(reason=ReasonCode.OTHER, message=f"not ASCII text: byte {exc.start}")
            ) from exc
    if len(data) > MAX_MESSAGE_CHARS:
        raise MalformedMessage(
            MessageError(
                reason=ReasonCode.OTHER, message=f"message longer than {MAX_MESSAGE_CHARS} characters"
            )
        )
    text = data.replace("\r\n", "\n").strip()
    blocks, body_line = _split_blocks(text, errors)
    if errors:
        raise MalformedMessage(errors)
    basic = _basic_header(blocks.get("1"), errors)
    application = _application_header(blocks.get("2"), errors)
    user = _subblocks(blocks.get("3", ""), "3", errors)
    trailer = _subblocks(blocks.get("5", ""), "5", errors)
    root = _parse_block4(blocks.get("4"), body_line, errors)
    if errors:
        if len(errors) > MAX_ERRORS:
            errors[MAX_ERRORS:] = [
                MessageError(
                    reason=ReasonCode.OTHER,
                    line=errors[MAX_ERRORS].line,
                    message=f"{len(errors) - MAX_ERRORS} more errors not listed",
                )
            ]
        raise MalformedMessage(errors)
    return FinMessage(basic, application, root, user, trailer)


def _split_blocks(text: str, errors: list[MessageError]) -> tuple[dict[str, str], int]:
    blocks: dict[str, str] = {}
    body_line = 0
    pos = 0
    while pos < len(text):
        if text[pos] != "{":
            line = text.count("\n", 0, pos) + 1
            problem(errors, f"unexpected {text[pos]!r} between blocks", line, "block")
            return blocks, body_line
        match = _BLOCK_START.match(text, pos)
        if not match:
            problem(errors, "a block must start with {1: to {5:", text.count("\n", 0, pos) + 1, "block")
            return blocks, body_line
        name = match.group(1)
        start = match.end()
        if name == "4":
            end = text.find("\n-}", start)
            if end < 0:
                problem(errors, "block 4 is not closed by a line '-}'", text.count("\n", 0, pos) + 1, "4")
                return blocks, body_line
            body_line = text.count("\n", 0, start) + 1
            blocks["4"] = text[start:end]
            pos = end + 3
            continue
        # to the brace that closes the block: each step goes to the next "}", past the sub-blocks that open
        # before it (blocks 3 and 5 hold {tag:value} sub-blocks; 1 and 2 none)
        depth, index = 1, start
        while depth:
            close = text.find("}", index)
            if close < 0:
                break
            depth += text.count("{", index, close) - 1
            index = close + 1
        if depth:
            problem(errors, f"block {name} is not closed", text.count("\n", 0, pos) + 1, name)
            return blocks, body_line
        if name in blocks:
            problem(errors, f"block {name} appears twice", text.count("\n", 0, pos) + 1, name)
        blocks[name] = text[start : index - 1]
        pos = index
    for required in ("1", "2", "4"):
        if required not in blocks:
            problem(errors, f"block {required} is missing", None, required)
    return blocks, body_line


def _basic_header(content: str | None, errors: list[MessageError]) -> BasicHeader:
    match = _BLOCK1.match(content or "")
    if not match:
        problem(
            errors, f"block 1 {content!r} is not F01 + 12-character LT address + session + sequence", 1, "1"
        )
        return BasicHeader("XXXXXXXXXXXX")
    application, service, address, session, sequence = match.groups()
    return BasicHeader(address, application, service, session, sequence)


def _application_header(content: str | None, errors: list[MessageError]) -> ApplicationHeader:
    content = content or ""
    match = _BLOCK2_IN.match(content)
    if match:
        return ApplicationHeader(
            match.group(1),
            "I",
            match.group(2),
            match.group(3) or "N",
            content[4 + 12 + len(match.group(3)) :],
        )
    match = _BLOCK2_OUT.match(content)
    if match:
        return ApplicationHeader(match.group(1), "O", match.group(4), match.group(8) or "N", content[4:])
    problem(errors, f"block 2 {content!r} is neither an input (I...) nor an output (O...) header", 1, "2")
    return ApplicationHeader("000")


def _subblocks(content: str, block: str, errors: list[MessageError]) -> tuple[tuple[str, str], ...]:
    found = _SUBBLOCK.findall(content)
    if _SUBBLOCK.sub("", content).strip():
        problem(errors, f"block {block} must hold only {{tag:value}} sub-blocks", 1, block)
    return tuple(found)


def _parse_block4(body: str | None, first_line: int, errors: list[MessageError]) -> Sequence:
    root = Sequence("", [], first_line)
    if body is None:
        return root
    if body.startswith("\n"):
        body = body[1:]
        first_line += 1
    if not body:
        return root
    # [text before the first field, tag, value, tag, value, ...]; every value but the last ends with the
    # line end before the next field.
    parts = _FIELD_LINE.split(body)
    if parts[0] or len(parts) == 1:
        problem(
            errors, f"block 4 text must start with a field (:TAG:), not {parts[0][:20]!r}", first_line, "4"
        )
        return root
    tags, values = parts[1::2], parts[2::2]
    values[-1] += "\n"  # now every value ends with the line end before the next field
    stack = [root]
    items = root.items  # those of the innermost open sequence
    line = first_line
    for tag, value in zip(tags, values, strict=True):
        raw = value[:-1]
        if "\n:" in raw:
            offset = raw.count("\n", 0, raw.index("\n:")) + 1
            problem(
                errors,
                f"a line starting with ':' in :{tag}: is not a field (2 digits and an optional "
                "letter between colons)",
                line + offset,
                tag,
            )
        if tag in ("16R", "16S") and not _SEQUENCE_NAME.fullmatch(raw):
            problem(
                errors,
                f":{tag}:{raw[:20]!r} is not a sequence name (1 to 16 capital letters and digits)",
                line,
                _path(stack, tag),
            )
        elif tag == "16R":
            if len(stack) > MAX_DEPTH:
                problem(errors, f"sequences nested deeper than {MAX_DEPTH}", line, _path(stack, tag))
            else:
                sequence = Sequence(raw, [], line)
                items.append(sequence)
                stack.append(sequence)
                items = sequence.items
        elif tag == "16S":
            if len(stack) == 1:
                problem(
                    errors, f":16S:{raw} closes a sequence that was never opened", line, _path(stack, tag)
                )
            elif stack[-1].name != raw:
                problem(
                    errors,
                    f":16S:{raw} closes sequence {stack[-1].name} (opened at line {stack[-1].line})",
                    line,
                    _path(stack, tag),
                )
            else:
                stack.pop()
                items = stack[-1].items
        else:
            try:
                items.append(parse_field(tag, raw, line))
            except FieldFormatError as exc:
                problem(errors, f":{tag}: {exc}", line, _path(stack, tag), exc.reason)
        line += value.count("\n")
    for open_sequence in stack[1:]:
        problem(
            errors,
            f"sequence {open_sequence.name} opened by :16R: is never closed by :16S:",
            open_sequence.line,
            open_sequence.name,
        )
    return root


def _path(stack: list[Sequence], tag: str) -> str:
    return "/".join([s.name for s in stack[1:]] + [tag])


def build_fin(message: FinMessage) -> str:
    """Write a FIN message with CRLF line ends."""
    basic = message.basic
    header = f"{{1:{basic.application}{basic.service}{basic.lt_address}{basic.session}{basic.sequence}}}"
    app = message.application
    if app.direction == "I":
        header += f"{{2:I{app.message_type}{app.address}{app.priority}{app.rest}}}"
    else:
        header += f"{{2:O{app.message_type}{app.rest}}}"
    if message.user:
        header += "{3:" + "".join(f"{{{t}:{v}}}" for t, v in message.user) + "}"
    lines: list[str] = []
    _write_items(message.text.items, lines)
    # lines (and the lines within a field) are joined by LF, then every LF becomes CRLF at once
    body = "".join([line + "\n" for line in lines]).replace("\n", "\r\n")
    out = f"{header}{{4:\r\n{body}-}}"
    if message.trailer:
        out += "{5:" + "".join(f"{{{t}:{v}}}" for t, v in message.trailer) + "}"
    return out


def _write_items(items: list[Field | Sequence], lines: list[str]) -> None:
    for item in items:
        if isinstance(item, Sequence):
            lines.append(f":16R:{item.name}")
            _write_items(item.items, lines)
            lines.append(f":16S:{item.name}")
        else:
            lines.append(f":{item.tag}:{item.raw}")


def input_message(
    message_type: str, sender: str, receiver: str, text: Sequence, user: tuple[tuple[str, str], ...] = ()
) -> FinMessage:
    """An input (sent) message between two BICs (8 or 11 characters)."""
    return FinMessage(
        BasicHeader(_lt_address(sender)),
        ApplicationHeader(message_type, "I", _lt_address(receiver)),
        text,
        user,
    )


def _lt_address(bic: str) -> str:
    bic = bic.ljust(8, "X")[:11]
    branch = bic[8:11] if len(bic) == 11 else "XXX"
    return f"{bic[:8]}A{branch}" if bic[:8] else "XXXXXXXXAXXX"
