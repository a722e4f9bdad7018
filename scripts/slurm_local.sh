#!/usr/bin/env bash
# A real one-node SLURM cluster on localhost, for the test suite and for trying the SLURM profile
# by hand. Needs root and Debian's apt. A stand-in GPU (gres File=/dev/null) lets gpu=1 jobs run.
#
#   scripts/slurm_local.sh up      # install (once, ~1 min), configure, start munge + slurmctld + slurmd
#   scripts/slurm_local.sh down    # stop them, by PID
#   scripts/slurm_local.sh status
#
# Daemons are stopped by the PIDs they wrote, never by name, so nothing else on the machine is touched.
set -euo pipefail

SLURM_CONF=/etc/slurm/slurm.conf
GRES_CONF=/etc/slurm/gres.conf
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_PID=/run/munge/munged.pid
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 2048 ))

install_packages() {
  if command -v slurmctld >/dev/null && command -v munged >/dev/null; then return; fi
  [ "$(id -u)" = 0 ] || { echo "slurm_local.sh: installing SLURM needs root" >&2; exit 3; }
  command -v apt-get >/dev/null || { echo "slurm_local.sh: no apt-get to install slurm-wlm" >&2; exit 3; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

write_config() {
  install -d /etc/slurm
  cat > "$SLURM_CONF" <<CONF
ClusterName=local
SlurmctldHost=localhost
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  # A count-only GPU is rejected by SLURM 22.05; File=/dev/null is a stand-in device.
  echo "NodeName=localhost Name=gpu File=/dev/null" > "$GRES_CONF"
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

up() {
  install_packages
  write_config
  install -d -o munge -g munge -m 0755 /run/munge
  running "$MUNGE_PID" || runuser -u munge -- /usr/sbin/munged
  install -d -o slurm -g slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
  running "$CTLD_PID" || /usr/sbin/slurmctld
  running "$SLURMD_PID" || /usr/sbin/slurmd -N localhost
  for _ in $(seq 1 60); do
    state=$(sinfo -h -N -n localhost -o %T 2>/dev/null || true)
    case "$state" in
      idle|mixed|allocated) echo "slurm up: node localhost $state"; return 0 ;;
      drain*|down*|inval*) scontrol update nodename=localhost state=resume 2>/dev/null || true ;;
    esac
    sleep 0.5
  done
  echo "slurm_local.sh: node did not become idle (state: ${state:-none}); see /var/log/slurm/" >&2
  exit 1
}

down() {
  if running "$CTLD_PID"; then scontrol shutdown >/dev/null 2>&1 || kill "$(cat "$CTLD_PID")"; fi
  for _ in $(seq 1 40); do running "$CTLD_PID" || running "$SLURMD_PID" || break; sleep 0.25; done
  for pid_file in "$SLURMD_PID" "$CTLD_PID" "$MUNGE_PID"; do
    if running "$pid_file"; then kill "$(cat "$pid_file")" 2>/dev/null || true; fi
  done
  # Snakemake's SLURM plugin runs `scontrol show config` whenever snakemake starts; against a stopped
  # controller that retries for ~9 s. A short message timeout makes it fail at once (`up` rewrites it).
  if [ -f "$SLURM_CONF" ] && ! grep -q '^MessageTimeout=1$' "$SLURM_CONF"; then
    printf '# the cluster is down: fail fast (scripts/slurm_local.sh)\nMessageTimeout=1\n' >> "$SLURM_CONF"
  fi
  echo "slurm down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) sinfo -N -l 2>/dev/null || echo "not running" ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
