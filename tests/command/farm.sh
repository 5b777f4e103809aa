#!/bin/bash
# A real little farm for the `command` target's tests: jobs are background processes on this
# machine, their state lives in files under $FARM_DIR. No mock: orbitfarm drives it only
# through its command-line client, as it would any farm's.
#   farm.sh submit SCRIPT LOG     -> "Submitted job N"   (held while $FARM_DIR/hold exists;
#                                    $FARM_DIR/fail-next makes the next job fail on its node)
#   farm.sh status ID...          -> "ID STATE [exit=N] [reason]" per id
#   farm.sh kill ID...            -> stops the jobs (state cancelled)
#   farm.sh preempt ID REASON     -> the farm takes the node back (state preempted)
set -u
: "${FARM_DIR:?FARM_DIR must name the state folder of the farm}"
cmd=$1; shift
case $cmd in
submit)
    script=$1 log=$2
    mkdir -p "$FARM_DIR"
    n=$(( $(cat "$FARM_DIR/last" 2>/dev/null || echo 0) + 1 ))
    echo "$n" >"$FARM_DIR/last"
    echo queued >"$FARM_DIR/$n.state"
    fail=""
    if [[ -e $FARM_DIR/fail-next ]]; then fail=$(cat "$FARM_DIR/fail-next"); rm -f "$FARM_DIR/fail-next"; fi
    # The job runs in its own session, so kill/preempt can stop the whole process group.
    setsid bash -c '
        d=$1 n=$2 script=$3 log=$4 fail=$5
        while [[ -e $d/hold ]]; do sleep 0.2; done
        [[ $(cat "$d/$n.state") == queued ]] || exit  # killed while it waited
        echo running >"$d/$n.state"
        if [[ -n $fail ]]; then echo "failed exit=7 $fail" >"$d/$n.state"; exit; fi
        bash "$script" >"$log" 2>&1
        code=$?
        if [[ $(cat "$d/$n.state") == running ]]; then
            if ((code == 0)); then echo "done exit=0" >"$d/$n.state"
            else echo "failed exit=$code" >"$d/$n.state"; fi
        fi' farm "$FARM_DIR" "$n" "$script" "$log" "$fail" </dev/null >/dev/null 2>&1 &
    echo $! >"$FARM_DIR/$n.pid"
    echo "Submitted job $n"
    ;;
status)
    for n in "$@"; do
        if [[ -f $FARM_DIR/$n.state ]]; then echo "$n $(cat "$FARM_DIR/$n.state")"
        else echo "$n unknown no such job"; fi
    done
    ;;
kill|preempt)
    n=$1; shift
    ids=("$n"); [[ $cmd == kill ]] && ids=("$n" "$@")
    for n in "${ids[@]}"; do
        [[ $cmd == kill ]] && state=cancelled || state="preempted ${*:-}"
        echo "$state" >"$FARM_DIR/$n.state"
        pid=$(cat "$FARM_DIR/$n.pid" 2>/dev/null) && kill -TERM -- "-$pid" 2>/dev/null
    done
    true
    ;;
*) echo "farm.sh: unknown command $cmd" >&2; exit 2 ;;
esac
