#!/usr/bin/env bash
# A single-node Slurm on this machine, reachable on loopback only, for the sweep's Slurm test.
#
#   .ci/slurm-local.sh start DIR   configure munged + slurmctld + slurmd under DIR and start them;
#                                  prints the slurm.conf path (use it as SLURM_CONF)
#   .ci/slurm-local.sh stop DIR    stop the daemons started from DIR
#
# Needs root and Debian's slurm-wlm and munge (apt-get install -y slurm-wlm munge). The daemons
# bind to 127.0.0.1 (CommunicationParameters=NoCtldInAddrAny,NoInAddrAny with the node's address
# set to 127.0.0.1); munged talks over a UNIX socket. Nothing is written outside DIR except
# munge's socket folder (/run/munge) and, when missing, its key (/etc/munge/munge.key).
set -euo pipefail
cmd=${1:?usage: slurm-local.sh start|stop DIR}
dir=${2:?usage: slurm-local.sh start|stop DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf=$dir/slurm.conf

stop() {
    for f in slurmd slurmctld; do
        if [[ -f $dir/$f.pid ]]; then kill "$(cat "$dir/$f.pid")" 2>/dev/null || true; fi
    done
    if [[ -f $dir/munged.pid ]]; then kill "$(cat "$dir/munged.pid")" 2>/dev/null || true; fi
    sleep 1
    rm -f "$dir"/*.pid
}

if [[ $cmd == stop ]]; then stop; exit 0; fi
[[ $cmd == start ]] || { echo "usage: slurm-local.sh start|stop DIR" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "slurm-local: needs root (slurmd runs jobs as their user)" >&2; exit 3; }
for exe in munged slurmctld slurmd sbatch; do
    command -v "$exe" >/dev/null || { echo "slurm-local: $exe not found (apt-get install -y slurm-wlm munge)" >&2; exit 3; }
done

host=$(hostname -s)
cpus=$(nproc)
mkdir -p "$dir/state" "$dir/spool" /run/munge
chown munge:munge /run/munge
chmod 0755 /run/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
fi
# munge: a UNIX socket only
if ! pgrep -u munge -x munged >/dev/null; then
    runuser -u munge -- munged 2>"$dir/munged.err" || { cat "$dir/munged.err" >&2; exit 1; }
    pgrep -n -u munge -x munged >"$dir/munged.pid"  # started here, so stopped here too
fi

cat >"$conf" <<EOF
ClusterName=wannci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=10
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$conf
slurmctld -f "$conf" -i 2>"$dir/slurmctld.err" || { cat "$dir/slurmctld.err" "$dir/slurmctld.log" >&2 2>/dev/null; exit 1; }
slurmd -f "$conf" -N "$host" 2>"$dir/slurmd.err" || { cat "$dir/slurmd.err" "$dir/slurmd.log" >&2 2>/dev/null; stop; exit 1; }
# wait until the node takes jobs
for _ in $(seq 1 60); do
    if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then echo "$conf"; exit 0; fi
    sleep 0.5
done
echo "slurm-local: the node never became idle:" >&2
sinfo >&2 || true
tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 2>/dev/null || true
stop
exit 1
