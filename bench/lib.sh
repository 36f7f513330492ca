# shellcheck shell=bash
# Shared by the benchmark scripts in bench/ (run-auth, run-traefik): process tracking and the
# trap that stops every process a benchmark started, free loopback ports, CPU and memory
# readings from /proc, the quiet-machine wait, seeding a library, starting nginx and finch, and
# one measured wrk run. Source it after setting `bench_name` (used in messages); the functions
# read the option globals the scripts define (threads, connections, duration, warmup, quiet_wait,
# keep) and set by bench_init (repo_root, bench_dir, target_dir, work_dir, results_dir).
#
# Globals flow both ways between this file and the scripts (options in, results such as seed_s,
# finch_pid and finch_auth out), which shellcheck cannot see from this file alone.
# shellcheck disable=SC2154,SC2034

log() { printf '%s: %s\n' "$bench_name" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$bench_name" "$*" >&2
    exit 1
}

# A wrk duration (10s, 1m) in seconds, for the timeouts around wrk.
seconds_of() {
    local d=$1
    case $d in
    *m) echo $((${d%m} * 60)) ;;
    *s) echo "${d%s}" ;;
    *) echo "$d" ;;
    esac
}

# --- processes we start, stopped on any exit ------------------------------------------------
tracked_pids=()
tracked_names=()
work_dir=""

# track NAME PID: PID is stopped by stop_tracked and on exit.
track() {
    tracked_names+=("$1")
    tracked_pids+=("$2")
}

stop_pid() {
    local pid=$1 name=$2
    [[ -n $pid ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) did not stop within 10 s: killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# Stops every tracked process, the last started first, and forgets them.
stop_tracked() {
    local i
    for ((i = ${#tracked_pids[@]} - 1; i >= 0; i--)); do
        stop_pid "${tracked_pids[i]}" "${tracked_names[i]}"
    done
    tracked_pids=()
    tracked_names=()
}

bench_cleanup() {
    stop_tracked
    if [[ -n $work_dir && -d $work_dir ]]; then
        if ((keep)); then
            log "kept $work_dir"
        else
            rm -rf "$work_dir"
        fi
    fi
}

# bench_init KIND: installs the traps, runs scripts/setup, builds the release binaries (unless
# skip_build), and makes the temporary directory and bench/results/KIND-<timestamp>/.
bench_init() {
    local kind=$1
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    bench_dir="$repo_root/bench"
    target_dir=${CARGO_TARGET_DIR:-$repo_root/target}
    "$repo_root/scripts/setup"
    if ((!skip_build)); then
        log "building finch and finch-bench (release)"
        (cd "$repo_root" && cargo build --release --quiet -p finch -p finch-bench)
    fi
    finch_bin="$target_dir/release/finch"
    seed_bin="$target_dir/release/finch-bench"
    [[ -x $finch_bin && -x $seed_bin ]] ||
        die "release binaries missing in $target_dir/release (drop --skip-build)"
    work_dir=$(mktemp -d "${TMPDIR:-/tmp}/finch-bench-$kind.XXXXXX")
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    results_dir="$bench_dir/results/$kind-$stamp"
    mkdir -p "$results_dir"
    duration_s=$(seconds_of "$duration")
    warmup_s=$(seconds_of "$warmup")
    [[ $duration_s =~ ^[0-9]+$ && $warmup_s =~ ^[0-9]+$ ]] ||
        die "durations must look like 10s or 1m"
}

# bench_finish KIND: points bench/results/KIND-latest at this run's results.
bench_finish() {
    ln -sfn "$1-$stamp" "$bench_dir/results/$1-latest"
    log "results written to $results_dir (bench/results/$1-latest points there)"
}

# The machine, finch's release and commit: the report's first lines.
machine_line() {
    echo "- machine: $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
    echo "- finch: $("$finch_bin" version 2>/dev/null | sed -n 's/^Release: *//p' | head -n 1) ($(cd "$repo_root" && git rev-parse --short HEAD 2>/dev/null || echo unknown))"
}

free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# --- CPU and memory -------------------------------------------------------------------------
clk_tck=$(getconf CLK_TCK)

# CPU time (user + system, in clock ticks) summed over processes (all their threads).
cpu_ticks() {
    local total=0 pid t
    for pid in "$@"; do
        t=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
        total=$((total + t))
    done
    echo "$total"
}

# A /proc/<pid>/status value in kB (VmRSS, VmHWM) summed over processes.
status_kb() {
    local key=$1 total=0 pid v
    shift
    for pid in "$@"; do
        v=$(awk -v k="$key:" '$1 == k {print $2}' "/proc/$pid/status")
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# Busy CPU time of the whole machine (user, nice, system, irq, softirq, steal), in clock ticks.
machine_busy_ticks() {
    awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}

# TCP connections the machine has accepted so far (PassiveOpens in /proc/net/snmp).
tcp_accepted() {
    awk '$1 == "Tcp:" { if (seen) { for (i = 2; i <= NF; i++) if (name[i] == "PassiveOpens") print $i }
        else { for (i = 2; i <= NF; i++) name[i] = $i; seen = 1 } }' /proc/net/snmp
}

# CPU time of this shell's finished children (wrk, waited for through timeout), in ms, from
# the output of the `times` builtin in FILE. `times` must run in this shell, not in a $(...)
# subshell, which has no children of its own.
children_cpu_ms() {
    python3 -c '
import re, sys
lines = open(sys.argv[1]).read().splitlines()
total = 0.0
for m, s in re.findall(r"(\d+)m([\d.]+)s", lines[1]):
    total += int(m) * 60 + float(s)
print(int(total * 1000))' "$1"
}

# Waits (at most quiet_wait seconds) until the machine is idle: less than 10% of one CPU busy
# over one second, so that a build or test run elsewhere does not skew a measurement.
wait_quiet() {
    local deadline=$((SECONDS + quiet_wait)) b0 b1 warned=0
    while :; do
        b0=$(machine_busy_ticks)
        sleep 1
        b1=$(machine_busy_ticks)
        if (((b1 - b0) * 10 < clk_tck)); then return 0; fi
        if ((SECONDS >= deadline)); then
            log "  the machine is busy (other processes use CPU); measuring anyway"
            return 0
        fi
        if ((!warned)); then
            log "  waiting up to ${quiet_wait}s for other processes to leave the CPUs idle"
            warned=1
        fi
    done
}

# wait_status URL STATUS TIMEOUT_S PID NAME [CURL ARGS...]: until URL answers STATUS.
wait_status() {
    local url=$1 want=$2 timeout_s=$3 pid=$4 name=$5
    shift 5
    local deadline=$((SECONDS + timeout_s)) got
    while :; do
        got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$@" "$url" 2>/dev/null || true)
        [[ $got == "$want" ]] && return 0
        kill -0 "$pid" 2>/dev/null || die "$name exited during startup (see $results_dir)"
        ((SECONDS < deadline)) || die "$name did not answer $want to $url within ${timeout_s}s (last: $got)"
        sleep 0.1
    done
}

# --- the servers ----------------------------------------------------------------------------

# start_postgres URI_FILE: a throw-away PostgreSQL server with one empty database (`finch-bench
# postgres`), tracked like every server here; sets database_uri, which seed_agents then uses.
start_postgres() {
    local uri_file=$1 pid
    "$seed_bin" postgres --uri-out "$uri_file" &
    pid=$!
    track postgres "$pid"
    for _ in $(seq 1 600); do
        [[ -s $uri_file ]] && break
        kill -0 "$pid" 2>/dev/null || die "finch-bench postgres stopped before its server was up"
        sleep 0.1
    done
    [[ -s $uri_file ]] || die "no PostgreSQL server within 60 s"
    database_uri=$(<"$uri_file")
}

# seed_agents LIB N TOKENS: a fresh finch.json in LIB (`finch init`, on database_uri when set,
# else SQLite), N agents registered through
# `finch-bench seed` (metrics on, so /auth/mimir accepts them), one token per line in TOKENS.
# Sets seed_s to the wall time it took.
seed_agents() {
    local lib=$1 agents=$2 tokens=$3 start
    mkdir -p "$lib"
    "$finch_bin" init --stack.config-file "$lib/finch.json" \
        ${database_uri:+--stack.database "$database_uri"} >/dev/null
    log "[$agents agents] seeding the store"
    start=$(date +%s.%N)
    timeout 1800 "$seed_bin" seed --config "$lib/finch.json" --agents "$agents" \
        --tokens-out "$tokens" | tee "$results_dir/seed-$agents.txt" >&2
    seed_s=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" \
        "$start" "$(date +%s.%N)")
    [[ $(wc -l <"$tokens") -eq $agents ]] || die "expected $agents tokens in $tokens"
}

# start_nginx NAME PORT WORKERS STATUS: nginx from Debian with its own prefix under work_dir,
# answering `return STATUS;` to everything on 127.0.0.1:PORT. Sets nginx_started_pid.
start_nginx() {
    local name=$1 port=$2 workers=$3 status=$4 dir="$work_dir/$1"
    mkdir -p "$dir/tmp"
    local user_line=""
    if [[ $(id -u) -eq 0 ]]; then user_line="user $(id -un) $(id -gn);"; fi
    cat >"$dir/nginx.conf" <<NGINX
# $name: answers $status to every request, and does nothing else. Loopback, no logging.
$user_line
worker_processes $workers;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        location / { return $status; }
    }
}
NGINX
    cp "$dir/nginx.conf" "$results_dir/$name.conf"
    nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" &
    nginx_started_pid=$!
    track "$name" "$nginx_started_pid"
    wait_status "http://127.0.0.1:$port/" "$status" 15 "$nginx_started_pid" "$name"
}

# nginx_pids PID: the master and its workers.
nginx_pids() {
    echo "$1"
    pgrep -P "$1" || true
}

# start_finch LIB LOG: `finch run` on free loopback ports over LIB/finch.json, logging to LOG,
# up once /healthz answers. Sets finch_pid and finch_auth (host:port of /auth).
start_finch() {
    local lib=$1 log_file=$2 p_grpc p_http p_auth p_healthz
    read -r p_grpc p_http p_auth p_healthz <<<"$(free_ports 4)"
    "$finch_bin" run \
        --server.grpc-address "127.0.0.1:$p_grpc" \
        --server.http-address "127.0.0.1:$p_http" \
        --server.auth-address "127.0.0.1:$p_auth" \
        --server.healthz-address "127.0.0.1:$p_healthz" \
        --server.log-level warn \
        --stack.config-file "$lib/finch.json" >"$log_file" 2>&1 &
    finch_pid=$!
    track finch "$finch_pid"
    wait_status "http://127.0.0.1:$p_healthz/healthz" 200 60 "$finch_pid" finch
    finch_auth="127.0.0.1:$p_auth"
}

# --- one measured wrk run -------------------------------------------------------------------

# measure_wrk OUT_JSON URL TOKENS INTERVAL_MS WARMUP GROUP...
#   Waits for a quiet machine, runs wrk for WARMUP (unmeasured; 0 skips it), then for
#   `duration` with `--latency`, each connection waiting INTERVAL_MS between requests if it is
#   not empty (a paced run). The requests come from the wrk script `wrk_script` (default
#   bench/auth.lua) with FINCH_BENCH_TOKENS=TOKENS; export its other FINCH_BENCH_* variables
#   before calling. Each GROUP is NAME=PID[,PID...]: processes whose CPU time and memory are read
#   around the measured run. Writes one JSON object to OUT_JSON:
#   {"wrk": {requests, duration_us, errors, latency_us}, "seconds", "rps",
#    "groups": {NAME: {"cpu_s", "peak_rss_kb", "rss_kb"}}, "wrk_cpu_s", "other_cpu_s",
#    "tcp_accepted" (TCP connections the machine accepted during the run: wrk's own, and any
#    a proxy opened to its backends)}.
#   wrk's own output goes to OUT_JSON with .json replaced by .txt.
measure_wrk() {
    local out_json=$1 url=$2 tokens=$3 interval_ms=$4 warm=$5
    shift 5
    local groups=("$@") out="${out_json%.json}.txt" g these=()
    local wrk_args=(-t "$threads" -c "$connections" --timeout 5s -s "${wrk_script:-$bench_dir/auth.lua}")
    wait_quiet
    if [[ $warm != 0 ]]; then
        FINCH_BENCH_TOKENS=$tokens timeout $(($(seconds_of "$warm") + 60)) \
            wrk "${wrk_args[@]}" -d "$warm" "$url" >/dev/null
    fi
    local before=() after=() busy0 busy1 wrk0 wrk1 i tcp0 tcp1
    times >"$work_dir/times-before"
    busy0=$(machine_busy_ticks)
    tcp0=$(tcp_accepted)
    for g in "${groups[@]}"; do
        IFS=, read -r -a these <<<"${g#*=}"
        before+=("$(cpu_ticks "${these[@]}")")
    done
    FINCH_BENCH_TOKENS=$tokens FINCH_BENCH_INTERVAL_MS=$interval_ms timeout $((duration_s + 60)) \
        wrk "${wrk_args[@]}" -d "$duration" --latency "$url" >"$out"
    local readings=()
    for i in "${!groups[@]}"; do
        g=${groups[i]}
        IFS=, read -r -a these <<<"${g#*=}"
        after=("$(cpu_ticks "${these[@]}")")
        readings+=("${g%%=*}" "$((after[0] - before[i]))" "$(status_kb VmHWM "${these[@]}")" \
            "$(status_kb VmRSS "${these[@]}")")
    done
    busy1=$(machine_busy_ticks)
    tcp1=$(tcp_accepted)
    times >"$work_dir/times-after"
    wrk0=$(children_cpu_ms "$work_dir/times-before")
    wrk1=$(children_cpu_ms "$work_dir/times-after")
    local json
    json=$(sed -n 's/^BENCH_JSON //p' "$out")
    [[ -n $json ]] || die "wrk printed no results (see $out)"
    python3 - "$json" "$clk_tck" "$((busy1 - busy0))" "$((wrk1 - wrk0))" "$((tcp1 - tcp0))" \
        "${readings[@]}" >"$out_json" <<'PY'
import json, sys
wrk, tck, busy, wrk_ms, accepted, *readings = sys.argv[1:]
wrk, tck = json.loads(wrk), int(tck)
secs = wrk["duration_us"] / 1e6
groups = {}
for i in range(0, len(readings), 4):
    name, ticks, hwm, rss = readings[i:i + 4]
    groups[name] = {"cpu_s": int(ticks) / tck, "peak_rss_kb": int(hwm), "rss_kb": int(rss)}
wrk_cpu = int(wrk_ms) / 1000
# CPU the machine spent on neither the measured processes nor wrk during the run: noise from
# elsewhere.
other = max(int(busy) / tck - sum(g["cpu_s"] for g in groups.values()) - wrk_cpu, 0.0)
print(json.dumps({"wrk": wrk, "seconds": secs, "rps": wrk["requests"] / secs, "groups": groups,
                  "wrk_cpu_s": wrk_cpu, "other_cpu_s": other, "tcp_accepted": int(accepted)}))
PY
}

# paced_interval_ms RPS PERCENT: the wait per connection between requests (wrk's delay()) that
# offers about PERCENT % of RPS over `connections` connections.
paced_interval_ms() {
    python3 -c '
import sys
c, r, p = map(float, sys.argv[1:])
print(f"{c * 1000 / (r * p / 100):.4f}")' "$connections" "$1" "$2"
}

# --- options every benchmark takes ----------------------------------------------------------
duration=10s
warmup=2s
connections=64
threads=2
nginx_workers=$(nproc)
paced_percent=50
max_rounds=3
quiet_wait=120
skip_build=0
keep=0

# The lines of the usage text for those options.
common_usage() {
    cat <<'USAGE'
  --duration D         each measured wrk run, wrk syntax (default 10s)
  --warmup D           unmeasured wrk run before each maximum-rate run (default 2s)
  --connections C      wrk connections (default 64)
  --threads T          wrk threads (default 2)
  --nginx-workers W    nginx worker_processes (default: number of CPUs, like tokio's workers)
  --paced-percent P    also run every server paced at P% of finch's maximum rate, for
                       latency under moderate load (default 50; 0 skips)
  --max-rounds N       maximum-rate runs of each server in turn (default 3); the tables
                       show the median run and the range of all rounds (bench/rounds.py)
  --quiet-wait S       before each measured run, wait up to S seconds for the machine to be
                       idle (under 10% of one CPU busy); default 120, 0 does not wait
  --skip-build         use the existing release binaries
  --keep               keep the temporary directory (libraries, tokens)
  -h, --help           this text
USAGE
}

# common_option ARGS...: takes the option in $1 if it is one of those; sets `shifted` to the
# number of arguments used (0 if $1 is not a common option).
common_option() {
    shifted=2
    case $1 in
    --duration) duration=${2:?--duration needs a value} ;;
    --warmup) warmup=${2:?--warmup needs a value} ;;
    --connections) connections=${2:?--connections needs a value} ;;
    --threads) threads=${2:?--threads needs a value} ;;
    --nginx-workers) nginx_workers=${2:?--nginx-workers needs a value} ;;
    --paced-percent) paced_percent=${2:?--paced-percent needs a value} ;;
    --max-rounds) max_rounds=${2:?--max-rounds needs a value} ;;
    --quiet-wait) quiet_wait=${2:?--quiet-wait needs a value} ;;
    --skip-build) skip_build=1; shifted=1 ;;
    --keep) keep=1; shifted=1 ;;
    -h | --help) usage; exit 0 ;;
    *) shifted=0 ;;
    esac
}

# parse_agents LIST: agent_counts from a comma-separated list, and the common options checked.
parse_agents() {
    IFS=, read -r -a agent_counts <<<"$1"
    local n v
    for n in "${agent_counts[@]}"; do
        [[ $n =~ ^[1-9][0-9]*$ ]] || die "--agents: '$n' is not a positive number"
    done
    for v in "$connections" "$threads" "$nginx_workers" "$max_rounds"; do
        [[ $v =~ ^[1-9][0-9]*$ ]] || die "'$v' is not a positive number"
    done
    [[ $paced_percent =~ ^[0-9]+$ ]] || die "--paced-percent: '$paced_percent' is not a number"
    [[ $quiet_wait =~ ^[0-9]+$ ]] || die "--quiet-wait: '$quiet_wait' is not a number"
}

# --- runs.jsonl -----------------------------------------------------------------------------

# log_last_run LABEL: the last run in runs_file, in one line.
log_last_run() {
    log "  $1: $(tail -n 1 "$runs_file" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("%.0f req/s, p50 %d us, p99 %d us, %d errors" % (r["rps"], r["latency_us"]["p50"],
      r["latency_us"]["p99"], sum(r["errors"].values())))')"
}

# median_rps AGENTS MODE FIELD NAME: the median req/s of the runs in runs.jsonl at AGENTS agents
# in MODE whose FIELD (server or route) is NAME, as a whole number.
median_rps() {
    python3 "$bench_dir/rounds.py" median "$runs_file" "$@"
}
