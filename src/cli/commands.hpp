#pragma once
// The dptrain subcommands. Each takes the arguments after its name (argv[0] is the command's
// name) and returns the process exit status; bad input throws (see main.cpp).
namespace dptrain::cli {

int train_command(int argc, char** argv);
int eval_command(int argc, char** argv);
int predict_command(int argc, char** argv);
int bench_command(int argc, char** argv);
int scale_command(int argc, char** argv);

}  // namespace dptrain::cli
