#!/usr/bin/env bash
# postfix-bench.sh measures SMTP delivery against a real MTA: Debian's postfix
# on 127.0.0.1, queueing every message as it does in production (cleanup
# writes and fsyncs the queue file before smtpd answers 250) and then handing
# it to the discard transport, so the disk does not fill. It prints the raw
# baseline (one fixed rendered message over plain SMTP connections) and the
# pipeline figure (`tailor bench deliver --smtp`: outbox, workers, render,
# adapter) from the same run, with their ratio and the load average.
#
# It is not part of the test suite (the tests use Mailpit). Run it as root on
# a Debian machine; it installs postfix with apt-get when it is missing and
# runs it as a separate instance (its own config and queue directories), so
# a postfix the machine already runs is left alone. The instance is stopped
# at the end unless KEEP=1; then stop it with
#   postfix -c /etc/postfix-tailor-bench stop
#
# Environment: PORT (2525), N messages each way (10000), WORKERS (16),
# CONNS adapter connections (16), RUNS (1: more repeat the pair of
# figures), TAILOR (a built tailor binary; default: build one), LOG=1
# (postfix logs to /var/log/postfix-tailor-bench.log), KEEP=1.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PORT=${PORT:-2525}
N=${N:-10000}
WORKERS=${WORKERS:-16}
CONNS=${CONNS:-16}
RUNS=${RUNS:-1}
KEEP=${KEEP:-0}
conf=/etc/postfix-tailor-bench
queue=/var/spool/postfix-tailor-bench
data=/var/lib/postfix-tailor-bench
logfile=/var/log/postfix-tailor-bench.log

die() { printf 'postfix-bench.sh: %s\n' "$*" >&2; exit 1; }
step() { printf '==> %s\n' "$*"; }

[ "$(id -u)" = 0 ] || die "run as root (it installs, configures and starts postfix)"

if ! command -v postfix >/dev/null; then
  step "installing postfix with apt-get (no configuration: this script writes its own)"
  apt-get update -qq
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi

# The instance's configuration is rewritten on every run (idempotent): a
# relay for bench.example from loopback only, no TLS, and every message,
# once queued, discarded.
# Postfix's log goes to $logfile only with LOG=1: postlogd's five lines a
# message cost the server about a tenth of its CPU, which the bench shares.
log="# maillog_file: set with LOG=1"
[ "${LOG:-0}" = 1 ] && log="maillog_file = $logfile"
mkdir -p "$conf" "$data" "$queue"
chown postfix "$data"
cat >"$conf/main.cf" <<EOF
# Written by tailor's scripts/postfix-bench.sh; rewritten on each run.
compatibility_level = 3.6
queue_directory = $queue
data_directory = $data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
$log
syslog_name = postfix-tailor-bench
myhostname = mx.bench.localdomain
mydomain = bench.localdomain
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = bench.example
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
local_recipient_maps =
alias_maps =
alias_database =
default_transport = discard:tailor bench
relay_transport = discard:tailor bench
local_transport = discard:tailor bench
smtpd_tls_security_level = none
smtp_tls_security_level = none
biff = no
# Tuned as an inbound relay under load would be; none of it skips the queue
# file or its fsync: long-lived processes instead of a fork every 100
# messages, no canonical/virtual rewriting, header checks or milters in
# cleanup (there are none to apply), no reverse DNS of 127.0.0.1.
max_use = 10000
receive_override_options = no_address_mappings, no_header_body_checks, no_milters
smtpd_peername_lookup = no
EOF
# master.cf: smtpd on the bench port only (not port 25), nothing chrooted
# (the chroot would need files copied into the queue directory).
cat >"$conf/master.cf" <<EOF
# Written by tailor's scripts/postfix-bench.sh; rewritten on each run.
127.0.0.1:$PORT inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF

pf() { postfix -c "$conf" "$@"; }
pf check
# A restart, not a reload: inet_interfaces and the log take effect only so.
pf status >/dev/null 2>&1 && pf stop >/dev/null 2>&1
step "starting postfix (instance $conf) on 127.0.0.1:$PORT"
pf start >/dev/null
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || die "postfix does not listen on 127.0.0.1:$PORT; rerun with LOG=1 and see $logfile"

stop() {
  if [ "$KEEP" = 1 ]; then
    step "postfix left running; stop it with: postfix -c $conf stop"
  else
    pf stop >/dev/null 2>&1 || true
    step "postfix stopped"
  fi
}
trap stop EXIT

tailor=${TAILOR:-}
if [ -z "$tailor" ]; then
  tmp=$(mktemp -d)
  trap 'stop; rm -rf "$tmp"' EXIT
  step "building tailor"
  go build -o "$tmp/tailor" ./cmd/tailor
  tailor=$tmp/tailor
fi

# postfix_cpu prints the CPU time, in clock ticks, that the instance's
# processes have used: the live ones' and, through the master's counts of
# its reaped children, the exited ones'.
postfix_cpu() {
  local master total=0 p f
  master=$(tr -d ' ' <"$queue/pid/master.pid")
  for p in "$master" $(pgrep -P "$master"); do
    read -r -a f <"/proc/$p/stat" 2>/dev/null || continue
    total=$((total + f[13] + f[14]))
    [ "$p" = "$master" ] && total=$((total + f[15] + f[16]))
  done
  echo "$total"
}

# cpu_ticks prints the machine's busy and total clock ticks (all cores).
cpu_ticks() {
  local _ user nice sys idle iowait irq softirq steal
  read -r _ user nice sys idle iowait irq softirq steal _ </proc/stat
  echo "$((user + nice + sys + irq + softirq + steal)) $((user + nice + sys + idle + iowait + irq + softirq + steal))"
}

hz=$(getconf CLK_TCK)
for run in $(seq "$RUNS"); do
  step "run $run/$RUNS: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  before=$(postfix_cpu)
  read -r busy0 total0 < <(cpu_ticks)
  "$tailor" bench deliver --smtp "127.0.0.1:$PORT" --n "$N" --workers "$WORKERS" --smtp-conns "$CONNS" --broadcast 0
  after=$(postfix_cpu)
  read -r busy1 total1 < <(cpu_ticks)
  # Both phases sent N messages: the server's CPU a message bounds what
  # the machine can accept, whoever sends.
  step "postfix used $(( (after - before) * 1000000 / hz / (2 * N) ))µs of CPU a message ($((2 * N)) messages, queued, fsynced and discarded); the machine's cores were $(( (busy1 - busy0) * 100 / (total1 - total0) ))% busy; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
done
