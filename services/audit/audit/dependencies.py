"""The audit service's writers, as its own database login (``confide_projector``, config key
``PROJECTOR_DSN``): the Relay (seal, project the page, then publish, one pass per timer tick) and
the Projector (the audit projections' live path for what the relay did not apply here). The service's reads and its identity gate use the services' login
(``DB_DSN``), which can write none of this."""
from __future__ import annotations

import logging
from pathlib import Path

from nameko.extensions import DependencyProvider

from confide import config
from confide.broker import ConfirmingPublisher
from confide.eventstore.chain import ChainSealer, load_chain_key
from confide.eventstore.store import PostgresEventStore
from confide.identity.provider import Identity
from confide.keys import ensure_keys, load_signing_key
from confide.providers import key_dir_of
from confide.relay import OutboxRelay

log = logging.getLogger(__name__)


#: The lease under which one instance of the audit service seals and relays (the others stand by).
SEALER_RELAY_LEASE = "sealer-relay"


class PageProjector:
    """The relay's projection step (``OutboxRelay.before_publish``): applies the page just read to
    the audit projections in one transaction, before it is published, and keeps the watermark the
    consumer in this process skips by.

    The watermark is a contiguous range of global positions ``[low, high]`` this process's relay has
    applied and *committed* (every event the log holds between them: the relay reads pages with no
    gap below its frontier). It only grows when a page starting at or before ``high + 1`` committed;
    a page that starts further on (the checkpoint moved by another instance, or a page whose apply
    failed in between) starts a new range. A page is uncovered from its first position on before its
    apply starts, and stays so if the apply fails, so an event that was not applied here is never
    skipped: the consumer applies it from the broker, as before. It is emptied when the lease is lost.

    ``lock_timeout_ms``: how long the page's transaction waits for a lock (``confide audit replay
    --apply`` holds the tables; a consumer writing the same position) before it gives up, leaving
    the page to the consumer, which waits as it always did."""

    LOCK_TIMEOUT_MS = 500

    def __init__(self, projections, lock_timeout_ms: int | None = LOCK_TIMEOUT_MS):
        self.projections = projections
        self.lock_timeout_ms = lock_timeout_ms
        self._low, self._high = 1, 0  # empty

    def __call__(self, from_position: int, events, messages) -> None:
        from audit.replay import apply_page

        if not messages:
            return
        last = messages[-1]["global_position"]
        # From here until this page commits, nothing at or after its start counts as applied here: a
        # page read again (after a failed publish, or a log restored to an earlier point) is only
        # covered once this apply has committed, and a failed one leaves it uncovered.
        if from_position <= self._high:
            self._high = from_position - 1
        apply_page(self.projections, messages, lock_timeout_ms=self.lock_timeout_ms)  # raises: not applied
        if self._low <= from_position <= self._high + 1:
            self._high = max(self._high, last)
        else:
            self._low, self._high = from_position, last

    def applied(self, position) -> bool:
        """True when the event at ``position`` (an int) is in this process's committed watermark."""
        return (isinstance(position, int) and not isinstance(position, bool)
                and self._low <= position <= self._high)

    def forget(self) -> None:
        """Empty the watermark (the lease was lost: another instance relays, and applies, from here)."""
        self._low, self._high = 1, 0

    @property
    def watermark(self) -> tuple[int, int] | None:
        """(low, high) of the committed range, or None while empty."""
        return (self._low, self._high) if self._low <= self._high else None


class RelayWorker:
    """Holds the sealer and the relay; ``run_once`` is safe to call concurrently (it serialises).
    With ``project`` (the default) the relay applies each page to the audit projections before it
    publishes it (:class:`PageProjector`); ``projected(position)`` tells the consumer what it may skip.

    ``lease`` (an :class:`~confide.eventstore.lease.AdvisoryLease`, or None for a lone instance):
    with several instances of the audit service, only the lease's holder seals and relays; the
    lease is verified before the pass and before each page relayed, and a standby instance takes
    it over at its next tick once the holder's database session ends (its process died)."""

    def __init__(self, store, amqp_uri: str, key_dir: Path, checkpoint_dir: Path, lease=None,
                 project: bool = True):
        import eventlet.semaphore

        ensure_keys(key_dir)
        self.lease = lease
        self.sealer = ChainSealer(store, load_chain_key(key_dir), load_signing_key(key_dir), checkpoint_dir)
        self.publisher = ConfirmingPublisher(amqp_uri)
        self.projector = PageProjector(store.projections) if project else None
        self.relay = OutboxRelay(store, self.publisher, guard=self._holding, before_publish=self.projector)
        self._lock = eventlet.semaphore.Semaphore()
        #: Why the last pass stopped (the error's type), or None once a pass completes: the audit
        #: service's health reports it, so a relay stuck on an event it cannot publish is seen.
        self.halted: str | None = None

    def _holding(self) -> bool:
        held = self.lease is None or self.lease.hold()
        if not held and self.projector is not None:
            self.projector.forget()  # only the lease holder's own consumer skips by its watermark
        return held

    def run_once(self) -> tuple[int, int]:
        if not self._lock.acquire(blocking=False):
            return 0, 0
        try:
            if not self._holding():
                return 0, 0  # another instance holds the lease: it seals and relays
            sealed = self.sealer.seal()
            result = sealed.sealed, self.relay.relay()
            self.halted = None
            return result
        except Exception as exc:
            # Sealing and relaying stop here until someone acts: say so on every tick, loudly
            # (ids and positions only, never event data), and in the service's health.
            self.halted = type(exc).__name__
            log.error("sealing/relaying halted: %s: %s", type(exc).__name__, exc)
            raise
        finally:
            self._lock.release()

    def projected(self, position) -> bool:
        """True when this process's relay has already applied (and committed) the projections of
        the event at global ``position``: the consumer acks it without touching the database."""
        return self.projector is not None and self.projector.applied(position)

    def close(self):
        if self.lease is not None:
            self.lease.release()
        self.publisher.close()


PROJECTOR_DSN_KEY = "PROJECTOR_DSN"


def projector_store(cfg, pool_size: int) -> PostgresEventStore:
    """A store on the projector's login: ``PROJECTOR_DSN`` from the container config, else
    :func:`confide.config.projector_dsn` (RuntimeError when its password file is missing)."""
    return PostgresEventStore(cfg.get(PROJECTOR_DSN_KEY) or config.projector_dsn(),
                              schema=cfg.get("DB_SCHEMA") or config.db_schema(), pool_size=pool_size)


class Relay(DependencyProvider):
    """Config keys: AMQP_URI, PROJECTOR_DSN, DB_SCHEMA, KEY_DIR, CHECKPOINT_DIR; the lease's holder
    is named by ``CONFIDE_INSTANCE`` (``confide run`` sets it per replica)."""

    def setup(self):
        import os

        from confide.eventstore.lease import AdvisoryLease

        cfg = self.container.config
        self.store = projector_store(cfg, pool_size=3)
        dsn = cfg.get(PROJECTOR_DSN_KEY) or config.projector_dsn()
        lease = AdvisoryLease(dsn, self.store.schema, SEALER_RELAY_LEASE,
                              identity=os.environ.get(config.INSTANCE_KEY) or f"audit pid {os.getpid()}")
        self.worker = RelayWorker(
            self.store, cfg["AMQP_URI"], Path(cfg.get("KEY_DIR") or config.key_dir()),
            Path(cfg.get("CHECKPOINT_DIR") or config.checkpoint_dir()), lease=lease)

    def stop(self):
        self.worker.close()
        self.store.close()

    kill = stop

    def get_dependency(self, worker_ctx):
        return self.worker


class Projector(DependencyProvider):
    """The audit projections' writer (``apply_rows``), as the projector's login. Injects the
    :class:`~confide.eventstore.interfaces.ProjectionStore`. Config keys: PROJECTOR_DSN, DB_SCHEMA."""

    def setup(self):
        from confide.green import use_green_wait

        use_green_wait()
        self.store = projector_store(self.container.config, pool_size=4)

    def stop(self):
        self.store.close()

    kill = stop

    def get_dependency(self, worker_ctx):
        return self.store.projections


class AuditIdentity(Identity):
    """The identity gate of the audit service, which makes any missing installation key at start
    (as :class:`RelayWorker` does) *before* the gate reads the keys it trusts: nameko sets up a
    container's dependencies in no fixed order, and a gate that read an empty key directory would
    refuse every caller (the gateway's ``health`` call included) until restarted. Keys that
    set-up (``confide keys init``) made are left as they are."""

    def setup(self):
        ensure_keys(key_dir_of(self.container.config))
        super().setup()


class Integrity(DependencyProvider):
    """What checking the log needs: the key and checkpoint directories, one lock so only one verify
    or re-judging runs at a time in this container, and where the last verify result is kept
    (``<checkpoint_dir>/last-verify.json``: counts, OK or where it failed; nothing about patients).

    Config keys: KEY_DIR, CHECKPOINT_DIR (defaults from :mod:`confide.config`)."""

    LAST_VERIFY_FILE = "last-verify.json"

    def setup(self):
        import eventlet.semaphore

        cfg = self.container.config
        self.key_dir = key_dir_of(cfg)
        self.checkpoint_dir = Path(cfg.get("CHECKPOINT_DIR") or config.checkpoint_dir())
        self.lock = eventlet.semaphore.Semaphore()
        self.last_rejudge: dict | None = None

    def save_last_verify(self, result: dict) -> None:
        import json
        import os

        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        path = self.checkpoint_dir / self.LAST_VERIFY_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)

    def last_verify(self) -> dict | None:
        import json

        path = self.checkpoint_dir / self.LAST_VERIFY_FILE
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def get_dependency(self, worker_ctx):
        return self
