"""Free ports for the processes the demo, the tests and the benchmarks start."""

from __future__ import annotations

import socket

from crossroads.demo.launch import free_port_block


def test_blocks_asked_for_before_anything_listens_do_not_overlap():
    # Two hubs are often set up (each given a block) before either is started; a block that is
    # merely free when asked overlapped the one before it now and then (a CI run's hub found its
    # port taken by the other hub). 64 blocks of 50 at random in 12,000 ports overlap ~17 times
    # on average when only freedom is checked.
    blocks = [range(base, base + 50) for base in (free_port_block(50) for _ in range(64))]
    for i, one in enumerate(blocks):
        for other in blocks[i + 1 :]:
            assert one.stop <= other.start or other.stop <= one.start, (one, other)


def test_a_block_is_free_when_given():
    base = free_port_block(3)
    for port in range(base, base + 3):
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
