"""Small command-line front end over plexus_client.py, used by the interop tests
(test/interop/python.test.ts) and handy by hand. Every line it prints is one event, as
JSON after a keyword, so a test can parse it.

    python3 plexus_cli.py pub     URL SUBJECT DATA [--header k=v ...]
    python3 plexus_cli.py sub     URL PATTERN --count N [--queue Q] [--linger S]
    python3 plexus_cli.py serve   URL SUBJECT --count N [--queue Q]
    python3 plexus_cli.py request URL SUBJECT DATA [--timeout S] [--header k=v ...]
    common options: --token T  --user U --password P  --name NAME  --wait S (overall limit)  --no-ping

`serve` upper-cases text; the payload `fail` answers PLEXUS_ERR_INVALID_ARGUMENT, `crash`
raises a plain exception, and `hang` waits until the caller cancels.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from plexus_client import Client, Message, PlexusError, RequestContext


def say(event: str, data: object) -> None:
    print(f"{event} {json.dumps(data, sort_keys=True)}", flush=True)


def describe(msg: Message) -> dict:
    return {"subject": msg.subject, "payload": msg.text(), "headers": msg.headers, "from": msg.from_}


def cmd_pub(c: Client, a: argparse.Namespace) -> int:
    headers = [tuple(h.split("=", 1)) for h in a.header]
    c.publish(a.subject, a.data, headers=headers or None)
    c.flush(a.wait)  # the PONG proves the broker processed the PUB before we close
    say("published", {"subject": a.subject})
    return 0


def cmd_sub(c: Client, a: argparse.Namespace) -> int:
    sub = c.subscribe(a.pattern, queue_group=a.queue)
    c.flush(a.wait)  # the SUB is in effect once the PONG is back
    say("ready", {"pattern": a.pattern})
    deadline = time.monotonic() + a.wait
    for _ in range(a.count):
        say("msg", describe(sub.next(timeout=max(0.01, deadline - time.monotonic()))))
    if a.linger > 0:  # stay idle so the broker has to PING us to keep the session
        time.sleep(a.linger)
        c.flush(a.wait)
    say("done", {"pingsAnswered": c.pings_answered, "dropped": sub.dropped, "open": not c.closed})
    return 0


def cmd_serve(c: Client, a: argparse.Namespace) -> int:
    handled = threading.Semaphore(0)

    def handler(msg: Message, ctx: RequestContext) -> str:
        text = msg.text()
        try:
            say("request", {"from": ctx.from_, "payload": text, "timeoutMs": msg.timeout_ms, "headers": msg.headers})
            if text == "fail":
                raise PlexusError("PLEXUS_ERR_INVALID_ARGUMENT", "refused on purpose", {"input": text})
            if text == "crash":
                raise RuntimeError("handler crashed")
            if text == "hang":
                cancelled = ctx.cancelled.wait(a.wait)
                say("cancelled", {"cancelled": cancelled, "reason": ctx.reason})
            return text.upper()
        finally:
            handled.release()

    c.serve(a.subject, handler, queue_group=a.queue)
    c.flush(a.wait)
    say("ready", {"subject": a.subject})
    deadline = time.monotonic() + a.wait
    for _ in range(a.count):
        if not handled.acquire(timeout=max(0.01, deadline - time.monotonic())):
            say("error", {"code": "PLEXUS_ERR_TIMEOUT", "message": "not enough requests"})
            return 1
    time.sleep(0.2)  # let the last reply leave before GOODBYE
    c.flush(a.wait)
    say("done", {"pingsAnswered": c.pings_answered})
    return 0


def cmd_request(c: Client, a: argparse.Namespace) -> int:
    try:
        headers = [tuple(h.split("=", 1)) for h in a.header]
        reply = c.request(a.subject, a.data, timeout=a.timeout, headers=headers or None)
    except PlexusError as err:
        say("error", err.to_wire())
        return 0
    say("reply", describe(reply))
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--token")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--name", default="python")
    parser.add_argument("--wait", type=float, default=10.0, help="overall limit in seconds")
    parser.add_argument("--no-ping", action="store_true", help="never PING the broker (only answer its PINGs)")
    cmds = parser.add_subparsers(dest="cmd", required=True)
    p = cmds.add_parser("pub")
    p.add_argument("url"), p.add_argument("subject"), p.add_argument("data")
    p.add_argument("--header", action="append", default=[])
    p = cmds.add_parser("sub")
    p.add_argument("url"), p.add_argument("pattern")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--queue", default="")
    p.add_argument("--linger", type=float, default=0.0)
    p = cmds.add_parser("serve")
    p.add_argument("url"), p.add_argument("subject")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--queue", default="")
    p = cmds.add_parser("request")
    p.add_argument("url"), p.add_argument("subject"), p.add_argument("data")
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--header", action="append", default=[])
    a = parser.parse_args(argv)
    try:
        client = Client.connect(a.url, token=a.token, user=a.user, password=a.password, name=a.name, timeout=a.wait,
                                ping_broker=not a.no_ping)
    except PlexusError as err:
        say("error", err.to_wire())
        return 3
    say("connected", {"identity": client.server["identity"], "connId": client.server["connId"]})
    run = {"pub": cmd_pub, "sub": cmd_sub, "serve": cmd_serve, "request": cmd_request}[a.cmd]
    try:
        return run(client, a)
    except PlexusError as err:
        say("error", err.to_wire())
        return 1
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
