"""Whether a peer hub's subscription may still receive what is sent to it.

A peer's member subscribes through the peer (application `peer.<instance>`,
services/peer_mutations.py), and the peer's request is checked then (services/federation.py). The
registry's record of which peer a member belongs to can change afterwards, and a subscription may
predate the record (schema 26): so everything that sends to a subscription checks again, each
time, through the registry cache — the publication's fan-out (services/mutations.py), the initial
sync of an integrated person (services/initial_sync.py) and the push of what was queued before
(MutationService.check_push).
"""

from __future__ import annotations

from ..domain.mutations import Subscription, peer_of
from .registry_cache import RegistryCache


async def peer_still_holds(cache: RegistryCache, subscription: Subscription) -> bool:
    """True for a subscription of this hub's own members; for a peer hub's, True only while the
    registry records its member as that very peer's (docs/federation.md, "What a pin trusts")."""
    peer = peer_of(subscription)
    if peer is None:
        return True
    member = await cache.institution(subscription.institution)
    return member is not None and member.peer == peer
