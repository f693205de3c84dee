# Shared helpers for the scripts in this folder. Source it; do not run it.
# shellcheck shell=bash

GOVMOBILE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${GOVMOBILE_VENV:-$GOVMOBILE_ROOT/.venv}
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'govmobile: %s\n' "$*" >&2; exit 1; }

need_root() {
  [[ $(id -u) -eq 0 ]] || die "this step installs system packages; run it as root (or with sudo)"
}

# apt_install PKG...: install Debian packages that are missing, quietly, once.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  need_root
  say "installing Debian packages: ${missing[*]}"
  if [[ ! -f /var/lib/apt/periodic/govmobile-updated ]] || [[ -n $(find /var/lib/apt/lists -maxdepth 0 -mmin +360) ]]; then
    apt-get update -qq
    mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/govmobile-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_venv: the controller's virtual environment, from the hashed locks.
ensure_venv() {
  local stamp="$VENV/.govmobile-lock"
  local want
  want=$(cd "$GOVMOBILE_ROOT" && cat requirements/dev.txt services/pyproject.toml \
    client/pyproject.toml console/pyproject.toml device/pyproject.toml demo/office/pyproject.toml | sha256sum | cut -d' ' -f1)
  if [[ -x $VENV/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
    return 0
  fi
  apt_install python3-venv
  say "creating the controller virtual environment in $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --require-hashes -r "$GOVMOBILE_ROOT/requirements/dev.txt"
  # The server package, the device agent and the demo intranet app, as editable installs; then
  # the admin client and govmobile-admin. Apart, because the server package shipped the
  # govmobile-admin script before: replacing an old install of it removes that script, and
  # must do so before the client writes its own.
  "$VENV/bin/pip" install -q --no-deps -e "$GOVMOBILE_ROOT/services" -e "$GOVMOBILE_ROOT/device" \
    -e "$GOVMOBILE_ROOT/demo/office"
  "$VENV/bin/pip" install -q --no-deps -e "$GOVMOBILE_ROOT/client"
  "$VENV/bin/pip" install -q --no-deps -e "$GOVMOBILE_ROOT/console"
  echo "$want" >"$stamp"
}
