//! The `steplab` binary: the GUI, or a headless command (see [`steplab::cli`]).

fn main() -> std::process::ExitCode {
    steplab::cli::main()
}
