#!/usr/bin/env bash
# The deploy topology on one machine without Docker: two app instances on two ports, Debian's
# nginx in front, the machine's PostgreSQL and Redis. Migrations run once, before the instances.
#   deploy/run-local.sh            start (prints the balancer's URL), Ctrl-C stops everything
# Environment: DATABASE_URL, REDIS_URL, LB_PORT (8080), PORT1 (3201), PORT2 (3202), WORKERS (2).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LB_PORT=${LB_PORT:-8080}; PORT1=${PORT1:-3201}; PORT2=${PORT2:-3202}; WORKERS=${WORKERS:-2}
export DATABASE_URL=${DATABASE_URL:-postgresql://127.0.0.1:5432/test}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export SECRET_KEY=${SECRET_KEY:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')}
export COMMONS_ENV=production COMMONS_PUBLIC_URL="http://127.0.0.1:${LB_PORT}"
export REFLEX_USE_NPM=1 REFLEX_TELEMETRY_ENABLED=false GRANIAN_WORKERS=$WORKERS
export PATH="$ROOT/.venv/bin:$PATH"
RUN_DIR=${RUN_DIR:-$(mktemp -d /tmp/commons-cluster.XXXX)}

command -v nginx >/dev/null 2>&1 || { SUDO=$([ "$(id -u)" = 0 ] || echo sudo); $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nginx >/dev/null; }
command -v nginx >/dev/null 2>&1 || NGINX=/usr/sbin/nginx
NGINX=${NGINX:-$(command -v nginx)}

pids=()
cleanup() {
  [ -f "$RUN_DIR/nginx.pid" ] && kill "$(cat "$RUN_DIR/nginx.pid")" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

(cd "$ROOT" && python -m commons_app migrate)

for n in 1 2; do
  port_var="PORT$n"; port=${!port_var}
  dir="$RUN_DIR/instance-$n"
  mkdir -p "$dir"
  # The page bundle bakes in its URLs, so each instance builds in its own copy of the project.
  tar -C "$ROOT" --exclude=.venv --exclude=.git --exclude=.web --exclude=test-artifacts -cf - . | tar -C "$dir" -xf -
  if [ -d "$ROOT/.web/node_modules" ]; then mkdir -p "$dir/.web" && cp -al "$ROOT/.web/node_modules" "$dir/.web/"; fi
  (cd "$dir" && COMMONS_PORT=$port setsid reflex run --env prod --single-port --frontend-port "$port" \
      --backend-host 127.0.0.1 >"$RUN_DIR/instance-$n.log" 2>&1) &
  pids+=($!)
done

sed -e "s#@DIR@#$RUN_DIR#g" -e "s#@PORT1@#$PORT1#g" -e "s#@PORT2@#$PORT2#g" -e "s#@LB_PORT@#$LB_PORT#g" \
  "$ROOT/deploy/nginx-local.conf.in" > "$RUN_DIR/nginx.conf"

for port in "$PORT1" "$PORT2"; do
  for _ in $(seq 1 240); do curl -fsS "http://127.0.0.1:$port/api/health" >/dev/null 2>&1 && break; sleep 1; done
done
"$NGINX" -c "$RUN_DIR/nginx.conf" -p "$RUN_DIR"
echo "The Commons is running behind nginx at http://127.0.0.1:${LB_PORT} (instances on ${PORT1}, ${PORT2}; logs in $RUN_DIR)"
wait
