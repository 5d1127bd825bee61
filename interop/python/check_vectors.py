"""Self-test: the Python codec against docs/protocol-vectors.json (section 9).

Every valid vector must decode to exactly its fields (whole, and fed one byte at a time)
and encode back to exactly its bytes; every invalid input must be rejected with its code
and yield no frame. Prints one line per failure and a summary; exits 1 on any failure.

    python3 check_vectors.py path/to/protocol-vectors.json
"""

from __future__ import annotations

import json
import sys

from plexus_wire import TYPES_BY_NAME, Decoder, Frame, PlexusError, encode_frame


def check_valid(vector: dict, limit: int) -> list[str]:
    want = vector["frame"]
    raw = bytes.fromhex(vector["hex"])
    expected = Frame(
        type=TYPES_BY_NAME[want["type"]],
        flags=want["flags"],
        id=want["id"],
        aux=want["aux"],
        subject=want["subject"],
        reply=want["reply"],
        headers=None if want["headers"] is None else [(k, v) for k, v in want["headers"]],
        payload=bytes.fromhex(want["payloadHex"]),
    )
    problems = []
    whole = Decoder(limit).feed(raw)
    if whole != [expected]:
        problems.append(f"decodes to {whole!r}, expected {expected!r}")
    dribble = Decoder(limit)
    pieces = [f for i in range(len(raw)) for f in dribble.feed(raw[i:i + 1])]
    if pieces != [expected]:
        problems.append(f"byte-at-a-time decodes to {pieces!r}")
    encoded = encode_frame(expected).hex()
    if encoded != vector["hex"]:
        problems.append(f"encodes to {encoded}")
    return problems


def check_invalid(vector: dict, limit: int) -> list[str]:
    decoder = Decoder(vector.get("maxFrameBytes", limit))
    try:
        frames = decoder.feed(bytes.fromhex(vector["hex"]))
    except PlexusError as err:
        return [] if err.code == vector["error"] else [f"rejected with {err.code}, expected {vector['error']}"]
    return [f"accepted ({len(frames)} frames), expected {vector['error']}"]


def main(path: str) -> int:
    with open(path, encoding="utf-8") as fh:
        vectors = json.load(fh)
    if vectors["protocolVersion"] != 1:
        print(f"unexpected protocol version {vectors['protocolVersion']}")
        return 1
    limit = vectors["maxFrameBytes"]
    failures = 0
    for kind, check in (("valid", check_valid), ("invalid", check_invalid)):
        passed = 0
        for vector in vectors[kind]:
            try:
                problems = check(vector, limit)
            except Exception as err:  # a crash is a failure of that vector, not of the run
                problems = [f"raised {err!r}"]
            for problem in problems:
                print(f"FAIL {kind} {vector['name']}: {problem}")
            failures += bool(problems)
            passed += not problems
        print(f"{kind} {passed}/{len(vectors[kind])}")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip())
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
