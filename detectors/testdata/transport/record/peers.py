#!/usr/bin/env python3
"""Small TCP peers for record.sh (transport detectors' real-stack captures).

Subcommands (all addresses ip:port):
  sink      --addr A                       accept, read and discard until EOF
  source    --addr A --bytes N [--delay S] accept, read the request, wait S, write N bytes, close
  fetch     --addr A --src IP --sport P --bytes N [--count K] [--gap S]
                                           connect K times, read N bytes each
  slowread  --addr A --src IP --sport P --rcvbuf B --pause S
                                           connect, read 4 KiB, stop reading for S seconds, then drain
  noaccept  --addr A --backlog N --hold S  listen and never accept, for S seconds
  connect   --addr A --src IP --sport P --count K --gap S --timeout T --request DATA
                                           connect K times (ports P, P+1, ...), send DATA, wait T
"""
import argparse
import socket
import sys
import threading
import time


def hostport(s):
    h, _, p = s.rpartition(":")
    return h, int(p)


def listener(addr, backlog=64):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(hostport(addr))
    ls.listen(backlog)
    return ls


def serve(ls, handle):
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def cmd_sink(a):
    def handle(c):
        while c.recv(65536):
            pass
        c.close()
    serve(listener(a.addr), handle)


def cmd_source(a):
    def handle(c):
        c.recv(4096)  # the request
        time.sleep(a.delay)
        buf = b"x" * 65536
        left = a.bytes
        while left > 0:
            n = c.send(buf[: min(left, len(buf))])
            left -= n
        c.shutdown(socket.SHUT_WR)
        while c.recv(4096):
            pass
        c.close()
    serve(listener(a.addr), handle)


def dial(a, sport):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if getattr(a, "rcvbuf", 0):
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    c.bind((a.src, sport))
    c.settimeout(getattr(a, "timeout", 30) or 30)
    c.connect(hostport(a.addr))
    return c


def cmd_fetch(a):
    for i in range(a.count):
        c = dial(a, a.sport + i)
        c.sendall(b"GET\n")
        got = 0
        while True:
            d = c.recv(65536)
            if not d:
                break
            got += len(d)
        c.close()
        print("fetched", got, file=sys.stderr)
        time.sleep(a.gap)


def cmd_slowread(a):
    c = dial(a, a.sport)
    c.sendall(b"GET\n")
    c.recv(4096)
    time.sleep(a.pause)
    while c.recv(65536):
        pass
    c.close()


def cmd_noaccept(a):
    ls = listener(a.addr, a.backlog)
    time.sleep(a.hold)
    ls.close()


def cmd_connect(a):
    socks = []
    for i in range(a.count):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        c.bind((a.src, a.sport + i))
        c.settimeout(a.timeout)
        try:
            c.connect(hostport(a.addr))
            c.sendall(a.request.encode())
            socks.append(c)
            print("connected", a.sport + i, file=sys.stderr)
        except OSError as e:
            print("connect", a.sport + i, e, file=sys.stderr)
            c.close()
        time.sleep(a.gap)
    time.sleep(a.timeout)
    for c in socks:
        try:
            c.recv(1)
        except OSError:
            pass
        c.close()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("sink"); p.add_argument("--addr", required=True)
    p = sub.add_parser("source"); p.add_argument("--addr", required=True); p.add_argument("--bytes", type=int, required=True)
    p.add_argument("--delay", type=float, default=0)
    p = sub.add_parser("fetch")
    for k in ("--addr", "--src"):
        p.add_argument(k, required=True)
    p.add_argument("--sport", type=int, required=True); p.add_argument("--bytes", type=int, default=0)
    p.add_argument("--count", type=int, default=1); p.add_argument("--gap", type=float, default=0.1)
    p = sub.add_parser("slowread")
    for k in ("--addr", "--src"):
        p.add_argument(k, required=True)
    p.add_argument("--sport", type=int, required=True); p.add_argument("--rcvbuf", type=int, default=4096)
    p.add_argument("--pause", type=float, default=2.0)
    p = sub.add_parser("noaccept"); p.add_argument("--addr", required=True)
    p.add_argument("--backlog", type=int, default=1); p.add_argument("--hold", type=float, default=10)
    p = sub.add_parser("connect")
    for k in ("--addr", "--src"):
        p.add_argument(k, required=True)
    p.add_argument("--sport", type=int, required=True); p.add_argument("--count", type=int, default=1)
    p.add_argument("--gap", type=float, default=0.2); p.add_argument("--timeout", type=float, default=2.5)
    p.add_argument("--request", default="GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    a = ap.parse_args()
    globals()["cmd_" + a.cmd](a)


if __name__ == "__main__":
    main()
