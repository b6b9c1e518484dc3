#!/bin/sh
# Test bot for the reconciler's integration tests: serves GET /health on $SERVER_PORT (default 8080) with busybox
# httpd and records each start in its data dir. Behaviour is switched by env vars (baked into an image with
# `build.sh --change`) or by files in the data dir:
#   CRASH=1 / $DATA_DIR/crash               exit 3 at once (with restart policy: a crash loop)
#   FAIL_HEALTH=1 / $DATA_DIR/fail-health   run, but /health answers 404
#   START_DELAY=<seconds>                   sleep before serving
#   PRINT_SECRET=<NAME>                     print that variable's value to the log (to test redaction)
DATA_DIR=${DATA_DIR:-/data}
PORT=${SERVER_PORT:-8080}
if [ -n "$PRINT_SECRET" ]; then
    eval "echo \"loaded secret $PRINT_SECRET=\$$PRINT_SECRET\""
fi
if [ -n "$CRASH" ] || [ -f "$DATA_DIR/crash" ]; then
    echo "fatal: cannot start (crash requested)" >&2
    exit 3
fi
sleep "${START_DELAY:-0}"
echo "$(date +%s) ${APP_VERSION:-unknown} $(id -u):$(id -g)" >> "$DATA_DIR/starts.log" || {
    echo "fatal: data dir $DATA_DIR is not writable" >&2
    exit 4
}
mkdir -p /tmp/www
if [ -z "$FAIL_HEALTH" ] && [ ! -f "$DATA_DIR/fail-health" ]; then
    echo "ok ${APP_VERSION:-unknown}" > /tmp/www/health
else
    echo "health check will fail (requested)" >&2
fi
echo "serving version ${APP_VERSION:-unknown} on port $PORT"
trap 'echo "SIGTERM: shutting down"; exit 0' TERM
httpd -f -p "$PORT" -h /tmp/www &
wait $!
