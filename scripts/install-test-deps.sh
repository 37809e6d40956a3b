#!/usr/bin/env bash
# Installs the servers the tests run privately (Mosquitto, influxd), the headless Chromium the
# wall's browser test drives, the network tools and the SNMP agent of the probe's tests
# (iproute2, iptables, snmpd, sipp), OpenLDAP's slapd for the accounts' tests, and makes
# sure the machine's PostgreSQL is up. Debian/Ubuntu; needs root or sudo for apt-get.
set -euo pipefail

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v influxd >/dev/null 2>&1 || need+=(influxdb)
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The probe's tests: hosts in network namespaces, loss made by iptables, sysctl inside them.
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need+=(iproute2)
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || need+=(iptables)
command -v sysctl >/dev/null 2>&1 || [ -x /usr/sbin/sysctl ] || need+=(procps)
# ...and a real SNMP agent (net-snmp's snmpd) with its command-line tools.
command -v snmpd >/dev/null 2>&1 || [ -x /usr/sbin/snmpd ] || need+=(snmpd)
command -v snmpget >/dev/null 2>&1 || need+=(snmp)
# ...and a real SIP user agent answering OPTIONS like a video-conference endpoint.
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
# A province's directory (OpenLDAP's slapd, with its password-policy overlay) for the
# accounts' tests.
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need+=(slapd)
# The ICMP bench's baseline (make bench).
command -v fping >/dev/null 2>&1 || [ -x /usr/bin/fping ] || need+=(fping)
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || need+=(python3-venv)

if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  # The packages' own services are not started here: the tests start private servers.
  $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# PostgreSQL: start the installed cluster if it is stopped (the tests use a throwaway database).
if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
echo "test servers: mosquitto $(mosquitto -h 2>/dev/null | head -n1 | awk '{print $3}' || true)," \
     "influxd $(influxd version 2>/dev/null | awk '{print $2}')," \
     "chromium $(chromium --version 2>/dev/null | awk '{print $2}')," \
     "postgresql $(pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 && echo up || echo DOWN)"
