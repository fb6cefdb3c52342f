#!/usr/bin/env python3
"""Sends mail to Switchboard's SMTP listener as fast as it takes it:
PROCS processes, each with one SMTP session (smtplib) sending its share of
TOTAL messages back to back. Every fourth message answers the one its
process sent before (In-Reply-To), so threading is exercised; the rest
start conversations. Each message is about 3 KB, text and HTML.
Prints messages accepted per second and the latency of each DATA (from
MAIL FROM to the 250 that says it is stored), median and p99.

  email-send.py HOST:PORT TOTAL PROCS RUN_ID
"""
import smtplib
import sys
import time
from multiprocessing import Pool

HTML = "<p>" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 20 + "</p>"
TEXT = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n" * 20


def message(run, proc, i):
    mid = f"<{run}-{proc}-{i}@load.example>"
    head = (f"From: Customer {proc}-{i} <c{proc}-{i}@load.example>\r\nTo: support@demo.example\r\n"
            f"Message-ID: {mid}\r\nMIME-Version: 1.0\r\n")
    if i % 4 == 3:
        prev = f"<{run}-{proc}-{i - 1}@load.example>"
        head = (f"From: Customer {proc}-{i - 1} <c{proc}-{i - 1}@load.example>\r\nTo: support@demo.example\r\n"
                f"Message-ID: {mid}\r\nIn-Reply-To: {prev}\r\nReferences: {prev}\r\nMIME-Version: 1.0\r\n"
                f"Subject: Re: Order {proc}-{i - 1}\r\n")
    else:
        head += f"Subject: Order {proc}-{i}\r\n"
    body = (f"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{TEXT}\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{HTML}\r\n--b--\r\n")
    return head + body


def work(args):
    addr, n, proc, run = args
    host, port = addr.rsplit(":", 1)
    lat = []
    with smtplib.SMTP(host, int(port), timeout=60) as s:
        s.ehlo("load.example")
        for i in range(n):
            raw = message(run, proc, i)
            t = time.perf_counter()
            s.sendmail(f"c{proc}-{i}@load.example", ["support@demo.example"], raw)
            lat.append(time.perf_counter() - t)
    return lat


def main():
    addr, total, procs, run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    per = total // procs
    with Pool(procs) as pool:
        t0 = time.perf_counter()
        lats = pool.map(work, [(addr, per, p, run) for p in range(procs)])
        wall = time.perf_counter() - t0
    all_ = sorted(x for l in lats for x in l)
    q = lambda p: all_[min(len(all_) - 1, int(p * len(all_)))] * 1000
    print(f"RESULT sent={len(all_)} seconds={wall:.2f} per_second={len(all_) / wall:.0f} "
          f"p50_ms={q(0.5):.1f} p99_ms={q(0.99):.1f}")


if __name__ == "__main__":
    main()
