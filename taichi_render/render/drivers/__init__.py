"""The two drivers of the path tracer: one ray per thread (kernels.py) and 16-lane ray packets
(packet_*.py)."""
