#!/bin/sh
# Starts the bench driver with an open-file limit high enough for the IDLE phase: every idle
# connection is a socket in the driver and one in the server (Dovecot sets its own limits).
# The soft limit is raised up to the hard limit; the driver lowers --idle if it still does
# not fit, and says so.
want=${BENCH_NOFILE:-65536}
cur=$(ulimit -n)
if [ "$cur" != "unlimited" ] && [ "$cur" -lt "$want" ]; then
  hard=$(ulimit -Hn)
  if [ "$hard" = "unlimited" ] || [ "$hard" -ge "$want" ]; then new=$want; else new=$hard; fi
  if [ "$new" -gt "$cur" ]; then
    ulimit -n "$new" && echo "bench: raised the open-file limit from $cur to $new (ulimit -n) for the IDLE phase"
  fi
fi
cd "$(dirname "$0")/.." || exit 1
exec node --import tsx bench/run.ts "$@"
