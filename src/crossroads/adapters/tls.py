"""TLS for the hub's outbound connections: a CA bundle to trust and a client certificate to show,
per kind of peer (providers, webhooks, witnesses, NATS).

Providers usually sit on an internal network behind the operator's own certificate authority,
and many ask the hub for a client certificate (X-Road's security servers do); webhooks are on
the public Internet. So each kind of peer gets its own context; with none of its settings set,
the library's default (the system's trust store, no client certificate) applies.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OutboundTls:
    """The TLS settings of one kind of peer; `names` are their variables, for error messages."""

    ca_file: Path | None
    client_cert_file: Path | None
    client_key_file: Path | None
    names: tuple[str, str, str]

    def context(self) -> ssl.SSLContext | None:
        """The context to connect with, or None for the library's default. Raises ValueError
        naming the variable when a file cannot be read or holds no usable certificate or key."""
        if self.ca_file is None and self.client_cert_file is None and self.client_key_file is None:
            return None
        ca_name, cert_name, key_name = self.names
        if self.client_key_file is not None and self.client_cert_file is None:
            raise ValueError(f"{key_name} is set without {cert_name}")
        try:
            # The bundle replaces the system's trust store for this kind of peer: an internal
            # CA then vouches for providers only, and public CAs do not.
            context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(
                f"{ca_name}: {self.ca_file} holds no usable CA certificate ({_why(exc)})"
            ) from None
        if self.client_cert_file is not None:
            try:
                context.load_cert_chain(self.client_cert_file, self.client_key_file)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(
                    f"{cert_name}/{key_name}: no usable certificate and key in "
                    f"{self.client_cert_file} ({_why(exc)})"
                ) from None
        return context


def _why(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc.__class__.__name__
