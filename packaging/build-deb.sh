#!/usr/bin/env bash
# Builds target/debian/paylink_<version>_amd64.deb: the release binary, /etc/paylink/paylink.toml
# (a conffile, from config/paylink.example.toml), the hardened systemd unit, shell completions
# and the man page. Installs cargo-deb when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-deb >/dev/null || cargo install --locked --quiet cargo-deb
cargo build --release --quiet -p paylink-cli
mkdir -p packaging/generated
bin=target/release/paylink
"$bin" completions bash >packaging/generated/paylink.bash
"$bin" completions zsh >packaging/generated/_paylink
"$bin" completions fish >packaging/generated/paylink.fish
"$bin" man | gzip -9n >packaging/generated/paylink.1.gz
rm -rf target/debian
cargo deb --no-build -p paylink-cli
