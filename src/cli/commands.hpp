#pragma once
// The dptrain subcommands. Each takes the arguments after its name (argv[0] is the command's
// name) and returns the process exit status; bad input throws (see main.cpp).
#include "dptrain/distributed.hpp"

namespace dptrain::cli {

/// The other ranks of an MPI job (null for one process), set once by main().
void set_job_communicator(Communicator* communicator);
Communicator* job_communicator();

int train_command(int argc, char** argv);
int eval_command(int argc, char** argv);
int predict_command(int argc, char** argv);
int export_command(int argc, char** argv);
int bench_command(int argc, char** argv);
int scale_command(int argc, char** argv);
int tune_command(int argc, char** argv);

}  // namespace dptrain::cli
