#include "stop_signals.hpp"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>

namespace dptrain::cli {

namespace {

// Note [Repeated signals]. One request to stop can arrive as two signals: timeout(1) sends its
// signal to the child and then to the child's whole process group (the child again), and a
// script may `kill` a process and its group alike. The two copies come microseconds apart, so
// the second is often delivered after the first handler ran, where it used to count as the
// second signal and abort at once: no step boundary, no stop checkpoint, no resume command
// (2 to 5 runs in 100 of `timeout --preserve-status T dptrain train ... --save-every 1` on a
// loaded machine). A repeat of the *same* signal within half a second of the first
// (kSameRequestNs) is therefore the same request and is ignored; a different signal, or the same
// one later (a person sending it again after reading the message), still aborts at once. The
// window is far above the copies' gap and far below a person's reaction to the message.
constexpr std::int64_t kSameRequestNs = 500'000'000;  // 0.5 s

std::atomic<bool> stop_flag{false};
std::atomic<int> first_signal{0};  // lock-free, so safe in a handler, and race-free for readers
// CLOCK_MONOTONIC nanoseconds of the first signal; 0 until its handler has read the clock.
std::atomic<std::int64_t> first_signal_at{0};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free &&
              std::atomic<std::int64_t>::is_always_lock_free);
std::string program = "dptrain";
// Note [Stops while loading]. Loading the data can block for ever (a FIFO nobody writes, a
// device that never ends, a recursive SQL query), and no step boundary comes to stop at. Before
// training nothing has been written, so a stop signal while loading (StopEndsProcess) ends the
// process at once from the handler: one line on stderr and _exit(128 + the signal), both
// async-signal-safe. Loading only reads (checkpoints and logs are opened after it).
std::atomic<bool> stop_ends_process{false};

/// CLOCK_MONOTONIC in nanoseconds (clock_gettime is async-signal-safe; at least 1).
std::int64_t monotonic_ns() {
  struct timespec t {};
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return std::max<std::int64_t>(1, std::int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec);
}

extern "C" void on_stop_signal(int signal) {
  const int saved = errno;  // the interrupted code may be about to read errno
  if (stop_ends_process.load(std::memory_order_acquire)) {  // Note [Stops while loading]
    static const char kInt[] =
        "\ndptrain train: stopped by SIGINT while loading the data; nothing was trained or "
        "written\n";
    static const char kTerm[] =
        "\ndptrain train: stopped by SIGTERM while loading the data; nothing was trained or "
        "written\n";
    const ssize_t ignored = signal == SIGINT ? ::write(STDERR_FILENO, kInt, sizeof kInt - 1)
                                             : ::write(STDERR_FILENO, kTerm, sizeof kTerm - 1);
    (void)ignored;
    ::_exit(128 + signal);
  }
  const std::int64_t now = monotonic_ns();
  int none = 0;
  if (!first_signal.compare_exchange_strong(none, signal, std::memory_order_acq_rel)) {
    // Note [Repeated signals]: a copy of the first (its handler may still be running on another
    // thread, before it stored the time) is the same request.
    const std::int64_t first_at = first_signal_at.load(std::memory_order_acquire);
    if (none == signal && (first_at == 0 || now - first_at < kSameRequestNs)) {
      errno = saved;
      return;
    }
    // Second signal: abort at once with the signal's own default action (exit status 128 + n
    // seen by the shell). Everything here is async-signal-safe.
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    errno = saved;
    return;
  }
  first_signal_at.store(now, std::memory_order_release);
  stop_flag.store(true, std::memory_order_relaxed);
  static const char kSaid[] =
      "\ndptrain train: stopping at the next step boundary (send the signal again to abort at "
      "once)\n";
  const ssize_t ignored = ::write(STDERR_FILENO, kSaid, sizeof kSaid - 1);
  (void)ignored;
  errno = saved;
}

/// `word` quoted for a POSIX shell unless it needs no quoting.
std::string shell_word(const std::string& word) {
  constexpr const char* kPlain =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=,+@%";
  if (!word.empty() && word.find_first_not_of(kPlain) == std::string::npos) return word;
  // Appends only: GCC 12 warns (-Wrestrict, a false positive) on string concatenations here.
  std::string quoted(1, '\'');
  for (const char c : word)
    if (c == '\'')
      quoted.append("'\\''");
    else
      quoted.push_back(c);
  quoted.push_back('\'');
  return quoted;
}

}  // namespace

const std::atomic<bool>& install_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // reads and writes in progress continue rather than fail
  for (const int signal : {SIGINT, SIGTERM}) {
    // A SIGINT ignored by whoever started us (a shell's background job, nohup-like wrappers)
    // stays ignored, as POSIX programs and Python do: Ctrl-C at that terminal is not for us.
    struct sigaction old {};
    if (signal == SIGINT && ::sigaction(signal, nullptr, &old) == 0 && old.sa_handler == SIG_IGN)
      continue;
    ::sigaction(signal, &action, nullptr);
  }
  return stop_flag;
}

StopEndsProcess::StopEndsProcess() {
  stop_ends_process.store(true, std::memory_order_release);
}

StopEndsProcess::~StopEndsProcess() {
  stop_ends_process.store(false, std::memory_order_release);
}

int received_stop_signal() {
  return first_signal.load(std::memory_order_relaxed);
}

const char* stop_signal_name(int signal) {
  return signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "a signal to another rank";
}

int stop_exit_status(Communicator* comm) {
  const int own = received_stop_signal();
  if (!comm) return 128 + (own ? own : SIGTERM);
  double sigint = own == SIGINT ? 1.0 : 0.0;
  comm->allreduce_sum(&sigint, 1);
  return 128 + (sigint > 0 ? SIGINT : SIGTERM);
}

std::string resume_command(std::span<char* const> args, const std::string& checkpoint) {
  std::string command = shell_word(program);
  command.append(" train");
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string arg = args[i];
    if (arg == "--resume") {
      ++i;  // and its value
      continue;
    }
    if (arg.starts_with("--resume=")) continue;
    command.append(" ").append(shell_word(arg));
  }
  command.append(" --resume ").append(shell_word(checkpoint));
  return command;
}

void set_program_path(const char* path) {
  if (path && *path) program = path;
}

}  // namespace dptrain::cli
