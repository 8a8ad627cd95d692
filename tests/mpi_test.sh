#!/usr/bin/env bash
# Multi-process training under OpenMPI on this machine (loopback): equivalence with one process,
# reproducibility, deterministic mode, checkpoint/resume, and the fault cases (a killed rank, bad
# data on one rank, ranks that disagree) ending the whole job quickly with a clear message.
#
# usage: bash tests/mpi_test.sh <path-to-dptrain-binary>
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_binary "$@"
harness_start mpi-test 60
cd "$TMP" || exit 2
OUT="$TMP/out" ERR="$TMP/err"  # the cases below name them out and err
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Loopback only, no attempts to reach other hosts; quiet about the missing high-speed fabrics.
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_btl_base_warn_component_unused=0
# Ranks share this machine's 2 cores: a rank waiting in a collective must yield its core to the
# rank still computing (busy polling made the all-reduce 10-20x slower here).
export OMPI_MCA_mpi_yield_when_idle=1
MPIRUN=(mpirun --oversubscribe --bind-to none)

# mpi NP ARGS...: mpirun -np NP dptrain ARGS (60 s guard), output in out/err, status in RC.
mpi() {
  local np=$1
  shift
  timeout 60 "${MPIRUN[@]}" -np "$np" "$DPTRAIN" "$@" >out 2>err
  RC=$?
}
last_loss() { grep '^epoch' out | tail -n 1 | awk '{print $4}'; }

BASE=(train --data blobs8 --layers 8,64,2 --batch-size 64 --epochs 4 --quiet)
LOUD=(train --data blobs8 --layers 8,64,2 --batch-size 64 --epochs 4)

# ---- same mathematics ----
mpi 2 "${LOUD[@]}" --threads 1
two_ranks_loss=$(last_loss)
two_ranks_acc=$(grep -o 'final test accuracy [0-9.]*' out)
[[ $RC -eq 0 && $(grep -c '^epoch' out) -eq 4 ]] && ok "2 ranks train; rank 0 alone prints" || not_ok "2 ranks train; rank 0 alone prints" "rc=$RC, $(grep -c '^epoch' out) epoch lines"
timeout 60 "$DPTRAIN" "${LOUD[@]}" --threads 2 >out 2>err
one_loss=$(last_loss)
if /usr/bin/python3 -c "import sys; a,b=float('$two_ranks_loss'),float('$one_loss'); sys.exit(0 if abs(a-b) <= 1e-4*max(1,abs(b)) else 1)"; then
  ok "2 ranks x 1 thread = 1 rank x 2 threads up to rounding (loss $two_ranks_loss vs $one_loss)"
else
  not_ok "2 ranks x 1 thread = 1 rank x 2 threads" "loss $two_ranks_loss vs $one_loss"
fi
[[ "$two_ranks_acc" == "$(grep -o 'final test accuracy [0-9.]*' out)" ]] && ok "same test accuracy" || not_ok "same test accuracy" "$two_ranks_acc vs $(grep -o 'final test accuracy [0-9.]*' out)"

# ---- reproducibility ----
mpi 2 "${BASE[@]}" --threads 2
first=$(hash_of)
mpi 2 "${BASE[@]}" --threads 2
[[ -n $first && $(hash_of) == "$first" ]] && ok "same ranks, threads and seed: same params_hash" || not_ok "same ranks, threads and seed: same params_hash" "$first vs $(hash_of)"

# ---- deterministic: for a fixed rank count, any thread count gives the same bits ----
mpi 2 "${BASE[@]}" --deterministic --threads 1
det1=$(hash_of)
mpi 2 "${BASE[@]}" --deterministic --threads 3
det3=$(hash_of)
[[ -n $det1 && $det1 == "$det3" ]] && ok "deterministic: 2 ranks x 1 thread = 2 ranks x 3 threads, bitwise" || not_ok "deterministic: 2 ranks, threads 1 vs 3" "$det1 vs $det3"

# ---- checkpoint and resume under MPI ----
mpi 2 train --data blobs8 --layers 8,64,2 --batch-size 64 --epochs 2 --deterministic --save m.dpt --quiet
[[ $RC -eq 0 && -s m.dpt ]] && ok "rank 0 writes the checkpoint" || not_ok "rank 0 writes the checkpoint" "rc=$RC"
ls m.dpt.tmp.* >/dev/null 2>&1 && not_ok "no stray temporary files" "$(ls)" || ok "no stray temporary files"
mpi 2 train --data blobs8 --resume m.dpt --epochs 4 --threads 2 --quiet
[[ $RC -eq 0 && $(hash_of) == "$det1" ]] && ok "resume under MPI (other thread count) = uninterrupted run" || not_ok "resume under MPI = uninterrupted run" "$(hash_of) vs $det1"

# ---- faults ----
start=$SECONDS
timeout 60 "${MPIRUN[@]}" -np 1 "$DPTRAIN" "${BASE[@]}" : -np 1 "$DPTRAIN" train --data idx:/nonexistent/a,/nonexistent/b --layers 8,64,2 >out 2>err
RC=$?
if [[ $RC -ne 0 && $RC -ne 124 && $((SECONDS - start)) -lt 30 ]] && grep -q "rank 1 of 2: error: cannot open '/nonexistent/a'" err; then
  ok "bad data on one rank: whole job exits non-zero, message names the rank"
else
  not_ok "bad data on one rank" "rc=$RC after $((SECONDS - start)) s"
fi
timeout 60 "${MPIRUN[@]}" -np 1 "$DPTRAIN" "${BASE[@]}" : -np 1 "$DPTRAIN" train --data blobs8 --layers 8,32,2 --batch-size 64 --epochs 4 >out 2>err
RC=$?
if [[ $RC -ne 0 && $RC -ne 124 ]] && grep -q "ranks disagree on the model, the training settings or the training data: rank(s) 1 differ from rank 0" err; then
  ok "ranks with different models fail fast at start-up"
else
  not_ok "ranks with different models fail fast at start-up" "rc=$RC"
fi
# A rank killed in the middle of training.
"${MPIRUN[@]}" -np 2 "$DPTRAIN" train --data blobs8 --layers 8,512,512,2 --batch-size 64 --epochs 100000 --quiet >out 2>err &
launcher=$!
victim=""
for _ in $(seq 50); do
  sleep 0.2
  victim=$(pgrep -f "dptrain train --data blobs8 --layers 8,512,512,2" | grep -v "^$launcher$" | tail -n 1)
  [[ -n $victim ]] && break
done
sleep 1
start=$SECONDS
[[ -n $victim ]] && kill -9 "$victim"
timeout 30 tail --pid="$launcher" -f /dev/null
wait "$launcher"
RC=$?
if [[ -n $victim && $RC -ne 0 && $((SECONDS - start)) -lt 20 ]]; then
  ok "a killed rank ends the whole job non-zero within seconds ($((SECONDS - start)) s)"
else
  not_ok "a killed rank ends the whole job" "victim=$victim rc=$RC after $((SECONDS - start)) s"
  kill -9 "$launcher" 2>/dev/null
fi

# ---- stops and kills under MPI: the ranks stop together, rank 0 saves, resumes are exact ----
STEPS=(train --data blobs8 --layers 8,256,256,2 --batch-size 8 --epochs 4 --deterministic --test-data none)
mpi 2 "${STEPS[@]}" --quiet
reference=$(hash_of)
# start_saving: a 2-rank run saving every 2 steps in the background (launcher pid in $launcher),
# once its first checkpoint exists; the ranks' pids in $ranks.
start_saving() {
  rm -f s.dpt
  "${MPIRUN[@]}" -np 2 "$DPTRAIN" "${STEPS[@]}" --save s.dpt --save-every 2 "$@" >out 2>err &
  launcher=$!
  for _ in $(seq 200); do [[ -s s.dpt ]] && break; sleep 0.05; done
  ranks=$(pgrep -P "$launcher" | tr '\n' ' ')
}
start_saving
victim=${ranks##* }
victim=${victim:-$(pgrep -P "$launcher" | tail -n 1)}
sleep 0.3
kill -TERM $victim
timeout 30 tail --pid="$launcher" -f /dev/null
wait "$launcher"
RC=$?
if [[ $RC -ne 0 ]] && grep -q "stopped by .* in epoch [0-9]* after step" err && grep -q "resume with (under mpirun, same ranks)" err; then
  ok "SIGTERM to one rank: every rank stops after the same step, rank 0 saves and says how to resume"
else
  not_ok "SIGTERM to one rank" "rc=$RC: $(grep -v '^--' err | head -n 3)"
fi
mpi 2 "${STEPS[@]}" --save s.dpt --save-every 2 --threads 2 --resume s.dpt
[[ $RC -eq 0 && $(hash_of) == "$reference" ]] && grep -q "^resumed from 's.dpt' in epoch" out && ok "resumed from inside the epoch (2 threads per rank): the uninterrupted params_hash" || not_ok "resume after a stop under MPI" "rc=$RC, $(hash_of) vs $reference"
for attempt in 1 2; do
  start_saving
  sleep "0.$((RANDOM % 5 + 1))"
  kill -KILL "$(pgrep -P "$launcher" | head -n "$attempt" | tail -n 1)"
  timeout 30 tail --pid="$launcher" -f /dev/null
  wait "$launcher" 2>/dev/null
  mpi 2 "${STEPS[@]}" --save s.dpt --save-every 2 --resume s.dpt
  [[ $RC -eq 0 && $(hash_of) == "$reference" ]] && ok "rank $((attempt - 1)) killed (SIGKILL) mid-run, resumed under MPI: the uninterrupted params_hash" || not_ok "SIGKILL under MPI, attempt $attempt" "rc=$RC, $(hash_of) vs $reference: $(head -c 300 err)"
done

harness_finish
