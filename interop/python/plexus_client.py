"""A minimal Plexus client in Python 3.11, standard library only.

Written from docs/protocol.md: it connects over TCP or a Unix socket, does the handshake
(token or user/password), publishes, subscribes (wildcards, queue groups), makes requests
with a timeout (and cancels them when the timeout passes), serves requests, answers the
broker's PINGs and pings a silent broker. It does not reconnect and does not speak the
stream protocol (section 8); see README.md.

    with Client.connect("tcp://127.0.0.1:4222", token="s3cret", name="py") as c:
        sub = c.subscribe("orders.*")
        c.publish("orders.new", b'{"id":7}', headers=[("x-try", "1")])
        print(sub.next(timeout=2).text())
        print(c.request("svc.time", b"", timeout=2).text())

Threads: one reader thread handles every incoming frame (keep subscription callbacks
short); each served request runs on its own thread so a slow handler never delays PONGs.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import threading
import time
from typing import Callable, Iterator, Optional, Union

from plexus_wire import (
    CANCEL, ERR, ERROR, GOODBYE, HELLO, MSG, PING, PONG, PRIORITY, PUB, REQUEST, SUB, UNSUB, WELCOME,
    Decoder, Frame, Headers, PlexusError, check_subject, encode_frame, encode_headers, strict_utf8,
)

Payload = Union[bytes, bytearray, memoryview, str, None]

PROTOCOL_VERSION = 1
DEFAULT_PORT = 4222
# Frame limit before WELCOME tells us maxPayload: the reference default (section 2.2).
DEFAULT_MAX_FRAME_BYTES = 1_048_576 + 3 * 0xFFFF + 20
# Most frames a subscription queues for a slow reader before it drops (and counts) them.
DEFAULT_MAX_PENDING = 4096
READ_CHUNK = 65536


def to_bytes(data: Payload) -> bytes:
    if data is None:
        return b""
    if isinstance(data, str):
        return data.encode("utf-8")
    return bytes(data)


class Message:
    """A received MSG. `from_` and `conn` are the broker's stamps (section 3): a client
    cannot forge them, so they identify the sender."""

    def __init__(self, frame: Frame, client: "Client"):
        self.subject = frame.subject
        self.reply = frame.reply
        self.payload = frame.payload
        self.flags = frame.flags
        self.timeout_ms = frame.aux if frame.flags & REQUEST else 0
        self.all_headers: Headers = frame.headers or []
        self._client = client

    @property
    def headers(self) -> dict[str, str]:
        """Application headers as a map (the broker's ':' entries left out; later wins)."""
        return {k: v for k, v in self.all_headers if not k.startswith(":")}

    def _stamp(self, key: str) -> str:
        return next((v for k, v in reversed(self.all_headers) if k == key), "")

    @property
    def from_(self) -> str:
        return self._stamp(":from")

    @property
    def conn(self) -> str:
        return self._stamp(":conn")

    def text(self) -> str:
        return self.payload.decode("utf-8")

    def json(self) -> object:
        return json.loads(self.payload)

    def respond(self, data: Payload = b"", headers: Optional[Headers] = None) -> bool:
        """Answer a request with a plain PUB to its reply subject."""
        if not self.reply:
            return False
        self._client.publish(self.reply, data, headers=headers)
        return True


class Subscription:
    """A SUB. Without a callback, messages queue (bounded) for `next()` or iteration."""

    def __init__(self, client: "Client", sid: int, subject: str, queue_group: str,
                 callback: Optional[Callable[[Message], None]], max_pending: int):
        self.client, self.id, self.subject, self.queue_group = client, sid, subject, queue_group
        self.callback = callback
        self.dropped = 0
        self.error: Optional[PlexusError] = None
        self._queue: "queue.Queue[Optional[Message]]" = queue.Queue(max_pending)

    def _deliver(self, msg: Message) -> None:
        if self.callback is not None:
            self.callback(msg)
            return
        try:
            self._queue.put_nowait(msg)
        except queue.Full:
            self.dropped += 1  # a bounded queue with a counted overflow, never unbounded growth

    def _fail(self, err: PlexusError) -> None:
        self.error = err
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass

    def next(self, timeout: float) -> Message:
        """The next message; PLEXUS_ERR_TIMEOUT if none arrives within `timeout` seconds."""
        try:
            msg = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise PlexusError("PLEXUS_ERR_TIMEOUT", f"no message on {self.subject} within {timeout}s") from None
        if msg is None:
            raise self.error or PlexusError("PLEXUS_ERR_CONNECTION_CLOSED", "subscription ended")
        return msg

    def __iter__(self) -> Iterator[Message]:
        while True:
            try:
                yield self.next(timeout=3600)
            except PlexusError as err:
                if err.code == "PLEXUS_ERR_TIMEOUT":
                    continue
                return

    def unsubscribe(self) -> None:
        self.client.unsubscribe(self)


class RequestContext:
    """What a served request's handler gets besides the message."""

    def __init__(self, msg: Message):
        self.msg = msg
        self.from_ = msg.from_
        self.deadline = time.monotonic() + msg.timeout_ms / 1000 if msg.timeout_ms else None
        self.cancelled = threading.Event()
        self.reason = ""

    def remaining(self) -> Optional[float]:
        """Seconds until the caller stops waiting, or None without a timeout."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())


Handler = Callable[[Message, RequestContext], Payload]


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Optional[Message] = None
        self.error: Optional[PlexusError] = None


def parse_url(url: str) -> tuple[int, object]:
    """(address family, address) for tcp://host:port, unix:///path or host:port."""
    if url.startswith("unix://"):
        return socket.AF_UNIX, url[len("unix://"):]
    rest = url[len("tcp://"):] if url.startswith("tcp://") else url
    if "://" in rest:
        raise PlexusError("PLEXUS_ERR_UNSUPPORTED_TRANSPORT", f"only tcp:// and unix:// are supported: {url}")
    host, sep, port = rest.rpartition(":")
    if not sep:
        host, port = rest, str(DEFAULT_PORT)
    host = host.strip("[]") or "127.0.0.1"
    try:
        return socket.AF_INET6 if ":" in host else socket.AF_INET, (host, int(port))
    except ValueError:
        raise PlexusError("PLEXUS_ERR_INVALID_URL", f"bad port in {url}") from None


def _wire_json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _err_from_payload(payload: bytes) -> PlexusError:
    try:
        wire = json.loads(payload)
        return PlexusError(str(wire["code"]), str(wire.get("message", "")), wire.get("details"))
    except (ValueError, KeyError, TypeError):
        return PlexusError("PLEXUS_ERR_INTERNAL", payload.decode("utf-8", "replace"))


class Client:
    """One connection to a Plexus broker. Use `Client.connect(...)`."""

    def __init__(self, sock: socket.socket, server: dict, decoder: Decoder):
        self.sock = sock
        self.server = server
        self.max_payload: int = int(server["maxPayload"])
        self.heartbeat_s: float = max(0.05, int(server.get("heartbeatMs", 5000)) / 1000)
        self.pings_answered = 0
        self.ping_broker = True
        self.errors: list[PlexusError] = []  # non-fatal ERRs nobody else claimed (refused PUBs)
        self.closed_error: Optional[PlexusError] = None
        self._decoder = decoder
        self._write_lock = threading.Lock()
        self._lock = threading.Lock()
        self._subs: dict[int, Subscription] = {}
        self._next_sid = 0
        self._inbox = f"_INBOX.{os.urandom(12).hex()}"
        self._inbox_sub: Optional[Subscription] = None
        self._inbox_lock = threading.Lock()
        self._next_req = 0
        self._pending: dict[str, _Pending] = {}
        self._pongs: dict[int, threading.Event] = {}
        self._next_nonce = 0
        self._serving: dict[str, list[RequestContext]] = {}
        self._last_heard = time.monotonic()
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name="plexus-reader", daemon=True)
        self._pinger = threading.Thread(target=self._heartbeat_loop, name="plexus-heartbeat", daemon=True)

    # -- connecting ------------------------------------------------------------------------

    @classmethod
    def connect(cls, url: str, *, token: Optional[str] = None, user: Optional[str] = None,
                password: Optional[str] = None, name: Optional[str] = None, timeout: float = 5.0,
                ping_broker: bool = True) -> "Client":
        """Connect and do the handshake (section 6.1); raises the broker's ERR code on refusal.
        `ping_broker=False` leaves keepalive PINGs to the broker (we still answer them and
        still drop a broker silent for 3 heartbeats)."""
        family, address = parse_url(url)
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError as err:
            sock.close()
            raise PlexusError("PLEXUS_ERR_CONNECT_FAILED", f"{url}: {err}") from None
        if family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hello: dict = {"version": PROTOCOL_VERSION, "features": ["headers", "requests", "cancel"]}
        for key, value in (("name", name), ("token", token), ("user", user), ("pass", password)):
            if value is not None:
                hello[key] = value
        decoder = Decoder(DEFAULT_MAX_FRAME_BYTES)
        try:
            sock.sendall(encode_frame(Frame(HELLO, payload=_wire_json(hello))))
            server, early = cls._await_welcome(sock, decoder, timeout)
        except BaseException:
            sock.close()
            raise
        # Now that maxPayload is known, size the frame limit from it (section 2.2).
        decoder.max_frame_bytes = int(server["maxPayload"]) + 3 * 0xFFFF + 20
        sock.settimeout(None)
        client = cls(sock, server, decoder)
        client.ping_broker = ping_broker
        for frame in early:
            client._dispatch(frame)
        client._reader.start()
        client._pinger.start()
        return client

    @staticmethod
    def _await_welcome(sock: socket.socket, decoder: Decoder, timeout: float) -> tuple[dict, list[Frame]]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PlexusError("PLEXUS_ERR_TIMEOUT", "no WELCOME within the connect timeout")
            sock.settimeout(left)
            try:
                chunk = sock.recv(READ_CHUNK)
            except socket.timeout:
                continue
            if not chunk:
                raise PlexusError("PLEXUS_ERR_CONNECTION_CLOSED", "broker closed the connection during the handshake")
            frames = decoder.feed(chunk)
            for i, frame in enumerate(frames):
                if frame.type == ERR:
                    raise _err_from_payload(frame.payload)
                if frame.type == PING:  # answer even before WELCOME; harmless and keeps us alive
                    sock.sendall(encode_frame(Frame(PONG, id=frame.id)))
                elif frame.type == WELCOME:
                    server = json.loads(strict_utf8(frame.payload))
                    if not isinstance(server, dict) or server.get("version") != PROTOCOL_VERSION:
                        raise PlexusError("PLEXUS_ERR_VERSION_MISMATCH", f"broker speaks {server!r}")
                    return server, frames[i + 1:]
                elif frame.type != GOODBYE:
                    raise PlexusError("PLEXUS_ERR_PROTOCOL", f"frame type {frame.type} before WELCOME")

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sending ---------------------------------------------------------------------------

    def _send(self, frame: Frame) -> None:
        if self._closed.is_set():
            raise self.closed_error or PlexusError("PLEXUS_ERR_CONNECTION_CLOSED", "connection closed")
        data = encode_frame(frame)
        # One sendall per frame under one lock: frames never interleave. Writes go out at
        # once, so there is no queue for a control lane to overtake (section 4.1).
        with self._write_lock:
            try:
                self.sock.sendall(data)
            except OSError as err:
                self._shutdown(PlexusError("PLEXUS_ERR_CONNECTION_LOST", str(err)))
                raise self.closed_error from None

    def publish(self, subject: str, data: Payload = b"", *, headers: Optional[Headers] = None,
                reply: str = "", priority: bool = False) -> None:
        """PUB (section 5.3). Checks locally what the broker would refuse."""
        payload = to_bytes(data)
        self._check_pub(subject, reply, payload, headers)
        self._send(Frame(PUB, PRIORITY if priority else 0, subject=subject, reply=reply,
                         headers=headers, payload=payload))

    def _check_pub(self, subject: str, reply: str, payload: bytes, headers: Optional[Headers]) -> None:
        if len(payload) > self.max_payload:
            raise PlexusError("PLEXUS_ERR_PAYLOAD_TOO_LARGE", f"{len(payload)} bytes > maxPayload {self.max_payload}")
        check_subject(subject, wildcards=False)
        if reply:
            check_subject(reply, wildcards=False)
        if any(k.startswith(":") for k, _ in headers or []):
            raise PlexusError("PLEXUS_ERR_INVALID_HEADERS", "header keys starting with ':' are reserved for the broker")
        encode_headers(headers)  # raises on over-long entries

    def subscribe(self, subject: str, *, queue_group: str = "", callback: Optional[Callable[[Message], None]] = None,
                  filter: Optional[Headers] = None, max_pending: int = DEFAULT_MAX_PENDING) -> Subscription:
        """SUB (section 5.4): wildcards allowed; `filter` is a header content filter."""
        check_subject(subject, wildcards=True)
        if queue_group:
            check_subject(queue_group, wildcards=False)
        with self._lock:
            self._next_sid += 1
            sub = Subscription(self, self._next_sid, subject, queue_group, callback, max_pending)
            self._subs[sub.id] = sub
        self._send(Frame(SUB, id=sub.id, subject=subject, reply=queue_group, headers=filter))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if self._subs.pop(sub.id, None) is None:
                return
        sub._fail(PlexusError("PLEXUS_ERR_CANCELLED", "unsubscribed"))
        if not self._closed.is_set():
            self._send(Frame(UNSUB, id=sub.id))

    def ping(self, timeout: float = 5.0) -> float:
        """PING on the data lane and wait for its PONG; returns the round trip in seconds.
        Because the broker handles frames in order, the PONG also proves every earlier
        frame (e.g. a SUB) is in effect (section 4.1)."""
        with self._lock:
            self._next_nonce = self._next_nonce % 0xFFFFFFFF + 1
            nonce, event = self._next_nonce, threading.Event()
            self._pongs[nonce] = event
        start = time.monotonic()
        try:
            self._send(Frame(PING, id=nonce))
            if not event.wait(timeout):
                raise PlexusError("PLEXUS_ERR_TIMEOUT", f"no PONG within {timeout}s")
            if self._closed.is_set() and self.closed_error:
                raise self.closed_error
            return time.monotonic() - start
        finally:
            with self._lock:
                self._pongs.pop(nonce, None)

    flush = ping

    # -- requests --------------------------------------------------------------------------

    def request(self, subject: str, data: Payload = b"", *, timeout: float = 5.0,
                headers: Optional[Headers] = None) -> Message:
        """A request with REQUEST flag and timeout (section 5.3). Raises the responder's
        error, NO_RESPONDERS, RESPONDER_GONE, or TIMEOUT (after sending a CANCEL)."""
        if timeout <= 0:
            raise PlexusError("PLEXUS_ERR_INVALID_ARGUMENT", "timeout must be positive")
        timeout_ms = min(0xFFFFFFFF, max(1, round(timeout * 1000)))
        payload = to_bytes(data)
        self._check_pub(subject, "", payload, headers)
        with self._inbox_lock:
            if self._inbox_sub is None:  # one wildcard over the inbox, subscribed before the first request
                self._inbox_sub = self.subscribe(self._inbox + ".>", callback=self._on_inbox)
        with self._lock:
            self._next_req += 1
            reply = f"{self._inbox}.{self._next_req}"
            pending = self._pending[reply] = _Pending()
        try:
            self._send(Frame(PUB, REQUEST, aux=timeout_ms, subject=subject, reply=reply,
                             headers=headers, payload=payload))
            if not pending.done.wait(timeout):
                err = PlexusError("PLEXUS_ERR_TIMEOUT", f"request to {subject} timed out after {timeout_ms} ms")
                self._cancel(reply, err)
                raise err
        finally:
            with self._lock:
                self._pending.pop(reply, None)
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    def _cancel(self, reply: str, err: PlexusError) -> None:
        """CANCEL with the error's wire form as reason, so responders abort with its code."""
        try:
            self._send(Frame(CANCEL, subject=reply, payload=_wire_json(err.to_wire())))
        except PlexusError:
            pass  # closed: the broker cancels for us when it sees the disconnect

    def _on_inbox(self, msg: Message) -> None:
        with self._lock:
            pending = self._pending.get(msg.subject)
        if pending is None:
            return  # late answer to a request that timed out
        if msg.flags & ERROR:
            pending.error = _err_from_payload(msg.payload)
        else:
            pending.result = msg
        pending.done.set()

    def serve(self, subject: str, handler: Handler, *, queue_group: str = "") -> Subscription:
        """Answer requests on `subject`: the handler returns the reply payload or raises
        (a PlexusError keeps its code; anything else is PLEXUS_ERR_HANDLER_FAILED)."""
        return self.subscribe(subject, queue_group=queue_group, callback=lambda m: self._start_handler(m, handler))

    def _start_handler(self, msg: Message, handler: Handler) -> None:
        if not msg.reply:
            return  # an event, not a request
        ctx = RequestContext(msg)
        with self._lock:
            self._serving.setdefault(msg.reply, []).append(ctx)
        threading.Thread(target=self._run_handler, args=(msg, ctx, handler), daemon=True).start()

    def _run_handler(self, msg: Message, ctx: RequestContext, handler: Handler) -> None:
        try:
            try:
                result, flags = to_bytes(handler(msg, ctx)), 0
                if len(result) > self.max_payload:
                    raise PlexusError("PLEXUS_ERR_PAYLOAD_TOO_LARGE", f"reply of {len(result)} bytes")
            except PlexusError as err:
                result, flags = _wire_json(err.to_wire()), ERROR
            except Exception as err:  # the caller gets a coded error instead of a timeout
                result, flags = _wire_json({"code": "PLEXUS_ERR_HANDLER_FAILED", "message": str(err)}), ERROR
            if not ctx.cancelled.is_set():  # a cancelled request SHOULD NOT be answered (5.7)
                self._send(Frame(PUB, flags, subject=msg.reply, payload=result))
        except PlexusError:
            pass  # closed while the handler ran: nothing to answer on
        finally:
            with self._lock:
                running = self._serving.get(msg.reply, [])
                if ctx in running:
                    running.remove(ctx)
                if not running:
                    self._serving.pop(msg.reply, None)

    # -- receiving -------------------------------------------------------------------------

    def _read_loop(self) -> None:
        try:
            while not self._closed.is_set():
                chunk = self.sock.recv(READ_CHUNK)
                if not chunk:
                    raise PlexusError("PLEXUS_ERR_CONNECTION_LOST", "broker closed the connection")
                try:
                    frames = self._decoder.feed(chunk)
                except PlexusError as err:
                    # Fatal: tell the broker why, then close (section 2.3).
                    try:
                        self._send(Frame(ERR, payload=_wire_json(err.to_wire())))
                    finally:
                        raise err
                self._last_heard = time.monotonic()
                for frame in frames:
                    self._dispatch(frame)
        except PlexusError as err:
            self._shutdown(err)
        except OSError as err:
            self._shutdown(PlexusError("PLEXUS_ERR_CONNECTION_LOST", str(err)))

    def _dispatch(self, f: Frame) -> None:
        if f.type == MSG:
            sub = self._subs.get(f.id)
            if sub is not None:
                sub._deliver(Message(f, self))
        elif f.type == PING:
            self._send(Frame(PONG, id=f.id))
            self.pings_answered += 1
        elif f.type == PONG:
            event = self._pongs.get(f.id)
            if event is not None:
                event.set()
        elif f.type == ERR:
            self._on_err(f)
        elif f.type == CANCEL:
            reason = f.payload.decode("utf-8", "replace")
            with self._lock:
                running = list(self._serving.get(f.subject, []))
            for ctx in running:  # an unknown subject is ignored (section 5.7)
                ctx.reason = reason
                ctx.cancelled.set()
        elif f.type == GOODBYE:
            raise PlexusError("PLEXUS_ERR_CONNECTION_CLOSED", f"broker said goodbye: {f.payload.decode('utf-8', 'replace')}")
        # CREDIT, DATA and END belong to streams, which this client does not open.

    def _on_err(self, f: Frame) -> None:
        err = _err_from_payload(f.payload)
        if f.id == 0 and not f.subject:
            raise err  # fatal: the broker closes right after (section 5.11)
        with self._lock:
            pending = self._pending.get(f.subject)
            sub = self._subs.get(f.id) if f.id else None
        if pending is not None:  # no responders / responder gone / refused request
            pending.error = err
            pending.done.set()
        elif sub is not None and sub.subject == f.subject:
            with self._lock:
                self._subs.pop(sub.id, None)
            sub._fail(err)
        else:
            self.errors.append(err)

    def _heartbeat_loop(self) -> None:
        """Ping a broker we have not heard from for heartbeatMs; give up after 3x (6.3)."""
        while not self._closed.wait(self.heartbeat_s / 4):
            quiet = time.monotonic() - self._last_heard
            if quiet > 3 * self.heartbeat_s:
                self._shutdown(PlexusError("PLEXUS_ERR_HEARTBEAT_TIMEOUT", f"broker silent for {quiet:.1f}s"))
                return
            if quiet > self.heartbeat_s and self.ping_broker:
                try:
                    self._send(Frame(PING))
                except PlexusError:
                    return

    # -- closing ---------------------------------------------------------------------------

    def _shutdown(self, err: PlexusError) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            self.closed_error = err
            self._closed.set()
            pending, subs, pongs = list(self._pending.values()), list(self._subs.values()), list(self._pongs.values())
        for p in pending:
            p.error = err
            p.done.set()
        for s in subs:
            s._fail(err)
        for e in pongs:
            e.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def close(self, timeout: float = 2.0) -> None:
        """GOODBYE, then close (section 6.4). Bounded by `timeout`."""
        if not self._closed.is_set():
            try:
                self._send(Frame(GOODBYE, payload=b"client closing"))
            except PlexusError:
                pass
            self._shutdown(PlexusError("PLEXUS_ERR_CONNECTION_CLOSED", "closed by the client"))
        if threading.current_thread() is not self._reader and self._reader.is_alive():
            self._reader.join(timeout)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()
