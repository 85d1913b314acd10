#!/usr/bin/env bash
# Set up everything Confide needs on this machine, idempotently:
#   1. .venv with pinned dependencies and the `confide` command;
#   2. PostgreSQL and RabbitMQ reachable: running ones are used; otherwise
#      Docker Compose where an engine runs; otherwise Debian packages;
#   3. roles, databases (confide, confide_test), schema, broker topology, keys.
# Usage: deploy/setup.sh [--test | --venv | --tls | --cluster]
#   (no option)  `make run`: all of the above;
#   --test       `make test`: also Chromium (the report's browser test) and the cluster's packages
#                (the replicated stack's and the cluster tooling's tests);
#   --venv       `make test-unit`: step 1 only; starts, installs and contacts no service;
#   --cluster    `make cluster` / `make test-cluster`: step 1, then the Debian packages the one-machine
#                cluster runs (patroni, etcd-server, etcd-client, haproxy, the PostgreSQL server
#                binaries, rabbitmq-server); `confide cluster up` starts them itself on ports of its own (confide.cluster.postgres_ha),
#                so nothing is started or contacted here;
#   --tls        also a local CA and RabbitMQ server certificate (AMQP over TLS, one host):
#                prints the listener lines to add to rabbitmq.conf (RabbitMQ is not reconfigured).
# The broker is set up through its management API as CONFIDE_RABBIT_ADMIN_URI
# (default http://guest:guest@127.0.0.1:15672, development only: guest logs in from localhost).
# Runs as root or as a normal user: steps that need root (Debian packages, starting a stopped
# PostgreSQL or RabbitMQ) use sudo; with neither, set-up stops naming the command to run as root
# (deploy/privilege.sh). With PostgreSQL and RabbitMQ already running, no step needs root.
# For systemd services (a system user, /etc/confide, /var/lib/confide): deploy/install-systemd.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3.11}
. deploy/privilege.sh
MODE=${1:-}
case "$MODE" in
  ""|--test|--venv|--tls|--cluster) ;;
  *) log "ERROR: unknown option $MODE (usage: deploy/setup.sh [--test | --venv | --tls | --cluster])"; exit 2 ;;
esac

PG_HOST=127.0.0.1 PG_PORT=5432 AMQP_PORT=5672

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_port() { for _ in $(seq 1 "${3:-60}"); do port_open "$1" "$2" && return 0; sleep 1; done; return 1; }
have_docker() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

# --- 1. Python environment ---------------------------------------------------
if ! command -v "$PY" >/dev/null 2>&1; then
  if command -v python3 >/dev/null 2>&1 && python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    PY=python3
  else
    log "installing Python 3.11"; apt_install python3.11 python3.11-venv
  fi
fi
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PY" -m venv .venv || { apt_install python3.11-venv; "$PY" -m venv .venv; }
fi
STAMP=.venv/.confide-installed
SRC_HASH=$(cat requirements.lock deploy/setup.sh shared/pyproject.toml app/pyproject.toml services/*/pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$SRC_HASH" ]; then
  log "installing pinned dependencies (requirements.lock)"
  PIPLOG=.venv/pip-install.log
  pip_q() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >>"$PIPLOG" 2>&1 \
              || { log "ERROR: pip install $* failed:"; tail -n 30 "$PIPLOG" >&2; exit 1; }; }
  : > "$PIPLOG"
  pip_q -r requirements.lock
  pip_q --no-deps -e shared $(for d in services/*/; do [ -f "$d/pyproject.toml" ] && printf -- '-e %s ' "$d"; done) -e app
  .venv/bin/python -c 'import nameko, psycopg, confide_app.cli, notes.service, disclosures.service, audit.service, gateway.service, directory.service, web.dbsetup' \
    || { log "ERROR: the installed packages do not import (see $PIPLOG)"; exit 1; }
  echo "$SRC_HASH" > "$STAMP"
fi
if [ "$MODE" = "--venv" ]; then
  log "venv ready (--venv: PostgreSQL, RabbitMQ, schema and keys left alone)"
  exit 0
fi
cluster_packages() {
  # Only what is missing, so a machine that has them needs no root. (Debian's etcd-server may start
  # its own etcd on 2379 under systemd; the cluster's members use other ports and data directories.)
  missing=()
  [ -x /usr/bin/patroni ] || missing+=(patroni)
  [ -x /usr/bin/etcd ] || missing+=(etcd-server)
  command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
  [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)  # the three cluster nodes
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing the cluster's Debian packages: ${missing[*]}"; apt_install "${missing[@]}"
  fi
  log "cluster packages ready (patroni, etcd, haproxy, PostgreSQL server binaries, RabbitMQ)"
}
if [ "$MODE" = "--cluster" ]; then
  cluster_packages
  exit 0
fi

# --- 2. PostgreSQL -------------------------------------------------------------
# Starting an installed cluster needs root; without it (and without Docker) set-up says how.
PG_START_HINT=""
start_pg_local() {
  if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql/*/main >/dev/null 2>&1; then
    ver=$(ls /etc/postgresql | sort -V | tail -1)
    if ! can_root; then PG_START_HINT="pg_ctlcluster $ver main start"; return 0; fi
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || as_root pg_ctlcluster "$ver" main start || true
  fi
}
if ! port_open $PG_HOST $PG_PORT; then
  log "PostgreSQL not reachable on $PG_HOST:$PG_PORT"
  start_pg_local
  if ! wait_port $PG_HOST $PG_PORT 5; then
    if have_docker; then
      log "starting PostgreSQL with Docker Compose"; docker compose up -d postgres
    elif [ -n "$PG_START_HINT" ]; then
      need_root "$PG_START_HINT"
    else
      log "installing PostgreSQL from Debian packages"; apt_install postgresql; start_pg_local
    fi
  fi
  wait_port $PG_HOST $PG_PORT 90 || { log "ERROR: PostgreSQL did not come up on $PG_HOST:$PG_PORT"; exit 1; }
fi

# `confide backup` / `confide restore` run Debian's PostgreSQL client (pg_dump, pg_restore); the
# restore drill (tests/e2e/test_restore_drill.py) starts a throw-away server of its own with initdb.
if ! command -v pg_dump >/dev/null 2>&1 || ! command -v pg_restore >/dev/null 2>&1; then
  log "installing the PostgreSQL client (pg_dump, pg_restore) for confide backup / restore"
  apt_install postgresql-client
fi
if [ "$MODE" = "--test" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing the PostgreSQL server binaries (initdb) for the restore drill"
  apt_install postgresql
fi

# --- 3. RabbitMQ ---------------------------------------------------------------
RABBIT_START_HINT=""
start_rabbit_local() {
  command -v rabbitmq-server >/dev/null 2>&1 || return 0
  if ! can_root; then RABBIT_START_HINT="rabbitmq-server -detached"; return 0; fi
  as_root rabbitmq-server -detached 2>/dev/null || true
}
if ! port_open 127.0.0.1 $AMQP_PORT; then
  log "RabbitMQ not reachable on 127.0.0.1:$AMQP_PORT"
  start_rabbit_local
  if ! wait_port 127.0.0.1 $AMQP_PORT 20; then
    if have_docker; then
      log "starting RabbitMQ with Docker Compose"; docker compose up -d rabbitmq
    elif [ -n "$RABBIT_START_HINT" ]; then
      need_root "$RABBIT_START_HINT"
    else
      log "installing RabbitMQ from Debian packages"; apt_install rabbitmq-server; start_rabbit_local
    fi
  fi
  wait_port 127.0.0.1 $AMQP_PORT 120 || { log "ERROR: RabbitMQ did not come up on 127.0.0.1:$AMQP_PORT"; exit 1; }
fi
# The test suite gives each test its own vhost through the management API.
if ! port_open 127.0.0.1 15672; then
  if command -v rabbitmq-plugins >/dev/null 2>&1; then
    log "enabling the RabbitMQ management plugin"
    as_root rabbitmq-plugins enable rabbitmq_management >/dev/null
  fi
  wait_port 127.0.0.1 15672 60 || { log "ERROR: RabbitMQ management API not reachable on 127.0.0.1:15672"; exit 1; }
fi

# --- 4. Database, schema, broker topology, keys --------------------------------
# Set-up needs a PostgreSQL superuser. A fresh Debian cluster admits `postgres`
# only over the local socket (peer auth); then, as `postgres` (root, or sudo), we create a
# dedicated superuser `confide_admin` with a random password and keep its DSN in
# ~/.local/share/confide/admin.dsn (0600), which confide.config.admin_dsn() reads
# (tests included). The `postgres` role itself is left untouched.
ADMIN_FILE="${XDG_DATA_HOME:-$HOME/.local/share}/confide/admin.dsn"
admin_ok() { .venv/bin/python -c 'import psycopg, confide.config as c; psycopg.connect(c.admin_dsn(), connect_timeout=3).close()' >/dev/null 2>&1; }
if ! admin_ok; then
  if ! can_root && [ -z "${CONFIDE_ADMIN_DSN:-}" ]; then
    log "ERROR: no PostgreSQL superuser login over TCP, and no root or sudo to make one. Either set" >&2
    log "    CONFIDE_ADMIN_DSN=postgresql://USER:PASSWORD@127.0.0.1:5432/postgres (a superuser), or, as root:" >&2
    log "    runuser -u postgres -- psql -c \"CREATE ROLE confide_admin SUPERUSER LOGIN PASSWORD 'CHOOSE-ONE'\"" >&2
    log "then: CONFIDE_ADMIN_DSN=postgresql://confide_admin:CHOOSE-ONE@127.0.0.1:5432/postgres deploy/setup.sh" >&2
    exit 1
  fi
  if can_root && id postgres >/dev/null 2>&1; then
    log "the superuser cannot log in over TCP; creating role confide_admin (DSN kept in $ADMIN_FILE)"
    secret=$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(16))')
    as_postgres psql -qv ON_ERROR_STOP=1 -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'confide_admin') THEN
        CREATE ROLE confide_admin SUPERUSER LOGIN; END IF; END \$\$;" \
      -c "ALTER ROLE confide_admin PASSWORD '$secret'" >/dev/null
    mkdir -p "$(dirname "$ADMIN_FILE")"
    (umask 077; echo "postgresql://confide_admin:$secret@127.0.0.1:5432/postgres" > "$ADMIN_FILE")
  fi
  admin_ok || { log "ERROR: no PostgreSQL superuser login; set CONFIDE_ADMIN_DSN (e.g. postgresql://postgres:PASSWORD@127.0.0.1:5432/postgres)"; exit 1; }
fi
log "installing roles, databases and schema"
.venv/bin/confide db install                     # the database named by CONFIDE_DB_DSN (default confide)
.venv/bin/confide db install --database confide_test
# Broker: vhost `confide`, one user per service and client (notes, disclosures, audit,
# gateway, directory, web, cli) with least-privilege and topic permissions; passwords
# generated once into <key_dir>/broker/<user>.secret (0600, kept on re-runs; rotate with
# `confide broker declare --rotate USER`); guest and the admin get no access to the vhost;
# then exchanges and queues, declared as `audit`.
log "setting up the RabbitMQ vhost, users and permissions; declaring exchanges and queues"
.venv/bin/confide broker declare
if [ "$MODE" = "--tls" ]; then
  log "making the broker's local CA and server certificate"
  .venv/bin/confide broker tls-init
fi
.venv/bin/confide keys init >/dev/null

# --- 4b. The web front door's database (services/web) -----------------------
# Its own role and databases (confide_web; --test also confide_web_test), never the event store's:
# the role's password and the Django secret key are generated here and kept in the key directory
# (web-db.secret, web-secret-key, 0600); then the migrations run.
setup_web() {
  log "web: role confide_web, database(s) and migrations"
  if [ "$MODE" = "--test" ]; then .venv/bin/python -m web.dbsetup --test; else .venv/bin/python -m web.dbsetup; fi
}
setup_web

# The test suite checks the systemd units (deploy/systemd/) with systemd-analyze verify.
if [ "$MODE" = "--test" ] && ! command -v systemd-analyze >/dev/null 2>&1; then
  log "installing systemd (Debian package) for systemd-analyze, which checks the units"; apt_install systemd
fi
# The test suite runs `confide run --replicas 2` (HAProxy in front of the gateway and web) and checks
# the cluster tooling's generated configuration (Patroni, etcd): the cluster's packages, not its run.
if [ "$MODE" = "--test" ]; then
  cluster_packages
fi
# The test suite opens the auditor's HTML report in headless Chromium.
if [ "$MODE" = "--test" ] && ! command -v chromium >/dev/null 2>&1; then
  log "installing chromium (Debian package) for the report's browser test"; apt_install chromium
fi
log "ready"
