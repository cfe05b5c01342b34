//! `trainer`: trains the picocnn CNNs; see `trainer --help`.

use clap::Parser;
use clap::error::ErrorKind;
use std::process::ExitCode;
use trainer::cli::{self, Cli};
use trainer::kernels;

/// Exit status for bad arguments, bad data and an unsupported CPU.
const EXIT_USAGE: u8 = 2;

/// Refuses to run an AVX2 build on a CPU without AVX2/FMA, before any vector instruction
/// can run. Only feature detection happens here; nothing in this function is vectorized.
fn cpu_supports_this_build() -> Result<(), &'static str> {
    #[cfg(target_arch = "x86_64")]
    if kernels::AVX2_COMPILED
        && !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
    {
        return Err("this trainer build uses AVX2/FMA, which this CPU lacks; \
                    build a portable one with scripts/build-portable.sh");
    }
    Ok(())
}

fn main() -> ExitCode {
    if let Err(message) = cpu_supports_this_build() {
        eprintln!("error: {message}");
        return ExitCode::from(EXIT_USAGE);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's message is several lines (usage, hint); the contract is one line.
            let rendered = e.to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!(
                "error: {} (see --help)",
                first.trim_start_matches("error: ")
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
