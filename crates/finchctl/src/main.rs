//! `finchctl`: parse the command line, run the command, map the outcome to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let environment = finchctl::environment::Environment::from_process();
    finchctl::cli::main(std::env::args_os(), environment)
}
