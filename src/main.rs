//! The desktag binary; everything lives in the library (`desktag::main`).

fn main() -> std::process::ExitCode {
    desktag::main()
}
