#!/usr/bin/env bash
# Installs the package built by build-deb.sh on this machine (as root), checks what it put
# where, runs the service's command line as the service user against its own state directory,
# then purges the package and checks that it is gone. For CI; fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { printf '!!!! package check: %s\n' "$*" >&2; exit 1; }

deb=$(ls target/debian/paylink_*_amd64.deb 2>/dev/null | head -n1)
[[ -n $deb ]] || fail "no target/debian/paylink_*_amd64.deb: run packaging/build-deb.sh"
if dpkg -s paylink >/dev/null 2>&1; then dpkg --purge paylink >/dev/null; fi
cleanup() { dpkg --purge paylink >/dev/null 2>&1 || true; }
trap cleanup EXIT

DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" || fail "dpkg -i $deb"
paylink --version | grep -q '^paylink ' || fail "paylink --version"
getent passwd paylink >/dev/null || fail "no paylink system user"
[[ $(stat -c '%U:%G %a' /etc/paylink/paylink.toml) == "root:paylink 640" ]] \
    || fail "/etc/paylink/paylink.toml is $(stat -c '%U:%G %a' /etc/paylink/paylink.toml)"
[[ $(stat -c '%U %a' /var/lib/paylink) == "paylink 700" ]] || fail "/var/lib/paylink"
for f in /usr/share/man/man1/paylink.1.gz /usr/share/bash-completion/completions/paylink \
    /usr/share/zsh/vendor-completions/_paylink /usr/share/fish/vendor_completions.d/paylink.fish \
    /usr/share/doc/paylink/operations.md; do
    [[ -s $f ]] || fail "missing $f"
done
unit=$(dpkg -L paylink | grep '/paylink.service$') || fail "no systemd unit"
systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit"
grep -qx 'ProtectSystem=strict' "$unit" && grep -qx 'NoNewPrivileges=yes' "$unit" \
    || fail "the unit is not hardened"

# The unit's ExecStart, as its user, in its working directory (systemd is not PID 1 here).
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
runuser -u paylink -- sh -c "cd /var/lib/paylink && exec $exec_start --listen 127.0.0.1:$port --metrics-listen 127.0.0.1:0" >"$log" 2>&1 &
pid=$!
up=
for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
done
[[ -n $up ]] || { cat "$log"; fail "the service did not become ready"; }
runuser -u paylink -- sh -c "cd /var/lib/paylink && paylink --config /etc/paylink/paylink.toml merchant create --name Packaged --json" \
    | grep -q '"api_token"' || fail "merchant create as the service user"
runuser -u paylink -- sh -c "cd /var/lib/paylink && paylink --config /etc/paylink/paylink.toml doctor" \
    || fail "paylink doctor as the service user"
kill "$pid"; wait "$pid" || true
[[ $(stat -c '%U' /var/lib/paylink/paylink.db) == paylink ]] || fail "the database is not the service user's"

dpkg --purge paylink >/dev/null || fail "dpkg --purge"
trap - EXIT
! command -v paylink >/dev/null || fail "paylink still installed after purge"
! getent passwd paylink >/dev/null || fail "the paylink user is still there after purge"
[[ ! -e /var/lib/paylink ]] || fail "/var/lib/paylink is still there after purge"
echo "package $deb: installed, served, purged"
