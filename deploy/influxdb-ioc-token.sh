#!/bin/sh
# Run once by the influxdb image after its first setup (/docker-entrypoint-initdb.d): a token
# that may read and write ioc's bucket and nothing else, written for ioc into the volume only
# influxdb and ioc mount. The all-access admin token stays with the administrators
# (secrets/influx_token); ioc never holds it.
set -eu
org="$DOCKER_INFLUXDB_INIT_ORG"
bucket_id=$(influx bucket list --org "$org" --name "$DOCKER_INFLUXDB_INIT_BUCKET" --hide-headers | cut -f1)
umask 022  # the volume is mounted by influxdb (writing) and ioc (reading, as uid 10001) only
influx auth create --org "$org" --read-bucket "$bucket_id" --write-bucket "$bucket_id" \
    --description "ioc: its bucket only" --json \
  | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p' > /ioc-token/token.new
test -s /ioc-token/token.new
mv /ioc-token/token.new /ioc-token/token
