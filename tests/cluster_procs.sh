# Process helpers the test cluster scripts share (tests/{sge,htcondor,slurm}/cluster.sh,
# tests/kubernetes/controlplane.sh): sourced, not run.

alive() {  # /proc/PID exists and is not a zombie
    local pid=$1 stat
    [[ -n $pid && -r /proc/$pid/stat ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

gone() { ! alive "$1"; }

wait_for() {  # wait_for SECONDS COMMAND...: poll until COMMAND succeeds
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}
