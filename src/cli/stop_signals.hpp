#pragma once
// Clean stops of `dptrain train` on SIGINT and SIGTERM: the first signal asks the trainer to stop
// at the next step boundary (TrainConfig::stop); train then writes a checkpoint (with --save),
// prints where it stopped and the command that resumes, and exits 128 + the signal (130, 143).
// While the data are loading, a signal ends the process at once (StopEndsProcess).
// A second signal ends the process at once with that signal's default action: the atomic
// writer (io.hpp) never leaves a torn checkpoint, at most a temporary file that the next save
// removes. A repeat of the first signal within half a second is not a second signal but the same
// request delivered twice, as timeout(1) does (Note [Repeated signals] in stop_signals.cpp).
#include <atomic>
#include <span>
#include <string>

#include "dptrain/distributed.hpp"

namespace dptrain::cli {

/// Installs the handlers (sigaction, SA_RESTART) and returns the flag they set. The handler only
/// reads the monotonic clock, stores the signal number, its time and the lock-free flag, and
/// write(2)s one line to stderr (all async-signal-safe; no allocation, no lock). A SIGINT
/// that the parent process ignored (e.g. `dptrain ... &` in a non-interactive shell) stays
/// ignored.
const std::atomic<bool>& install_stop_signals();

/// While one lives (loading the data, before anything is written), a stop signal ends the
/// process at once: "stopped by SIGTERM while loading the data" on stderr and exit status 128 +
/// the signal, without waiting for a load that may never end (Note [Stops while loading] in
/// stop_signals.cpp). A signal received before it was created still stops at the first step.
struct StopEndsProcess {
  StopEndsProcess();
  ~StopEndsProcess();
  StopEndsProcess(const StopEndsProcess&) = delete;
  StopEndsProcess& operator=(const StopEndsProcess&) = delete;
};

/// The first stop signal received (SIGINT or SIGTERM), or 0.
int received_stop_signal();

/// "SIGINT", "SIGTERM", or "a stop request on another rank" for 0.
const char* stop_signal_name(int signal);

/// The exit status after a stop: 128 + the signal. Under MPI every rank returns the same
/// status (a collective, made once by every rank after the agreed stop): 130 when any rank
/// received SIGINT, else 143.
int stop_exit_status(Communicator* comm);

/// The command line that resumes this run from `checkpoint`: the program, "train", every
/// argument in `args` (the train arguments after "train") except an earlier --resume, then
/// "--resume <checkpoint>", each word quoted for a POSIX shell where needed.
std::string resume_command(std::span<char* const> args, const std::string& checkpoint);

/// argv[0] of the program, for resume_command (set by main()).
void set_program_path(const char* path);

}  // namespace dptrain::cli
