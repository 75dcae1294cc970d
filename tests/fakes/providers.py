"""Providers in memory (ProviderClient): each URL answered by a Python function, with every
request kept, so that a service test sees what the hub sent and decides what comes back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from crossroads.domain.errors import Refusal
from crossroads.services.ports import ProviderClient, ProviderReply

Answer = Callable[[bytes, dict[str, str]], Awaitable[ProviderReply]]


@dataclass(frozen=True)
class Sent:
    url: str
    body: bytes
    headers: dict[str, str]


class MemoryProviders(ProviderClient):
    def __init__(self, answers: dict[str, Answer] | None = None) -> None:
        self.answers: dict[str, Answer] = dict(answers or {})
        self.sent: list[Sent] = []
        self.closed = False

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> ProviderReply:
        self.sent.append(Sent(url, body, dict(headers)))
        answer = self.answers.get(url)
        if answer is None:  # nobody listens there
            raise Refusal("provider_unavailable", f"the provider at {url} could not be reached.")
        return await answer(body, headers)

    async def close(self) -> None:
        self.closed = True
