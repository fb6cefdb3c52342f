#!/usr/bin/env python3
"""How long Switchboard's relay held each RTP packet, from loopback
captures. A relayed packet appears twice unchanged (SSRC, sequence number,
timestamp, payload): sent by the callers' SIPp to Switchboard's caller-side
port for that call, then by Switchboard from its phone-side port for the
same call to the phones' SIPp; echoed, the same the other way.

Which two of Switchboard's ports belong to one call comes from the SIP
capture: Switchboard's 200 OK to a caller's INVITE carries the caller-side
port in its SDP, and its INVITE to the phone carries the phone-side port,
with the caller's number in From on both. A port freed when a call ends
may be given to a later call, on either side, so a port belongs to the
call whose SIP named it last before the packet (both captures share the
kernel's clock). Every caller plays the same recording, so calls send the
same packets: pairing a packet with another call's copy would measure the
time between the two calls, not the relay. Packets are paired within a
call, so a packet that is not relayed (the caller still queued, a call
ending) stays unpaired and cannot shift the pairs of other calls. Prints
the delays' count, median, p99, p99.9, maximum and the share over 5 ms,
and how many calls the sample covered.

  rtp-delay.py rtp.pcap sip.pcap SIP_PORT CALLERS_SIP_PORT PHONES_SIP_PORT
"""
import bisect
import re
import struct
import sys
from collections import defaultdict


def udp_packets(path):
    """(time, source port, destination port, payload) of each IPv4 UDP packet."""
    data = open(path, "rb").read()
    if len(data) < 24:
        return
    nano = struct.unpack("<I", data[:4])[0] == 0xA1B23C4D
    link = struct.unpack("<I", data[20:24])[0]
    off = {1: 14, 113: 16, 0: 4}.get(link, 14)
    at = 24
    while at + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack("<IIII", data[at:at + 16])
        pkt = data[at + 16:at + 16 + incl]
        at += 16 + incl
        if len(pkt) < off + 20 or pkt[off] >> 4 != 4 or pkt[off + 9] != 17:
            continue
        udp = off + (pkt[off] & 15) * 4
        sport, dport = struct.unpack("!HH", pkt[udp:udp + 4])
        yield sec + frac / (1e9 if nano else 1e6), sport, dport, pkt[udp + 8:]


def sip_ports(path, server, callers, phones):
    """For each of Switchboard's ports, when SIP named it and for which call
    and side: {port: [(time, call, side), ...]} in time order, the call
    named by its caller-side port."""
    named = []  # (time, caller's number, side, port)
    for t, sport, dport, body in udp_packets(path):
        if sport != server:
            continue
        text = body.decode("latin-1")
        head, _, sdp = text.partition("\r\n\r\n")
        who = re.search(r"^(?:From|f):[^\r\n]*?sip:([^@;>]+)@", head, re.M | re.I)
        port = re.search(r"^m=audio (\d+) ", sdp, re.M)
        if not who or not port:
            continue
        if dport == callers and head.startswith("SIP/2.0 200") and re.search(
                r"^CSeq:\s*\d+ INVITE", head, re.M | re.I):
            named.append((t, who.group(1), "caller", int(port.group(1))))
        elif dport == phones and head.startswith("INVITE "):
            named.append((t, who.group(1), "phone", int(port.group(1))))
    caller_port = {n: p for _, n, side, p in named if side == "caller"}
    ports = defaultdict(list)
    for t, n, side, p in sorted(named):
        if n in caller_port:
            ports[p].append((t, caller_port[n], side))
    return ports


def owner(ports, port, t):
    """(call, side) that `port` belonged to at time `t`, or None."""
    uses = ports.get(port)
    if not uses:
        return None
    i = bisect.bisect_right(uses, (t, float("inf"))) - 1
    return uses[i][1:] if i >= 0 else None


def main():
    rtp_path, sip_path, server, callers, phones = sys.argv[1:6]
    ports = sip_ports(sip_path, int(server), int(callers), int(phones))
    calls = {call for uses in ports.values() for _, call, _ in uses}
    seen = defaultdict(list)
    for t, sport, dport, rtp in udp_packets(rtp_path):
        if len(rtp) < 12 or rtp[0] >> 6 != 2:
            continue
        seq, ts, ssrc = struct.unpack("!HII", rtp[2:12])
        key = (ssrc, seq, ts, hash(rtp[12:]))
        if (at := owner(ports, dport, t)) is not None:  # arriving at Switchboard
            call, s = at
            towards = "phone" if s == "caller" else "caller"
            seen[(call, towards, key)].append((t, True))
        elif (at := owner(ports, sport, t)) is not None:  # leaving Switchboard
            call, s = at
            seen[(call, s, key)].append((t, False))
    delays, covered = [], set()
    for (call, _, _), events in seen.items():
        events.sort()
        arrivals = [t for t, a in events if a]
        departures = [t for t, a in events if not a]
        for a, d in zip(arrivals, departures):
            if d >= a:
                delays.append((d - a) * 1000)
                covered.add(call)
    delays.sort()
    if not delays:
        print(f"no relayed packets ({len(calls)} calls found in the SIP capture)")
        sys.exit(1)
    p = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]
    over = sum(1 for d in delays if d > 5) / len(delays) * 100
    print(f"relayed packets {len(delays)} in {len(covered)} calls; delay ms: median {p(0.5):.3f}, "
          f"p99 {p(0.99):.3f}, p99.9 {p(0.999):.3f}, max {delays[-1]:.3f}; over 5 ms {over:.3f} %")


main()
