#!/usr/bin/env python3
"""Tiny TCP peers for record.sh: an HTTP/1.1 server with misbehaviours on
demand, and clients. Plain sockets (TLS through the ssl module), standard
library only, Python 3.11. Every client binds an explicit source port so the
5-tuples are the same on each recording. All traffic stays inside the
network namespaces record.sh creates."""

import argparse
import socket
import ssl
import struct
import sys
import threading
import time

LEAKED = []  # sockets a leaky server holds on purpose (never closed)
T0 = time.monotonic()


def log(*a):
    print(f"[{time.monotonic() - T0:7.3f}]", *a, file=sys.stderr, flush=True)


def read_request(f):
    """Reads one request head from a file object; returns it or None at EOF."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            return b"".join(lines)
        lines.append(line)


def response(body, close=False):
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
            + ("Connection: close\r\n" if close else "Connection: keep-alive\r\n") + "\r\n")
    return head.encode() + body


def serve_conn(args, conn, peer, leak):
    n = 0
    try:
        if leak:
            # The acceptor "failed" to register the socket: it never reads,
            # writes or closes it. The kernel still ACKs the peer's FIN.
            LEAKED.append(conn)
            log("leaking", peer)
            return
        if args.close_immediately:
            conn.close()
            log("closed at once", peer)
            return
        if args.idle_timeout:
            conn.settimeout(args.idle_timeout)
        f = conn.makefile("rb")
        while True:
            try:
                req = read_request(f)
            except (socket.timeout, TimeoutError):
                log("idle timeout, closing", peer)
                conn.close()
                return
            if req is None:
                log("EOF from", peer)
                if args.leak_on_eof and (args.leak_max is None or len(LEAKED) < args.leak_max):
                    LEAKED.append(conn)
                    log("never closing", peer)
                    return
                conn.close()
                return
            n += 1
            path = req.split(b" ")[1] if b" " in req else b"/"
            body = (b"ok " + path + b"\n") * args.body_repeat
            close = args.close_after_response or b"connection: close" in req.lower()
            conn.sendall(response(body, close=close))
            if args.linger0:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                log("closed with RST (SO_LINGER 0)", peer)
                return
            if close:
                conn.shutdown(socket.SHUT_WR)
                # wait for the client's FIN, then close
                while conn.recv(4096):
                    pass
                conn.close()
                log("server closed", peer)
                return
    except OSError as e:
        log("error", peer, e)
        conn.close()


def server(args):
    host, port = args.addr.rsplit(":", 1)
    ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host.strip("[]"), int(port)))
    ls.listen(64)
    ctx = None
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    log("listening on", args.addr)
    start = time.monotonic()
    seen = 0  # connections accepted from --leak-from addresses
    while True:
        conn, peer = ls.accept()
        mine = not args.leak_from or peer[0] in args.leak_from
        seen += mine
        leak = mine and ((args.leak_after is not None and time.monotonic() - start >= args.leak_after)
                         or (args.leak_after_count is not None and seen > args.leak_after_count))
        if ctx is not None:
            try:
                conn = ctx.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log("handshake failed", peer, e)
                conn.close()
                continue
        threading.Thread(target=serve_conn, args=(args, conn, peer, leak), daemon=True).start()


def connect(args, i):
    host, port = args.addr.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.src, args.sport + i))
    s.connect((host, int(port)))
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s, server_hostname=args.sni)
    return s


def get(s, f, path, close=False):
    req = f"GET {path} HTTP/1.1\r\nHost: pcapsleuth.test\r\nUser-Agent: record.sh\r\n"
    if close:
        req += "Connection: close\r\n"
    s.sendall((req + "\r\n").encode())
    head = read_request(f)
    if head is None:
        raise ConnectionError("EOF before response")
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    body = f.read(n)
    return head, body


def client(args):
    """Opens --conns connections one after the other; --requests requests on
    each, --interval apart; then closes (or holds the socket for --hold s)."""
    for i in range(args.conns):
        s = connect(args, i)
        f = s.makefile("rb")
        for r in range(args.requests):
            if r:
                time.sleep(args.interval)
            last = r == args.requests - 1
            head, body = get(s, f, f"/item/{i}/{r}", close=last and args.ask_close)
            log("response", i, r, head.split(b"\r\n")[0].decode(), len(body), "bytes")
        if args.hold:
            log("holding the socket without reading for", args.hold, "s")
            time.sleep(args.hold)
            continue  # never closed: the process exits after the capture stops
        if args.ask_close:
            rest = f.read()  # server's FIN
            log("EOF from server", len(rest))
        f.close()  # the makefile() object holds the fd open too
        s.close()
        if args.gap and i < args.conns - 1:
            time.sleep(args.gap)


def probe(args):
    """A TCP health checker: connect, close at once, every --interval s."""
    socks = []
    for i in range(args.count):
        t = time.monotonic()
        s = connect(args, i)
        s.close()
        socks.append(s)
        log("probe", i)
        time.sleep(max(0, args.interval - (time.monotonic() - t)))


def write_after_fin(args):
    s = connect(args, 0)
    time.sleep(args.delay)  # the server's FIN arrives meanwhile
    n = s.send(b"GET /late HTTP/1.1\r\nHost: pcapsleuth.test\r\n\r\n")
    log("write returned", n)
    try:
        data = s.recv(100)
        log("read returned", len(data), "bytes (EOF)" if not data else "")
        time.sleep(0.2)
        s.send(b"more")
    except OSError as e:
        log("error", e)
    s.close()


def keepalive_app(args):
    """Long-lived keep-alive connections, opened at start, a request on each
    every --interval s for --duration s, then closed."""
    conns = []
    for i in range(args.conns):
        s = connect(args, i)
        conns.append((s, s.makefile("rb")))
    end = time.monotonic() + args.duration
    r = 0
    while True:
        for i, (s, f) in enumerate(conns):
            head, body = get(s, f, f"/api/orders/{r * args.conns + i}")
        r += 1
        if time.monotonic() + args.interval >= end:
            break  # close right after the last response, not after an idle gap
        time.sleep(args.interval)
    for s, f in conns:
        f.close()
        s.close()
    log("app done after", r, "rounds")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sv = sub.add_parser("server")
    sv.add_argument("--addr", required=True)
    sv.add_argument("--idle-timeout", type=float)
    sv.add_argument("--close-after-response", action="store_true")
    sv.add_argument("--close-immediately", action="store_true")
    sv.add_argument("--linger0", action="store_true")
    sv.add_argument("--leak-on-eof", action="store_true", help="never close after the peer's FIN")
    sv.add_argument("--leak-max", type=int, help="leak at most this many sockets")
    sv.add_argument("--leak-after", type=float, help="leak sockets accepted this long after start")
    sv.add_argument("--leak-after-count", type=int, help="leak every connection after the first N")
    sv.add_argument("--leak-from", nargs="*", default=[], help="only from these client addresses")
    sv.add_argument("--body-repeat", type=int, default=1)
    sv.add_argument("--tls-cert")
    sv.add_argument("--tls-key")
    for name in ("client", "probe", "write-after-fin", "app"):
        c = sub.add_parser(name)
        c.add_argument("--addr", required=True)
        c.add_argument("--src", required=True)
        c.add_argument("--sport", type=int, required=True)
        c.add_argument("--conns", type=int, default=1)
        c.add_argument("--requests", type=int, default=1)
        c.add_argument("--interval", type=float, default=0.2)
        c.add_argument("--gap", type=float, default=0)
        c.add_argument("--hold", type=float, default=0)
        c.add_argument("--ask-close", action="store_true")
        c.add_argument("--count", type=int, default=10)
        c.add_argument("--delay", type=float, default=0.5)
        c.add_argument("--duration", type=float, default=5)
        c.add_argument("--tls", action="store_true")
        c.add_argument("--sni", default="pcapsleuth.test")
    a = p.parse_args()
    {"server": server, "client": client, "probe": probe,
     "write-after-fin": write_after_fin, "app": keepalive_app}[a.cmd](a)


if __name__ == "__main__":
    main()
