//! The `trainer` command line: training by default, further tools as subcommands.
//!
//! `trainer [OPTIONS]` trains one variant (Keras's defaults unless told otherwise) and
//! writes `OUT` (the model), `OUT` with extension `.ckpt` (f32 checkpoint) and
//! `.history.json` (per-epoch metrics). Subcommands (`trainer <name> ...`) are for tools
//! around training; their arguments conflict with the training options.

mod interrupt;
mod train;

pub use interrupt::status as interrupted_status;
pub use train::TrainArgs;

use crate::error::Result;
use crate::network;
use crate::progress::say;
use clap::{Args, Parser, Subcommand};
use picocnn::Variant;
use picocnn_host::checkpoint;
use picocnn_host::cli::escaped;
use picocnn_host::dataset;
use picocnn_host::heldout;
use picocnn_host::params::Params;
use std::path::PathBuf;

/// Trains the picocnn CNNs on MNIST / Fashion-MNIST (f32, Adam, both cores).
#[derive(Debug, Parser)]
#[command(name = "trainer", version, args_conflicts_with_subcommands = true)]
#[command(
    after_help = "Defaults reproduce the classic Keras exercise: batch 32, 5 epochs, \
Adam 1e-3, last 10% of the training set for validation.\nExample: trainer --pooling --dataset fashion --out fashion-b.bin"
)]
pub struct Cli {
    /// A tool other than training (training runs when none is given).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Training options.
    #[command(flatten)]
    pub train: TrainArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Test accuracy and loss of a saved f32 checkpoint (`.ckpt`).
    Evaluate(EvaluateArgs),
    /// Keras-like table of a variant: output shapes, parameters, MACs, int8 bytes and
    /// activation RAM per layer, with totals.
    Summary(SummaryArgs),
    /// Plots (PNG) for a folder of trained models: training curves, predictions,
    /// logits -> softmax, confusion matrices, and the variants side by side.
    Report(ReportArgs),
}

/// Options of `trainer summary`.
#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// Summarize variant B (2x2 max-pooling) instead of variant A.
    #[arg(long)]
    pub pooling: bool,
}

/// Options of `trainer report`.
#[derive(Debug, Args)]
#[command(
    after_help = "MODELS holds <name>.bin (int8 model) and <name>.history.json for each \
trained model, as training with --out MODELS/<name>.bin writes them. Predictions come from \
the int8 model run by picocnn's core on the whole test set.\nExample: trainer report out --out out/plots"
)]
pub struct ReportArgs {
    /// Folder with the trained models.
    #[arg(value_name = "MODELS")]
    pub models: PathBuf,
    /// Folder to write the PNG files into (created if missing) [default: MODELS/plots].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Directory holding the datasets [default: $PICOCNN_DATA, else `data`].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

/// Options of `trainer evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The f32 checkpoint to evaluate (written by training as `<out>.ckpt`).
    #[arg(value_name = "CKPT")]
    pub checkpoint: PathBuf,
    /// Directory holding the datasets [default: $PICOCNN_DATA, else `data`].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

/// Runs the command line; returns what `main` should report on failure.
///
/// # Errors
/// Any error of the chosen command, ready to print as one line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        None => train::run(&cli.train),
        Some(Command::Evaluate(args)) => run_evaluate(&args),
        Some(Command::Summary(args)) => {
            let variant = if args.pooling {
                Variant::Pool
            } else {
                Variant::NoPool
            };
            print(crate::report::summary(variant))
        }
        Some(Command::Report(args)) => run_report(&args),
    }
}

fn run_report(args: &ReportArgs) -> Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.models.join("plots"));
    let data = dataset::resolve_dir(args.data.as_deref());
    say(format_args!(
        "Plotting the models in {} into {} ...",
        escaped(&args.models.display().to_string()),
        escaped(&out.display().to_string())
    ));
    let report = crate::report::write_report(&args.models, &data, &out)?;
    for file in &report.files {
        print(format_args!(
            "  wrote {}\n",
            escaped(&file.display().to_string())
        ))?;
    }
    print(&report.comparison)
}

/// Prints through [`picocnn_host::cli::print`]: a closed pipe ends the output quietly, and
/// another write error is the command's error.
fn print(text: impl std::fmt::Display) -> Result<()> {
    picocnn_host::cli::print(text)
        .map_err(|e| picocnn_host::Error::io("<standard output>", e).into())
}

fn run_evaluate(args: &EvaluateArgs) -> Result<()> {
    let checkpoint = checkpoint::read(&args.checkpoint)?;
    let dir = dataset::resolve_dir(args.data.as_deref());
    let test = dataset::load_part(&dir, checkpoint.dataset, dataset::Part::Test)?;
    let params: &Params = &checkpoint.params;
    let tally = network::evaluate(params, &test.images, &test.labels);
    say(format_args!(
        "{}: variant {} on {}: test accuracy {:.2} % (loss {:.4}) on {} images",
        escaped(&args.checkpoint.display().to_string()),
        params.variant.title(),
        checkpoint.dataset.name(),
        100.0 * tally.accuracy(),
        tally.mean_loss(),
        tally.count
    ));
    if checkpoint.dataset == picocnn::Dataset::Mnist {
        report_heldout(params, &dir)?;
    }
    Ok(())
}

/// Prints the f32 model's accuracy on the held-out digits in `dir`, overall and per class;
/// says how to get them if they are missing.
fn report_heldout(params: &Params, dir: &std::path::Path) -> Result<()> {
    let Some(set) = heldout::load(dir)? else {
        say(format_args!(
            "{} not found in {} (scripts/fetch-data.sh copies them there)",
            heldout::NAME,
            dir.join(heldout::DIR).display()
        ));
        return Ok(());
    };
    let logits = network::predict(params, &set.images);
    let counts = heldout::per_class(&set.labels, logits.iter().map(|l| picocnn::argmax(l)));
    say(format_args!(
        "{}: accuracy {:.2} % on {} images (per class %: {})",
        heldout::NAME,
        100.0 * heldout::accuracy(&counts),
        set.len(),
        heldout::describe_per_class(&counts)
    ));
    Ok(())
}
