//! The `stackpro` binary: parse, run, exit with the status the result means.

fn main() -> std::process::ExitCode {
    stackpro::main()
}
