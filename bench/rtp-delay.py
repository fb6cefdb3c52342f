#!/usr/bin/env python3
"""How long Switchboard's relay held each RTP packet, from a loopback
capture. A relayed packet appears twice unchanged (SSRC, sequence number,
timestamp, payload): sent by the callers' SIPp (media port CALLERS) to
Switchboard, then by Switchboard to the phones' SIPp (media port PHONES);
echoed, the same the other way. Every call plays the same recording, so
copies of one packet from different calls are told apart by order: in
each direction the k-th arrival of a packet pairs with its k-th departure
(first in, first out). Prints the delays' count, median, p99, p99.9,
maximum and the share over 5 ms.

  rtp-delay.py capture.pcap CALLERS_PORT PHONES_PORT
"""
import struct
import sys
from collections import defaultdict

data = open(sys.argv[1], "rb").read()
callers, phones = int(sys.argv[2]), int(sys.argv[3])
magic = struct.unpack("<I", data[:4])[0]
nano = magic == 0xA1B23C4D
link = struct.unpack("<I", data[20:24])[0]
at = 24
seen = defaultdict(list)
while at + 16 <= len(data):
    sec, frac, incl, _ = struct.unpack("<IIII", data[at:at + 16])
    pkt = data[at + 16:at + 16 + incl]
    at += 16 + incl
    t = sec + frac / (1e9 if nano else 1e6)
    off = {1: 14, 113: 16, 0: 4}.get(link, 14)
    if len(pkt) < off + 20 or pkt[off] >> 4 != 4:
        continue
    ihl = (pkt[off] & 15) * 4
    if pkt[off + 9] != 17:
        continue
    udp = off + ihl
    rtp = pkt[udp + 8:]
    if len(rtp) < 12 or rtp[0] >> 6 != 2:
        continue
    seq, ts, ssrc = struct.unpack("!HII", rtp[2:12])
    sport, dport = struct.unpack("!HH", pkt[udp:udp + 4])
    key = (ssrc, seq, ts, hash(rtp[12:]))
    # (direction, arriving?) — towards the phones or back to the callers.
    if sport == callers:
        seen[(key, "out")].append((t, True))
    elif dport == phones:
        seen[(key, "out")].append((t, False))
    elif sport == phones:
        seen[(key, "back")].append((t, True))
    elif dport == callers:
        seen[(key, "back")].append((t, False))

delays = []
for events in seen.values():
    events.sort()
    arrivals = [t for t, a in events if a]
    departures = [t for t, a in events if not a]
    for a, d in zip(arrivals, departures):
        if d >= a:
            delays.append((d - a) * 1000)
delays.sort()
if not delays:
    print("no relayed packets")
    sys.exit(1)
p = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]
over = sum(1 for d in delays if d > 5) / len(delays) * 100
print(f"relayed packets {len(delays)}; delay ms: median {p(0.5):.3f}, p99 {p(0.99):.3f}, "
      f"p99.9 {p(0.999):.3f}, max {delays[-1]:.3f}; over 5 ms {over:.3f} %")
