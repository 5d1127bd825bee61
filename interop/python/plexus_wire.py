"""Plexus wire protocol v1: frames, header blocks, subjects and an incremental decoder.

Written from docs/protocol.md alone (standard library only), as a check that the spec
is enough to build a compatible peer. Section numbers below refer to that page.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import Optional

# Frame types (section 5).
HELLO, WELCOME, PUB, SUB, UNSUB, MSG, CANCEL, CREDIT, PING, PONG, ERR, DATA, END, GOODBYE = range(1, 15)
TYPE_NAMES = {
    HELLO: "HELLO", WELCOME: "WELCOME", PUB: "PUB", SUB: "SUB", UNSUB: "UNSUB", MSG: "MSG",
    CANCEL: "CANCEL", CREDIT: "CREDIT", PING: "PING", PONG: "PONG", ERR: "ERR", DATA: "DATA",
    END: "END", GOODBYE: "GOODBYE",
}
TYPES_BY_NAME = {name: value for value, name in TYPE_NAMES.items()}

# Flags (section 4).
PRIORITY, REQUEST, RESUME, ERROR = 0x01, 0x02, 0x04, 0x08
DEFINED_FLAGS = 0x0F

# Layout (section 2.1): u32 length, u8 type, u8 flags, u32 id, u32 aux, u16 x3.
_FIXED = struct.Struct(">IBBIIHHH")
FIXED_HEADER_BYTES = 20
MIN_LENGTH = 16
U16_MAX = 0xFFFF
U32_MAX = 0xFFFFFFFF

# Error codes this module raises (docs/errors.md).
MALFORMED_FRAME = "PLEXUS_ERR_MALFORMED_FRAME"
FRAME_TOO_LARGE = "PLEXUS_ERR_FRAME_TOO_LARGE"
UNKNOWN_FRAME_TYPE = "PLEXUS_ERR_UNKNOWN_FRAME_TYPE"
INVALID_SUBJECT = "PLEXUS_ERR_INVALID_SUBJECT"
INVALID_HEADERS = "PLEXUS_ERR_INVALID_HEADERS"
INVALID_ARGUMENT = "PLEXUS_ERR_INVALID_ARGUMENT"


class PlexusError(Exception):
    """An error with a stable Plexus code (docs/errors.md)."""

    def __init__(self, code: str, message: str, details: object = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details

    def to_wire(self) -> dict:
        """The JSON wire form carried in ERR payloads and ERROR-flag replies (section 5.11)."""
        out: dict = {"code": self.code, "message": self.message}
        if self.details is not None:
            out["details"] = self.details
        return out


Headers = list[tuple[str, str]]


@dataclass
class Frame:
    """One decoded frame. `headers` is None when the frame has no header block."""

    type: int
    flags: int = 0
    id: int = 0
    aux: int = 0
    subject: str = ""
    reply: str = ""
    headers: Optional[Headers] = None
    payload: bytes = b""
    extra: dict = field(default_factory=dict)

    def header(self, key: str) -> Optional[str]:
        """The value of `key`; when a key repeats, the later entry wins (section 3)."""
        value = None
        for k, v in self.headers or []:
            if k == key:
                value = v
        return value


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def utf8(text: str) -> bytes:
    """UTF-8 bytes of `text`, each unpaired surrogate written as U+FFFD (section 2.3)."""
    return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


def strict_utf8(data: bytes) -> str:
    """Decode well-formed UTF-8 or raise MALFORMED_FRAME. Python's strict codec already
    rejects overlong forms, encoded surrogates, code points above U+10FFFF and truncated
    sequences, which is exactly RFC 3629 as section 2.3 asks; a BOM is kept."""
    try:
        return data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as err:
        raise PlexusError(MALFORMED_FRAME, f"invalid UTF-8: {err.reason}") from None


def encode_headers(headers: Optional[Headers]) -> bytes:
    """The header block for `headers` (section 3); None gives no block at all."""
    if headers is None:
        return b""
    parts = [struct.pack(">H", len(headers))]
    for key, value in headers:
        k, v = utf8(key), utf8(value)
        if not k:
            raise PlexusError(INVALID_HEADERS, "header keys must not be empty")
        if len(k) > U16_MAX or len(v) > U16_MAX:
            raise PlexusError(INVALID_HEADERS, f"header {key!r} is too long")
        parts += [struct.pack(">H", len(k)), k, struct.pack(">H", len(v)), v]
    block = b"".join(parts)
    if len(block) > U16_MAX:
        raise PlexusError(INVALID_HEADERS, f"header block is {len(block)} bytes, the limit is {U16_MAX}")
    return block


def decode_headers(block: bytes) -> Headers:
    """Parse a non-empty header block; any defect is MALFORMED_FRAME (section 3)."""
    if len(block) < 2:
        raise PlexusError(MALFORMED_FRAME, "header block shorter than its count")
    (count,) = struct.unpack_from(">H", block, 0)
    pos, out = 2, []
    for _ in range(count):
        key, pos = _read_text(block, pos, "header key")
        if not key:
            raise PlexusError(MALFORMED_FRAME, "empty header key")
        value, pos = _read_text(block, pos, "header value")
        out.append((key, value))
    if pos != len(block):
        raise PlexusError(MALFORMED_FRAME, f"{len(block) - pos} bytes left over after the headers")
    return out


def _read_text(block: bytes, pos: int, what: str) -> tuple[str, int]:
    if pos + 2 > len(block):
        raise PlexusError(MALFORMED_FRAME, f"{what} length past the end of the header block")
    (n,) = struct.unpack_from(">H", block, pos)
    pos += 2
    if pos + n > len(block):
        raise PlexusError(MALFORMED_FRAME, f"{what} past the end of the header block")
    return strict_utf8(block[pos:pos + n]), pos + n


def encode_frame(f: Frame) -> bytes:
    """The bytes of one frame (section 2.1)."""
    subject, reply, headers = utf8(f.subject), utf8(f.reply), encode_headers(f.headers)
    if len(subject) > U16_MAX or len(reply) > U16_MAX:
        raise PlexusError(INVALID_SUBJECT, "subject or reply longer than 65535 bytes")
    if not (0 <= f.id <= U32_MAX and 0 <= f.aux <= U32_MAX) or f.flags & ~DEFINED_FLAGS:
        raise PlexusError(INVALID_ARGUMENT, "id/aux must be u32 and flags within 0x0f")
    length = MIN_LENGTH + len(subject) + len(reply) + len(headers) + len(f.payload)
    if length > U32_MAX:
        raise PlexusError(FRAME_TOO_LARGE, "frame longer than a u32 length")
    fixed = _FIXED.pack(length, f.type, f.flags, f.id, f.aux, len(subject), len(reply), len(headers))
    return b"".join((fixed, subject, reply, headers, bytes(f.payload)))


class Decoder:
    """Incremental frame decoder (section 2.3). `feed()` returns the complete frames so
    far; an incomplete frame just waits. The first defect raises PlexusError and the
    decoder refuses everything after it: a failure is fatal to the connection."""

    def __init__(self, max_frame_bytes: int):
        if max_frame_bytes < FIXED_HEADER_BYTES:
            raise PlexusError(INVALID_ARGUMENT, "max_frame_bytes must be at least 20")
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._failed: Optional[PlexusError] = None

    def feed(self, data: bytes) -> list[Frame]:
        if self._failed:
            raise self._failed
        self._buf += data
        frames: list[Frame] = []
        try:
            while True:
                frame = self._next()
                if frame is None:
                    return frames
                frames.append(frame)
        except PlexusError as err:
            self._failed = err
            self._buf.clear()
            raise

    def _next(self) -> Optional[Frame]:
        buf = self._buf
        if len(buf) < 4:
            return None
        # Checks 1 and 2 use only the prefix, before anything is allocated for the frame.
        (length,) = struct.unpack_from(">I", buf, 0)
        if length < MIN_LENGTH:
            raise PlexusError(MALFORMED_FRAME, f"length {length} is below {MIN_LENGTH}")
        if length + 4 > self.max_frame_bytes:
            raise PlexusError(FRAME_TOO_LARGE, f"frame of {length + 4} bytes exceeds {self.max_frame_bytes}")
        if len(buf) < length + 4:
            return None
        _, ftype, flags, fid, aux, sl, rl, hl = _FIXED.unpack_from(buf, 0)
        if ftype not in TYPE_NAMES:
            raise PlexusError(UNKNOWN_FRAME_TYPE, f"frame type 0x{ftype:02x}")
        if flags & ~DEFINED_FLAGS:
            raise PlexusError(MALFORMED_FRAME, f"undefined flag bits 0x{flags & ~DEFINED_FLAGS:02x}")
        end = length + 4
        if FIXED_HEADER_BYTES + sl + rl + hl > end:
            raise PlexusError(MALFORMED_FRAME, "variable fields run past the end of the frame")
        body = bytes(buf[:end])
        del buf[:end]
        p = FIXED_HEADER_BYTES
        subject = strict_utf8(body[p:p + sl])
        reply = strict_utf8(body[p + sl:p + sl + rl])
        p += sl + rl
        headers = decode_headers(body[p:p + hl]) if hl > 0 else None
        return Frame(ftype, flags, fid, aux, subject, reply, headers, body[p + hl:])


MAX_SUBJECT_UNITS = 1024


def check_subject(subject: str, wildcards: bool) -> None:
    """Raise INVALID_SUBJECT unless `subject` is valid (section 7); wildcard tokens are
    allowed only when `wildcards` is true (SUB patterns)."""
    units = sum(2 if ord(c) > 0xFFFF else 1 for c in subject)
    if not subject or units > MAX_SUBJECT_UNITS:
        raise PlexusError(INVALID_SUBJECT, f"subject must have 1..{MAX_SUBJECT_UNITS} characters: {subject!r}")
    tokens = subject.split(".")
    for i, token in enumerate(tokens):
        if not token:
            raise PlexusError(INVALID_SUBJECT, f"empty token in {subject!r}")
        if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in token):
            raise PlexusError(INVALID_SUBJECT, f"control character or space in {subject!r}")
        if token in ("*", ">"):
            if not wildcards:
                raise PlexusError(INVALID_SUBJECT, f"wildcards are not allowed here: {subject!r}")
            if token == ">" and i != len(tokens) - 1:
                raise PlexusError(INVALID_SUBJECT, f"'>' must be the last token: {subject!r}")
        elif "*" in token or ">" in token:
            raise PlexusError(INVALID_SUBJECT, f"'*' and '>' must be whole tokens: {subject!r}")


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether a literal `subject` matches `pattern` (section 7)."""
    pt, st = pattern.split("."), subject.split(".")
    for i, token in enumerate(pt):
        if token == ">":
            return len(st) > i
        if i >= len(st) or (token != "*" and token != st[i]):
            return False
    return len(pt) == len(st)
