"""Sans-I/O codecs for the serial devices: bytes in, events out; events in, bytes out.

- `scanner_plain`: barcode scanner in plain ("data as is") mode, AIM identifiers.
- `ssi`: Zebra/Symbol SSI packet mode (DECODE_DATA, ACK/NAK, retransmit, checksum).
- `toledo`: Mettler Toledo continuous output (18-byte and short frames).
- `yaohua`: Yaohua XK3190-A9 continuous output.
- `sam`: resident ID card reader, SAM serial protocol (frames, status bytes, the text block).
- `wiegand`: staff badges, Wiegand-26/34 raw-frame lines from a serial converter.
- `stability`: "stable" for indicators without a motion flag.
- `base`: `Garbled`, `WeightFrame`, buffer bound, shared framing.

None of these import serial, sockets, threads or clocks; drivers and firmware stubs own I/O.
"""
