#!/usr/bin/env python3
"""Tiny TCP peers for the teardown detectors' real-stack captures (record.sh).

Each subcommand is one side of a scenario; timings come from the arguments so
that the recordings differ from the lab set's (other ports, intervals, timeouts).
"""
import argparse, socket, ssl, struct, sys, threading, time

REQ = b"GET /%s HTTP/1.1\r\nHost: rec.test\r\n\r\n"


def resp(body=b"ok\n"):
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def addr(s):
    h, _, p = s.rpartition(":")
    return h, int(p)


def sock_from(src, sport):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    return s


def listen(a):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(addr(a))
    ls.listen(64)
    return ls


def read_request(c):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(4096)
        if not d:
            return None
        buf += d
    return buf


HELD = []  # leaked sockets stay referenced until the process is killed


def srv_probes(a):
    """Accept probes; from accept number --leak-from on, never close (incident 001)."""
    ls = listen(a.addr)
    n = 0
    while True:
        c, _ = ls.accept()
        n += 1
        if n >= a.leak_from:
            HELD.append(c)
            continue
        c.recv(1)  # EOF
        c.close()


def srv_keepalive(a):
    """HTTP keep-alive server that closes a connection after --idle s without a request."""
    ls = listen(a.addr)

    def handle(c):
        c.settimeout(a.idle)
        try:
            while True:
                if read_request(c) is None:
                    break
                c.sendall(resp())
        except socket.timeout:
            pass
        except OSError:
            pass
        c.close()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def srv_slow(a):
    """Reads a request, waits the next delay of --delays, writes --size bytes, closes."""
    ls = listen(a.addr)
    delays = [float(x) for x in a.delays.split(",")]
    n = [0]

    def handle(c, d):
        try:
            read_request(c)
            time.sleep(d)
            body = b"x" * a.size
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            c.close()
        except OSError:
            c.close()

    while True:
        c, _ = ls.accept()
        d = delays[n[0] % len(delays)]
        n[0] += 1
        if a.never:
            HELD.append(c)
            continue
        threading.Thread(target=handle, args=(c, d), daemon=True).start()


def srv_tls(a):
    """TLS server whose handler never starts the handshake for accept numbers in --stall."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    stall = {int(x) for x in a.stall.split(",") if x}
    ls = listen(a.addr)
    n = 0

    def handle(c):
        try:
            t = ctx.wrap_socket(c, server_side=True)
            if read_request(t) is not None:
                t.sendall(resp())
            t.recv(1)  # close_notify / EOF
            try:
                t.unwrap()
            except (ssl.SSLError, OSError):
                pass
            t.close()
        except (ssl.SSLError, OSError):
            c.close()

    while True:
        c, _ = ls.accept()
        n += 1
        if n in stall:
            HELD.append(c)
            continue
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def cli_probe(a):
    for i in range(a.count):
        s = sock_from(a.src, a.sport + i)
        s.connect(addr(a.addr))
        s.close()
        time.sleep(a.interval)


def cli_hold(a):
    """Keep-alive client: each connection sends its requests, then is held, never closed."""
    plan = [tuple(float(y) for y in x.split(":")) for x in a.plan.split(",")]  # start:reqs:gap
    t0 = time.time()

    def run(i, start, reqs, gap):
        time.sleep(max(0, t0 + start - time.time()))
        s = sock_from(a.src, a.sport + i)
        s.connect(addr(a.addr))
        for r in range(int(reqs)):
            s.sendall(REQ % b"item")
            s.recv(4096)
            if r + 1 < reqs:
                time.sleep(gap)
        HELD.append(s)

    ths = [threading.Thread(target=run, args=(i,) + p, daemon=True) for i, p in enumerate(plan)]
    for t in ths:
        t.start()
    time.sleep(a.hold)


def cli_pool(a):
    """A pool that reuses each connection --reuse s after its last exchange."""
    reuse = [float(x) for x in a.reuse.split(",")]

    def run(i, after):
        time.sleep(i * a.stagger)
        s = sock_from(a.src, a.sport + i)
        s.connect(addr(a.addr))
        s.sendall(REQ % b"first")
        s.recv(4096)
        time.sleep(after)
        try:
            s.sendall(REQ % b"again")  # succeeds: only copied to the kernel
            s.recv(4096)  # EOF or reset
        except OSError:
            pass
        HELD.append(s)

    ths = [threading.Thread(target=run, args=(i, r), daemon=True) for i, r in enumerate(reuse)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()


def cli_lb(a):
    """A balancer: sends a request, gives up after --timeout s with FIN (or RST with --rst)."""
    starts = [float(x) for x in a.starts.split(",")]
    t0 = time.time()

    def run(i, start):
        time.sleep(max(0, t0 + start - time.time()))
        s = sock_from(a.src, a.sport + i)
        s.connect(addr(a.addr))
        s.sendall(REQ % (b"report/%d" % i))
        s.settimeout(a.timeout)
        try:
            s.recv(4096)
        except socket.timeout:
            pass
        if a.rst:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    ths = [threading.Thread(target=run, args=(i, st), daemon=True) for i, st in enumerate(starts)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()


def cli_tls(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for i in range(a.count):
        s = sock_from(a.src, a.sport + i)
        s.connect(addr(a.addr))
        s.settimeout(a.timeout)
        try:
            t = ctx.wrap_socket(s, server_hostname="rec.test")
            t.sendall(REQ % b"tls")
            t.recv(4096)
            t.unwrap()  # close_notify, as curl sends
            s.close()
        except (socket.timeout, ssl.SSLError, OSError):
            s.close()
        time.sleep(a.interval)


def cli_healthy(a):
    """Keep-alive requests; odd connections ask for Connection: close (server closes first)."""
    for i in range(a.conns):
        s = sock_from(a.src, a.sport + i)
        s.connect(addr(a.addr))
        for r in range(a.requests):
            s.sendall(REQ % b"h")
            s.recv(4096)
            time.sleep(a.interval)
        s.close()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("srv-probes"); p.add_argument("--addr"); p.add_argument("--leak-from", type=int, default=1 << 30); p.set_defaults(f=srv_probes)
    p = sub.add_parser("srv-keepalive"); p.add_argument("--addr"); p.add_argument("--idle", type=float, default=30); p.set_defaults(f=srv_keepalive)
    p = sub.add_parser("srv-slow"); p.add_argument("--addr"); p.add_argument("--delays", default="0"); p.add_argument("--size", type=int, default=100000); p.add_argument("--never", action="store_true"); p.set_defaults(f=srv_slow)
    p = sub.add_parser("srv-tls"); p.add_argument("--addr"); p.add_argument("--cert"); p.add_argument("--key"); p.add_argument("--stall", default=""); p.set_defaults(f=srv_tls)
    for name, f in (("probe", cli_probe), ("hold", cli_hold), ("pool", cli_pool), ("lb", cli_lb), ("tls", cli_tls), ("healthy", cli_healthy)):
        p = sub.add_parser(name)
        p.add_argument("--addr"); p.add_argument("--src"); p.add_argument("--sport", type=int)
        p.add_argument("--count", type=int, default=1); p.add_argument("--interval", type=float, default=0.2)
        p.add_argument("--plan", default="0:1:0"); p.add_argument("--hold", type=float, default=1)
        p.add_argument("--reuse", default="1"); p.add_argument("--stagger", type=float, default=0.2)
        p.add_argument("--starts", default="0"); p.add_argument("--timeout", type=float, default=1)
        p.add_argument("--rst", action="store_true"); p.add_argument("--conns", type=int, default=1)
        p.add_argument("--requests", type=int, default=1)
        p.set_defaults(f=f)
    a = ap.parse_args()
    a.f(a)


if __name__ == "__main__":
    main()
