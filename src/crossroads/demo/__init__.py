"""The demo country: a synthetic population, institutions, services and simulated authentic
sources."""
