"""Differential privacy's noise from OpenDP: the discrete Laplace mechanism on integers.

OpenDP builds the measurement and checks its privacy map itself (the epsilon it proves for the
given sensitivity must not exceed the epsilon asked for), and states the accuracy: with
probability `confidence` the noise stays within `bound`. Its randomness comes from the operating
system and cannot be seeded: the tests of the bounds are statistical (tests/unit).
"""

from __future__ import annotations

import opendp.prelude as dp

from ..services.ports import Noise, Noisy

dp.enable_features("contrib")
CONFIDENCE = 0.95


class OpenDpNoise(Noise):
    def integer(self, value: int, sensitivity: int, epsilon: float) -> Noisy:
        if epsilon <= 0 or sensitivity <= 0:
            raise ValueError("epsilon and sensitivity must be positive")
        scale = sensitivity / epsilon
        measurement = dp.m.make_laplace(
            dp.atom_domain(T="i64"), dp.absolute_distance(T="i64"), scale=scale
        )
        proven = measurement.map(sensitivity)
        if proven > epsilon * (1 + 1e-9):
            raise ValueError(f"OpenDP proves ε={proven} for this noise, more than ε={epsilon}")
        bound = dp.discrete_laplacian_scale_to_accuracy(scale, 1 - CONFIDENCE)
        return Noisy(int(measurement(int(value))), scale, bound, CONFIDENCE)
