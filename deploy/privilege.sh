# Privileged steps of set-up (sourced by deploy/setup.sh; bash).
#
# Set-up runs as root, or as a normal user: a step that needs root (installing a Debian package,
# starting a stopped PostgreSQL or RabbitMQ) goes through sudo when it is installed; with neither,
# set-up stops there, printing the exact command to run as root, and exits 1. Steps that need no
# root (services already running) never ask for it.

log() { printf '[setup] %s\n' "$*"; }

is_root() { [ "$(id -u)" -eq 0 ]; }
have_sudo() { command -v sudo >/dev/null 2>&1; }
# True when a privileged step can run: as root, or through sudo.
can_root() { is_root || have_sudo; }

# need_root COMMAND...: stop set-up, naming the command to run as root. Exits 1.
need_root() {
  log "ERROR: the next step needs root, and this is user $(id -un) without sudo. As root, run:" >&2
  log "    $*" >&2
  log "then run deploy/setup.sh again as $(id -un). (Or install sudo as root: apt-get install sudo;" >&2
  log "usermod -aG sudo $(id -un); and log in again.)" >&2
  exit 1
}

# as_root COMMAND...: run COMMAND as root (directly, or through sudo), or stop with need_root.
as_root() {
  if is_root; then "$@"
  elif have_sudo; then sudo "$@"
  else need_root "$@"
  fi
}

# as_postgres COMMAND...: run COMMAND as the PostgreSQL system user `postgres`.
as_postgres() {
  if is_root; then runuser -u postgres -- "$@"
  elif have_sudo; then sudo -u postgres "$@"
  else need_root runuser -u postgres -- "$@"
  fi
}

# apt_install PACKAGE...: Debian packages, through as_root (named exactly in the hint without root).
apt_install() {
  can_root || need_root "apt-get update && apt-get install -y $*"
  if [ -z "${APT_UPDATED:-}" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
