//! What the two command lines share: dataset and variant options, the names of the files
//! that travel with a `weights.bin`, the exit statuses, and clap's errors as one line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use clap::ValueEnum;
use clap::error::ErrorKind;
use picocnn::{Dataset, Variant};

/// Exit statuses of `trainer` and `firmware-sim`.
pub mod exit {
    /// The check ran and found a difference (`firmware-sim verify`: core and host disagree).
    pub const MISMATCH: u8 = 1;
    /// Bad arguments, bad input files, an unsupported CPU: one line on stderr says which.
    pub const USAGE: u8 = 2;
    /// Stopped by Ctrl-C (128 + SIGINT) after saving what can be resumed.
    pub const INTERRUPTED: u8 = 130;
}

/// The dataset, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetArg {
    /// MNIST handwritten digits.
    Mnist,
    /// Fashion-MNIST clothing images.
    Fashion,
}

impl From<DatasetArg> for Dataset {
    fn from(d: DatasetArg) -> Dataset {
        match d {
            DatasetArg::Mnist => Dataset::Mnist,
            DatasetArg::Fashion => Dataset::Fashion,
        }
    }
}

/// The network variant, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VariantArg {
    /// Variant B: with 2x2 max-pooling.
    Pool,
    /// Variant A: without pooling.
    Nopool,
}

impl From<VariantArg> for Variant {
    fn from(v: VariantArg) -> Variant {
        match v {
            VariantArg::Pool => Variant::Pool,
            VariantArg::Nopool => Variant::NoPool,
        }
    }
}

/// The f32 checkpoint that travels with `weights` (`weights.bin` -> `weights.ckpt`).
pub fn checkpoint_path(weights: &Path) -> PathBuf {
    weights.with_extension("ckpt")
}

/// The saved training state of an interrupted run that writes `weights`.
pub fn resume_path(weights: &Path) -> PathBuf {
    weights.with_extension("resume")
}

/// The per-epoch history of the run that wrote `weights`.
pub fn history_path(weights: &Path) -> PathBuf {
    weights.with_extension("history.json")
}

/// Parses the command line; on `--help` or `--version` prints it and returns the status
/// to exit with (success); on any other problem prints one line `error: ... (see
/// --help)` and returns [`exit::USAGE`]. clap's own message spans several lines (usage,
/// hints); the tools' contract is one line.
///
/// # Errors
/// The exit status when the program should stop instead of running a command.
pub fn parse_or_exit<P: Parser>() -> Result<P, ExitCode> {
    P::try_parse().map_err(|e| {
        if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        eprintln!("error: {} (see --help)", one_line(&e.to_string()));
        ExitCode::from(exit::USAGE)
    })
}

/// clap's message up to its usage block, joined into one line, without its `error: `.
fn one_line(rendered: &str) -> String {
    let message: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
        .collect();
    message.join(" ").trim_start_matches("error: ").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clap_message_becomes_its_first_paragraph_on_one_line() {
        let rendered = "error: unexpected argument '--x' found\n\n  tip: to pass '--x' as a value, use '-- --x'\n\nUsage: trainer [OPTIONS]\n\nFor more information, try '--help'.\n";
        assert_eq!(one_line(rendered), "unexpected argument '--x' found");
        let two = "error: invalid value 'q' for '--dataset <DATASET>'\n  [possible values: mnist, fashion]\n\nUsage: x\n";
        assert_eq!(
            one_line(two),
            "invalid value 'q' for '--dataset <DATASET>' [possible values: mnist, fashion]"
        );
    }

    #[test]
    fn companion_files_share_the_weights_stem() {
        let w = Path::new("out/mnist/pool.bin");
        assert_eq!(checkpoint_path(w), Path::new("out/mnist/pool.ckpt"));
        assert_eq!(resume_path(w), Path::new("out/mnist/pool.resume"));
        assert_eq!(history_path(w), Path::new("out/mnist/pool.history.json"));
    }
}
