"""Differential privacy through OpenDP: answers stay within their stated error bounds, and two
datasets that differ by one person cannot be told apart much better than by a coin.

OpenDP draws from the operating system and cannot be seeded, so the checks are statistical with
margins many standard deviations wide (a failure by chance is below one in a billion)."""

from __future__ import annotations

import math

from crossroads.adapters.opendp_noise import OpenDpNoise

RUNS = 2000


def test_noisy_counts_stay_within_their_stated_bound():
    noise = OpenDpNoise()
    answers = [noise.integer(1000, 10, 0.5) for _ in range(RUNS)]
    outside = sum(1 for a in answers if abs(a.value - 1000) > a.bound)
    # 5% are expected outside a 95% bound: sd ≈ 0.49%, so 9% is over eight deviations away.
    assert outside / RUNS < 0.09
    assert all(a.confidence == 0.95 and a.scale == 20 for a in answers)
    assert any(a.value != 1000 for a in answers)


def test_a_differencing_attack_on_one_person_fails():
    # The attacker asks the same count with and without the target person (100 vs 101) and
    # guesses "present" when the answer is above 100.5: its advantage is bounded by epsilon.
    noise, epsilon = OpenDpNoise(), 0.5
    right = sum(noise.integer(101, 1, epsilon).value > 100.5 for _ in range(RUNS))
    right += sum(noise.integer(100, 1, epsilon).value <= 100.5 for _ in range(RUNS))
    best = math.exp(epsilon) / (1 + math.exp(epsilon))  # ≈ 0.62 for ε = 0.5
    assert right / (2 * RUNS) < best + 0.05


def test_sums_beyond_32_bits_are_noised():
    # A quarter's wages in cents pass 2³¹ with a few hundred workers.
    answer = OpenDpNoise().integer(5_000_000_000_000, 50_000_000, 0.5)
    assert abs(answer.value - 5_000_000_000_000) < 50 * answer.bound
