#!/usr/bin/env bash
# Install Confide as systemd services, from this checkout (e.g. /opt/confide), idempotently. As root:
#   1. the system user `confide` (no login shell, home /var/lib/confide);
#   2. /etc/confide/confide.env (0640 root:confide, from deploy/systemd/confide.env; never overwritten)
#      and /var/lib/confide/{keys,checkpoints} (0700 confide);
#   3. set-up (deploy/setup.sh) with that environment: venv, PostgreSQL, RabbitMQ, roles, databases,
#      schema, broker users, keys, each password generated into /var/lib/confide/keys (then owned
#      by confide);
#   4. the units of deploy/systemd/ into /etc/systemd/system (paths rewritten to this checkout),
#      then daemon-reload and enable --now confide.target, when systemd is running.
# Re-run it after an upgrade (git pull): set-up's migrations are idempotent; then
# `systemctl restart confide.target`.
# Usage: deploy/install-systemd.sh [--skip-setup | --render-units DIR]
#   --skip-setup        steps 1, 2 and 4 only (set-up already done with this environment);
#   --render-units DIR  only write the units as they would be installed into DIR (no root needed).
# Overrides (tests, other layouts): CONFIDE_USER, CONFIDE_ETC_DIR, CONFIDE_STATE_DIR, CONFIDE_UNIT_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
log() { printf '[install] %s\n' "$*"; }

USER_NAME=${CONFIDE_USER:-confide}
ETC_DIR=${CONFIDE_ETC_DIR:-/etc/confide}
STATE_DIR=${CONFIDE_STATE_DIR:-/var/lib/confide}
UNIT_DIR=${CONFIDE_UNIT_DIR:-/etc/systemd/system}
UNITS=$(cd deploy/systemd && echo *.service *.target)

# render_units DIR: the units of deploy/systemd/ with this checkout's paths, user and directories.
render_units() {
  install -d -m 0755 "$1"
  for unit in $UNITS; do
    sed -e "s#/opt/confide#$ROOT#g" -e "s#/etc/confide#$ETC_DIR#g" -e "s#/var/lib/confide#$STATE_DIR#g" \
        -e "s#^User=confide\$#User=$USER_NAME#" -e "s#^Group=confide\$#Group=$USER_NAME#" \
        "deploy/systemd/$unit" > "$1/$unit"
    chmod 0644 "$1/$unit"
  done
}

SKIP_SETUP=""
case "${1:-}" in
  "") ;;
  --skip-setup) SKIP_SETUP=1 ;;
  --render-units)
    [ -n "${2:-}" ] || { log "ERROR: --render-units needs a directory" >&2; exit 2; }
    render_units "$2"; log "units written to $2: $UNITS"; exit 0 ;;
  *) log "ERROR: unknown option $1 (usage: deploy/install-systemd.sh [--skip-setup | --render-units DIR])" >&2
     exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  log "ERROR: installing system services needs root (a system user, /etc, /var/lib, systemd units). Run:" >&2
  if command -v sudo >/dev/null 2>&1; then
    log "    sudo $ROOT/deploy/install-systemd.sh ${1:-}" >&2
  else
    log "    su -c '$ROOT/deploy/install-systemd.sh ${1:-}'   (as root; sudo is not installed)" >&2
  fi
  exit 1
fi

NOLOGIN=$(command -v nologin || echo /usr/sbin/nologin)

# --- 1. the system user ----------------------------------------------------------
if ! getent passwd "$USER_NAME" >/dev/null; then
  log "creating system user $USER_NAME (no login shell)"
  useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home --shell "$NOLOGIN" \
    --comment "Confide services" "$USER_NAME"
fi
# The services run from this checkout: the user must be able to read it (not under /root, say).
if ! runuser -u "$USER_NAME" -- test -r "$ROOT/app/confide_app/cli.py"; then
  log "ERROR: user $USER_NAME cannot read $ROOT; put the checkout where it can (e.g. /opt/confide)" >&2
  exit 1
fi

# --- 2. configuration and state directories ---------------------------------------
install -d -m 0750 -o root -g "$USER_NAME" "$ETC_DIR"
if [ ! -f "$ETC_DIR/confide.env" ]; then
  log "writing $ETC_DIR/confide.env (edit it for HTTPS and addresses; it is kept on re-runs)"
  sed -e "s#/var/lib/confide#$STATE_DIR#g" deploy/systemd/confide.env > "$ETC_DIR/confide.env"
fi
chown root:"$USER_NAME" "$ETC_DIR/confide.env"
chmod 0640 "$ETC_DIR/confide.env"
install -d -m 0750 -o "$USER_NAME" -g "$USER_NAME" "$STATE_DIR"
install -d -m 0700 -o "$USER_NAME" -g "$USER_NAME" "$STATE_DIR/keys" "$STATE_DIR/checkpoints"

# --- 3. set-up with the installation's environment ----------------------------------
if [ -z "$SKIP_SETUP" ]; then
  log "set-up (deploy/setup.sh) with $ETC_DIR/confide.env"
  (set -a; . "$ETC_DIR/confide.env"; set +a; bash deploy/setup.sh)
fi
# Whatever set-up (as root) made in the state directory belongs to the services' user.
chown -R "$USER_NAME":"$USER_NAME" "$STATE_DIR"
chmod 0700 "$STATE_DIR/keys" "$STATE_DIR/checkpoints"

# --- 4. units ---------------------------------------------------------------------
render_units "$UNIT_DIR"
log "units installed in $UNIT_DIR: $UNITS"
if [ -d /run/systemd/system ] && [ "$UNIT_DIR" = /etc/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable confide.target $(cd deploy/systemd && echo *.service)
  systemctl restart confide.target
  log "started: systemctl status 'confide-*'; logs: journalctl -u 'confide-*' -f"
else
  log "systemd is not running here (or the units went elsewhere): nothing started. Where it runs:"
  log "    systemctl daemon-reload && systemctl enable --now confide.target $(cd deploy/systemd && echo *.service)"
fi
