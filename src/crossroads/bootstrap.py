"""Wiring: build every adapter and service from the settings, explicitly, in one place."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from .adapters.keys import HubKeys
from .adapters.provider_client import AiohttpProviderClient
from .adapters.sql.store import SqlStore, open_store
from .config import Settings
from .domain.identifiers import IdentifierScheme, scheme_for
from .domain.subjects import SubjectHasher
from .services.auth import TokenService
from .services.clock import Clock
from .services.directory import DirectoryService
from .services.exchange import ExchangeService
from .services.ports import ProviderClient
from .services.registry import RegistryAdmin
from .services.registry_cache import RegistryCache
from .services.audit_check import LogAuditor
from .services.transparency import AuditProofs, Sequencer


@dataclass
class Hub:
    settings: Settings
    store: SqlStore
    keys: HubKeys
    scheme: IdentifierScheme
    hasher: SubjectHasher
    clock: Clock
    admin_token: str
    tokens: TokenService
    registry: RegistryAdmin
    directory: DirectoryService
    exchange: ExchangeService
    providers: ProviderClient
    sequencer: Sequencer
    audit_proofs: AuditProofs
    auditor: LogAuditor

    async def close(self) -> None:
        await self.providers.close()
        await self.store.close()


def load_secrets(settings: Settings) -> tuple[str, bytes]:
    """The operator token and the subject hash secret: from the settings, else from data_dir.

    Generated once into data_dir/secrets.json (mode 600) when neither is given, so a single-node
    hub needs no set-up; several hub processes on several machines must share them (set both).
    """
    path = settings.data_dir / "secrets.json"
    stored: dict = json.loads(path.read_text()) if path.exists() else {}
    if settings.admin_token is None and "admin_token" not in stored:
        stored["admin_token"] = secrets.token_urlsafe(32)
    if settings.subject_hash_secret is None and "subject_hash_secret" not in stored:
        stored["subject_hash_secret"] = secrets.token_hex(32)
    if stored and (not path.exists() or json.loads(path.read_text()) != stored):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    admin = settings.admin_token.get_secret_value() if settings.admin_token else stored["admin_token"]
    secret = settings.subject_hash_secret.get_secret_value() if settings.subject_hash_secret else stored["subject_hash_secret"]
    if len(admin) < 16:
        raise ValueError("CROSSROADS_ADMIN_TOKEN must be at least 16 characters")
    return admin, secret.encode()


async def bootstrap(settings: Settings, clock: Clock | None = None, providers: ProviderClient | None = None) -> Hub:
    """Build the hub. `providers` replaces the HTTP client to providers (tests reach them in-process)."""
    clock = clock or Clock()
    admin_token, subject_secret = load_secrets(settings)
    store = await open_store(settings.store_url, pool_size=settings.store_pool_size)
    keys = HubKeys.load_or_create(settings.data_dir / "keys")
    scheme = scheme_for(settings.country)
    hasher = SubjectHasher(subject_secret)
    cache = RegistryCache(store.registry, settings.registry_cache_seconds)
    providers = providers or AiohttpProviderClient(
        settings.provider_connect_timeout, settings.provider_read_timeout, settings.provider_pool_size
    )
    return Hub(
        settings=settings, store=store, keys=keys, scheme=scheme, hasher=hasher, clock=clock,
        admin_token=admin_token,
        tokens=TokenService(
            store.registry, store.replay, store.audit, keys, clock, issuer=settings.issuer,
            token_ttl=settings.token_ttl_seconds, max_assertion_lifetime=settings.assertion_max_lifetime_seconds,
        ),
        registry=RegistryAdmin(store.registry, store.audit, clock, scheme, cache),
        directory=DirectoryService(store.directory, store.registry, store.audit, clock, scheme, hasher),
        exchange=ExchangeService(
            store.registry, store.directory, store.audit, providers, keys, clock, scheme, hasher, cache
        ),
        providers=providers,
        sequencer=Sequencer(store.transparency, keys, clock, head_every_entries=settings.tree_head_every_entries,
                            head_every_seconds=settings.tree_head_every_seconds),
        audit_proofs=AuditProofs(store.transparency),
        auditor=LogAuditor(store.transparency, keys.jwks),
    )


def settings_for_data_dir(data_dir: Path, **overrides) -> Settings:
    """Settings for a self-contained folder (the demo): SQLite inside it unless a store is given."""
    overrides.setdefault("store_url", f"sqlite:///{data_dir / 'crossroads.sqlite3'}")
    return Settings(data_dir=data_dir, **overrides)
