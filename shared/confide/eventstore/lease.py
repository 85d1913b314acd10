"""A lease on singleton work: a PostgreSQL session advisory lock held on a connection of its own.

Several instances of the audit service run side by side; only one of them may seal the chain and
relay the log to RabbitMQ at a time (two relays would each publish the same events and race to
move one checkpoint, which refuses to go back). :class:`AdvisoryLease` makes that one instance the
*holder*:

- ``hold()`` before each batch of work: when this instance holds the lease it checks, on the
  lease's own connection, that the lock is still granted to that session (``pg_locks``); when it
  does not, it tries to take it (``pg_try_advisory_lock``, never waiting). True: go on; False: do
  nothing this time.
- The lock belongs to the PostgreSQL session, so it is released when that session ends, whatever
  ends it: the holder's process killed (the kernel closes its socket; the server ends the session
  at once), the holder's host gone (the server's TCP keepalives, set on the session to
  ``KEEPALIVE_IDLE + KEEPALIVE_INTERVAL * KEEPALIVE_COUNT`` seconds), a database restart or
  failover (every session ends). Another instance then takes it at its next ``hold()``.
- A holder whose connection broke learns it at its next ``hold()`` (the check fails), drops the
  connection and counts as not holding: it never works on in the belief it still holds the lease.

Takeover time after the holder dies: the standby's polling interval (the audit service calls
``hold()`` every 0.5 s) plus the server noticing the session ended (immediate for a killed
process; up to 11 s for a vanished host). A holder that hangs without dying keeps the lease (its
session lives): that is the price of a lock with no expiry, and why the holder checks before each
batch rather than once.

Any login on the database may take any advisory lock: a session of another login (the services'
login, which every service holds) that takes this key first keeps the lease from every instance for
as long as its session lives, and sealing and relaying stop. It cannot be refused here, so it is made
visible: when the lease is not taken, ``hold()`` looks at who holds it (``pg_locks``,
``pg_stat_activity``: no privilege needed) and a holder of another login than this lease's is
:attr:`AdvisoryLease.usurper` (login and backend pid; logged as an error, reported by the audit
service's ``health`` and the gateway's GET /health). The README says how to clear it
(``pg_terminate_backend`` of that pid as the database owner).

The lock key is ``(LEASE_CLASS, hashtext(<schema>:<name>))``, so two schemas of one database (tests)
and two kinds of singleton work have leases of their own. It is not the sealer's own per-call lock
(:mod:`confide.eventstore.chain`), which stays: ``confide audit seal`` run by hand takes that one.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import psycopg

log = logging.getLogger(__name__)

#: The first key of every lease's advisory lock (the second is the hash of schema and lease name).
LEASE_CLASS = 72405121
#: Server-side TCP keepalives of the lease's session (seconds, seconds, probes): a holder whose host
#: vanished without closing its connection loses the lease after about 5 + 2 * 3 = 11 s.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 5, 2, 3
CONNECT_TIMEOUT = 5


class AdvisoryLease:
    """The lease ``name`` on ``schema`` of the database at ``dsn`` (see the module docstring).

    ``identity``: who this instance is (logged when it takes or loses the lease; no secret).
    ``connect``: how a connection is made (tests pass a wrapper). Not thread-safe: one green thread
    of one instance calls it (the audit service's timer runs one tick at a time)."""

    def __init__(self, dsn: str, schema: str, name: str, identity: str = "",
                 connect: Callable[..., psycopg.Connection] = psycopg.connect,
                 clock: Callable[[], float] = time.monotonic):
        self.dsn, self.schema, self.name, self.identity = dsn, schema, name, identity or name
        self._connect = connect
        self._clock = clock
        self._conn: psycopg.Connection | None = None
        self.held_since: float | None = None
        #: The session holding the lease under another login than this one's ({"login", "pid"}), as
        #: last seen by ``hold()``; None when free, held by this login's instances, or not looked at.
        self.usurper: dict | None = None

    @property
    def key(self) -> str:
        """The text hashed into the lock's second key."""
        return f"{self.schema}:{self.name}"

    @property
    def held(self) -> bool:
        """Whether this instance held the lease at its last ``hold()`` (no round trip)."""
        return self.held_since is not None

    def hold(self) -> bool:
        """True when this instance holds the lease now (verified on its connection, or just taken);
        False when another instance holds it or the database cannot be reached. Never raises for a
        database error: the lease is then lost (logged) and False returned."""
        try:
            if self.held_since is not None:
                if self._still_granted():
                    return True
                self._lose("the lock is no longer granted to this session")
            return self._try_take()
        except psycopg.Error as exc:
            if self.held_since is not None:
                self._lose(f"its connection failed ({type(exc).__name__})")
            self._drop()
            return False

    def release(self) -> None:
        """Give the lease up (on stop): unlock and close the lease's connection. Never raises."""
        if self._conn is not None and self.held_since is not None:
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (LEASE_CLASS, self.key))
            except psycopg.Error:
                pass
            log.info("lease %s released by %s", self.key, self.identity)
        self.held_since = None
        self._drop()

    close = release

    # -- inside ------------------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = self._connect(self.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                                 application_name=f"confide-lease {self.identity}"[:63])
            try:
                # Server-side keepalives: a holder's vanished host ends its session (and the lock).
                for setting, value in (("tcp_keepalives_idle", KEEPALIVE_IDLE),
                                       ("tcp_keepalives_interval", KEEPALIVE_INTERVAL),
                                       ("tcp_keepalives_count", KEEPALIVE_COUNT)):
                    conn.execute(f"SET {setting} = {int(value)}")
            except psycopg.Error:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _try_take(self) -> bool:
        row = self._connection().execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                                         (LEASE_CLASS, self.key)).fetchone()
        if row and row[0]:
            self.held_since = self._clock()
            self.usurper = None
            log.info("lease %s taken by %s", self.key, self.identity)
            return True
        usurper = self._foreign_holder()
        if usurper is not None and usurper != self.usurper:
            log.error("lease %s is held by login %r (backend pid %s), not by this service's login: sealing and "
                      "relaying stop until that session ends (README: a usurped sealer lease)",
                      self.key, usurper["login"], usurper["pid"])
        self.usurper = usurper
        return False

    def _foreign_holder(self) -> dict | None:
        """The session holding the lock under another login than this connection's, or None."""
        row = self._connection().execute(
            "SELECT coalesce(a.usename, '?'), l.pid FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::int4::oid "
            "AND l.objid = hashtext(%s)::oid AND l.objsubid = 2 AND a.usename IS DISTINCT FROM current_user",
            (LEASE_CLASS, self.key)).fetchone()
        return {"login": str(row[0]), "pid": int(row[1])} if row else None

    def _still_granted(self) -> bool:
        row = self._connection().execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted "
            "AND classid = %s::int4::oid AND objid = hashtext(%s)::oid AND objsubid = 2",
            (LEASE_CLASS, self.key)).fetchone()
        return bool(row and row[0])

    def _lose(self, why: str) -> None:
        log.warning("lease %s lost by %s: %s", self.key, self.identity, why)
        self.held_since = None

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
        self._conn = None
