#!/bin/sh
# Debian packages the benchmark's baselines need (`npm run bench`, scripts/bench/index.mjs):
#   amqp-tools      amqp-consume, the minimal queue-to-process runner (throughput baseline)
#   python3-celery  a Celery worker with the RabbitMQ broker (throughput baseline)
#   time            GNU time (peak RSS of short-lived processes)
# Idempotent: apt-get runs only when something is missing, `apt-get update` only then.
set -eu

PKGS="amqp-tools python3-celery time"

missing=""
for p in $PKGS; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "bench/install-deps: missing$missing and not root: install them with apt-get" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "bench/install-deps: installing$missing" >&2
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
