#!/usr/bin/env bash
# The deploy topology on one machine without Docker: two app instances on two ports, Debian's
# nginx in front, the machine's PostgreSQL and Redis; the same as deploy/compose.yaml. Migrations
# run once, before the instances; the page bundle is built once and nginx serves it (see
# deploy/nginx-site.conf for why); the instances run the backend only (API and websocket).
#
#   deploy/run-local.sh     start; prints "READY <balancer URL>" once everything answers through
#                           nginx, then runs until Ctrl-C / SIGTERM, which stop both instances'
#                           process groups and nginx. Exits non-zero when a part dies or fails to start.
#
# A job worker (python -m commons_app worker: outbox sends, polls closing on time, periodic jobs)
# runs beside the instances, which only enqueue jobs (JOBS_IN_APP=0); its log: $RUN_DIR/worker.log.
#
# Environment: DATABASE_URL, REDIS_URL, SMTP_URL and MAIL_FROM (unset: mails stay in the outbox), LB_PORT (8080), PORT1 (3201), PORT2 (3202), WORKERS (2 per
# instance), RUN_DIR (a new /tmp/commons-cluster.XXXX: project copies, logs, nginx files),
# START_TIMEOUT (600 s for the build, and again for the instances), SECRET_KEY (a random one by default),
# METRICS_TOKEN (a random one by default, kept in $RUN_DIR/metrics-token): nginx does not forward
# /metrics; scrape each instance's port with "Authorization: Bearer <token>".
# Logs: $RUN_DIR/migrate.log, build.log, instance-N.log (pid of its process group: instance-N.pid),
# nginx-access.log (with the upstream that answered), nginx-error.log. Each answer that nginx
# proxied carries X-Upstream (the instance's address).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LB_PORT=${LB_PORT:-8080}; PORT1=${PORT1:-3201}; PORT2=${PORT2:-3202}; WORKERS=${WORKERS:-2}
START_TIMEOUT=${START_TIMEOUT:-600}
export DATABASE_URL=${DATABASE_URL:-postgresql://127.0.0.1:5432/test}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export SECRET_KEY=${SECRET_KEY:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')}
export COMMONS_ENV=production COMMONS_PUBLIC_URL="http://127.0.0.1:${LB_PORT}"
# nginx is the instances' only peer: the client's address is the one it adds to X-Forwarded-For.
export TRUSTED_PROXIES=${TRUSTED_PROXIES:-127.0.0.1}
export REFLEX_USE_NPM=1 REFLEX_TELEMETRY_ENABLED=false GRANIAN_WORKERS=$WORKERS PYTHONUNBUFFERED=1
# The job worker started below runs the jobs; the instances only enqueue them.
export JOBS_IN_APP=0
# Reflex's Redis client pools without a bound by default; bench/fanout.py saw one instance reach
# the Redis server's 10,000 clients. A bounded pool per worker waits instead.
export REFLEX_REDIS_MAX_CONNECTIONS=${REFLEX_REDIS_MAX_CONNECTIONS:-100} REFLEX_REDIS_POOL_TIMEOUT=${REFLEX_REDIS_POOL_TIMEOUT:-5}
export PATH="$ROOT/.venv/bin:$PATH:/usr/sbin:/sbin"
RUN_DIR=${RUN_DIR:-$(mktemp -d /tmp/commons-cluster.XXXX)}
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
# The instances' /metrics token; written down (owner only) so that the operator can scrape them.
export METRICS_TOKEN=${METRICS_TOKEN:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')}
(umask 077 && printf '%s\n' "$METRICS_TOKEN" >"$RUN_DIR/metrics-token")

log() { echo "run-local: $*" >&2; }

if ! command -v nginx >/dev/null 2>&1; then
  log "installing Debian's nginx"
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nginx >/dev/null
fi
NGINX=$(command -v nginx)

# nginx's pages and temporary files: its workers (an unprivileged user when nginx starts as
# root) must be able to reach them, and RUN_DIR may sit in a private directory.
NGINX_DIR=$(mktemp -d /tmp/commons-nginx.XXXX)
chmod 755 "$NGINX_DIR"

instance_pids=(); nginx_pid=""; build_pid=""; worker_pid=""
stop_group() {  # TERM a process group, KILL it after 15 s
  local pgid=$1
  kill -TERM -- "-$pgid" 2>/dev/null || return 0
  for _ in $(seq 1 150); do kill -0 -- "-$pgid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$pgid" 2>/dev/null || true
}
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$nginx_pid" ]; then
    kill -TERM "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
  fi
  for pid in $build_pid $worker_pid "${instance_pids[@]}"; do stop_group "$pid"; done
  wait 2>/dev/null || true
  rm -rf "$NGINX_DIR"
  log "stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. Migrations: once, here, before any instance starts (the app never migrates by itself).
log "migrating the database"
(cd "$ROOT" && python -m commons_app migrate) >"$RUN_DIR/migrate.log" 2>&1 || { cat "$RUN_DIR/migrate.log" >&2; exit 1; }
log "migrated"

copy_project() {  # the app's sources, without the checkout's build, databases and caches
  mkdir -p "$1"
  tar -C "$ROOT" --exclude=./.venv --exclude=./.git --exclude=./.web --exclude=./.states \
      --exclude=./test-artifacts --exclude=./.ruff_cache --exclude=./.pytest_cache --exclude=./.hypothesis \
      --exclude=./.commons-secret --exclude='*.db' --exclude='*.db-*' --exclude=__pycache__ -cf - . \
    | tar -C "$1" -xf -
}

# 2. The page bundle, built once (as the Dockerfile does) and served by nginx. It bakes in the
# public URL, the balancer's, for the websocket. The build hardlinks the checkout's
# .web/node_modules when there is one.
log "building the page bundle"
copy_project "$RUN_DIR/frontend"
if [ -d "$ROOT/.web/node_modules" ]; then
  mkdir -p "$RUN_DIR/frontend/.web" && cp -al "$ROOT/.web/node_modules" "$RUN_DIR/frontend/.web/"
fi
# In the background (a TERM is handled at once), in its own process group (stopped as a whole).
(cd "$RUN_DIR/frontend" && exec setsid reflex export --frontend-only --no-zip --env prod) </dev/null >"$RUN_DIR/build.log" 2>&1 &
build_pid=$!
echo "$build_pid" >"$RUN_DIR/build.pid"
deadline=$((SECONDS + START_TIMEOUT))
while kill -0 "$build_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.5; done
if kill -0 "$build_pid" 2>/dev/null; then log "the build takes more than ${START_TIMEOUT}s"; exit 1; fi
wait "$build_pid" || { log "the build failed:"; tail -n 40 "$RUN_DIR/build.log" >&2; exit 1; }
build_pid=""
[ -f "$RUN_DIR/frontend/.web/build/client/index.html" ] || { log "the build made no index.html"; exit 1; }
# nginx's workers (an unprivileged user when nginx starts as root) read the pages from its own directory.
STATIC="$NGINX_DIR/static"
cp -R "$RUN_DIR/frontend/.web/build/client" "$STATIC"
chmod -R a+rX "$STATIC"
log "built"

# 3. The instances: the backend only (API, websocket), each in its own copy of the sources.
for n in 1 2; do
  port_var="PORT$n"; port=${!port_var}
  dir="$RUN_DIR/instance-$n"
  copy_project "$dir"
  mkdir -p "$dir/prometheus"
  # exec setsid: the instance leads its own process group (reflex, granian and its workers),
  # whose id is the pid recorded here, so that it can be stopped as a whole.
  (cd "$dir" && COMMONS_PORT=$port PROMETHEUS_MULTIPROC_DIR="$dir/prometheus" exec setsid reflex run --env prod \
      --backend-only --backend-port "$port" --backend-host 127.0.0.1 </dev/null >"$RUN_DIR/instance-$n.log" 2>&1) &
  instance_pids+=($!)
  echo "$!" >"$RUN_DIR/instance-$n.pid"
  log "instance $n (pid $!) starting on port $port; log: $RUN_DIR/instance-$n.log"
done

# The job worker, in its own process group (stopped as a whole), from the checkout.
(cd "$ROOT" && exec setsid python -m commons_app worker </dev/null >"$RUN_DIR/worker.log" 2>&1) &
worker_pid=$!
echo "$worker_pid" >"$RUN_DIR/worker.pid"
log "job worker (pid $worker_pid) started; log: $RUN_DIR/worker.log"

sed -e "s#@DIR@#$RUN_DIR#g" -e "s#@TMP@#$NGINX_DIR#g" -e "s#@STATIC@#$STATIC#g" -e "s#@SITE@#$ROOT/deploy/nginx-site.conf#g" \
    -e "s#@PORT1@#$PORT1#g" -e "s#@PORT2@#$PORT2#g" -e "s#@LB_PORT@#$LB_PORT#g" \
    "$ROOT/deploy/nginx-local.conf.in" >"$RUN_DIR/nginx.conf"
"$NGINX" -t -q -c "$RUN_DIR/nginx.conf" -p "$RUN_DIR" -e "$RUN_DIR/nginx-error.log"

answers() { curl -fsS -o /dev/null --max-time 5 "$1" 2>/dev/null; }
deadline=$((SECONDS + START_TIMEOUT))
for n in 1 2; do
  port_var="PORT$n"; port=${!port_var}
  until answers "http://127.0.0.1:$port/api/health"; do
    if ! kill -0 "${instance_pids[$((n - 1))]}" 2>/dev/null; then
      log "instance $n exited while starting:"; tail -n 40 "$RUN_DIR/instance-$n.log" >&2; exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "instance $n not ready after ${START_TIMEOUT}s:"; tail -n 40 "$RUN_DIR/instance-$n.log" >&2; exit 1
    fi
    sleep 0.5
  done
  log "instance $n ready on port $port"
done

# 4. The balancer, in the foreground of its own child process (daemon off), so that it is stopped with us.
"$NGINX" -c "$RUN_DIR/nginx.conf" -p "$RUN_DIR" -e "$RUN_DIR/nginx-error.log" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 1 100); do answers "http://127.0.0.1:$LB_PORT/api/health" && break; sleep 0.1; done
answers "http://127.0.0.1:$LB_PORT/api/health" && answers "http://127.0.0.1:$LB_PORT/" \
  || { log "nginx does not answer:"; cat "$RUN_DIR/nginx-error.log" >&2; exit 1; }

kill -0 "$worker_pid" 2>/dev/null || { log "the job worker exited:"; tail -n 40 "$RUN_DIR/worker.log" >&2; exit 1; }
echo "The Commons is running behind nginx at http://127.0.0.1:${LB_PORT} (instances on ${PORT1}, ${PORT2}, a job worker; logs in $RUN_DIR)"
echo "READY http://127.0.0.1:${LB_PORT}"

# Until a signal, or until any part exits (then stop the rest and fail).
set +e
wait -n
status=$?
log "a process of the cluster exited (status $status); stopping the rest"
exit 1
