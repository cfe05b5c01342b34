//! The `trainer` command line: training by default, further tools as subcommands.
//!
//! `trainer [OPTIONS]` trains one variant (Keras's defaults unless told otherwise) and
//! writes `OUT` (the model), `OUT` with extension `.ckpt` (f32 checkpoint) and
//! `.history.json` (per-epoch metrics). Subcommands (`trainer <name> ...`) are for tools
//! around training; their arguments conflict with the training options.

use crate::augment::Choice;
use crate::checkpoint;
use crate::dataset::{self, Split};
use crate::error::{Error, Result};
use crate::export;
use crate::history::History;
use crate::kernels;
use crate::network;
use crate::params::{Checkpoint, Params};
use crate::progress::{Console, say};
use crate::resume;
use crate::schedule::Shape;
use crate::train::{self, Outcome, Recipe, Start, TrainConfig};
use clap::{Args, Parser, Subcommand, ValueEnum};
use picocnn::{Dataset, Variant};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Fraction of the training set held out for validation (Keras's `validation_split=0.1`).
const VALIDATION_SPLIT: f64 = 0.1;

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

/// Options of a training run.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Train variant B: 2x2 max-pooling after the convolution (694 k parameters instead of
    /// variant A's 2.77 M; faster, usually a little more accurate).
    #[arg(long)]
    pub pooling: bool,
    /// Dataset to train and test on.
    #[arg(long, value_enum, default_value_t = DatasetArg::Mnist)]
    pub dataset: DatasetArg,
    /// Directory holding `mnist/` and `fashion/` IDX files (raw or .gz) [default: $PICOCNN_DATA, else `data`].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Passes over the training images.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub epochs: u32,
    /// Images per Adam step, at most 4096 (the loss is averaged over the batch, as in
    /// Keras; activation memory grows with it, about 180 KB per image for variant A).
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub batch: u32,
    /// Adam's step size (Keras's default 0.001); a positive, finite number.
    #[arg(long, value_name = "RATE", default_value_t = 0.001, value_parser = parse_learning_rate)]
    pub learning_rate: f32,
    /// Augment the training images on the fly, a new random transform per image and
    /// epoch (validation and test images stay as stored). `light`: rotation ±6°, scale
    /// ±7.5 %, shift ±1.4 px on digits, left-right flips on clothes; `strong`: twice the
    /// geometry plus thicker/thinner strokes and lost detail on digits, flips and small
    /// shifts on clothes; or `name=value,...` (rotation, scale, shift, flip, elastic,
    /// dilate, erode, resolution, blur). A bare `--augment` is `light`.
    #[arg(long, value_name = "PRESET", num_args = 0..=1, default_value = "none", default_missing_value = "light")]
    pub augment: Choice,
    /// How the learning rate changes over the run: `constant` (Keras's default), `cosine`
    /// (half a cosine down to 0 at the end) or `step` (divided by 5 at 1/2 and at 3/4).
    #[arg(long, value_enum, value_name = "SHAPE", default_value_t = Shape::Constant)]
    pub lr_schedule: Shape,
    /// Epochs of linear learning-rate warm-up before the schedule starts.
    #[arg(long, value_name = "EPOCHS", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub warmup: u32,
    /// Seed of the weight initialization and the per-epoch shuffling; equal seeds, data and
    /// settings give bit-identical weights, whatever the thread count.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Worker threads [default: one per available core].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// Model file to write; the f32 checkpoint (`.ckpt`) and the training history
    /// (`.history.json`) are written next to it with the same stem.
    #[arg(long, value_name = "FILE", default_value = "weights.bin")]
    pub out: PathBuf,
    /// Continue a run that Ctrl-C interrupted, from the state it saved (`OUT` with
    /// extension `.resume`); give the same options as the interrupted run. The result is
    /// bit for bit what the run would have reached without stopping.
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
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
        None => run_training(&cli.train),
        Some(Command::Evaluate(args)) => run_evaluate(&args),
        Some(Command::Summary(args)) => {
            let variant = if args.pooling {
                Variant::Pool
            } else {
                Variant::NoPool
            };
            print!("{}", crate::report::summary(variant));
            Ok(())
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
    println!(
        "Plotting the models in {} into {} ...",
        args.models.display(),
        out.display()
    );
    let report = crate::report::write_report(&args.models, &data, &out)?;
    for file in &report.files {
        println!("  wrote {}", file.display());
    }
    print!("{}", report.comparison);
    Ok(())
}

fn variant_name(variant: Variant) -> &'static str {
    match variant {
        Variant::NoPool => "A (no pooling)",
        Variant::Pool => "B (2x2 max-pooling)",
    }
}

/// `OUT` with its extension replaced by `extension` (`weights.bin` -> `weights.ckpt`).
pub fn sibling(out: &Path, extension: &str) -> PathBuf {
    out.with_extension(extension)
}

fn run_training(args: &TrainArgs) -> Result<()> {
    let variant = if args.pooling {
        Variant::Pool
    } else {
        Variant::NoPool
    };
    let which = Dataset::from(args.dataset);
    let threads = match args.threads {
        Some(n) => n as usize,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let config = TrainConfig {
        epochs: args.epochs as usize,
        batch: args.batch as usize,
        seed: args.seed,
        learning_rate: args.learning_rate,
        recipe: Recipe {
            augment: args.augment.resolve(which),
            schedule: args.lr_schedule,
            warmup_epochs: args.warmup,
        },
        ..TrainConfig::keras(variant)
    };
    if args.warmup as usize >= config.epochs && args.warmup > 0 {
        return Err(Error::InvalidArgument(format!(
            "--warmup {} leaves no epoch of the {} for the schedule",
            args.warmup, config.epochs
        )));
    }
    let out_parent = args
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !out_parent.is_dir() {
        return Err(Error::InvalidArgument(format!(
            "{}: output directory {} does not exist",
            args.out.display(),
            out_parent.display()
        )));
    }

    let dir = dataset::resolve_dir(args.data.as_deref());
    let data = dataset::load(&dir, which)?;
    let mut train_split = data.train;
    let validation = train_split.split_off_validation(VALIDATION_SPLIT)?;
    // From here on, Ctrl-C stops training cleanly instead of ending the process.
    let interrupt = Interrupt::install();
    say(format_args!(
        "Variant {} on {}: {} training / {} validation / {} test images; batch {}, learning \
         rate {}{}, {} epochs, seed {}, {} threads, {} kernels{}",
        variant_name(variant),
        which.name(),
        train_split.len(),
        validation.len(),
        data.test.len(),
        config.batch,
        config.learning_rate,
        schedule_note(&config.recipe),
        config.epochs,
        config.seed,
        threads,
        kernels::IMPLEMENTATION,
        augment_note(args.augment, &config.recipe),
    ));

    let resume_path = sibling(&args.out, "resume");
    let start = match &args.resume {
        Some(path) => {
            let state = resume::read(path)?;
            if let Some(reason) = state.mismatch(&config, &train_split) {
                return Err(Error::ResumeFile {
                    path: path.clone(),
                    reason,
                });
            }
            say(format_args!(
                "Resuming from {}: epoch {}, batch {}",
                path.display(),
                state.epoch,
                state.batches_done
            ));
            Start::Resume(Box::new(state))
        }
        None => {
            if resume_path.is_file() {
                say(format_args!(
                    "Note: {} holds an interrupted run; this one starts afresh (to continue \
                     that one instead, add --resume {})",
                    resume_path.display(),
                    resume_path.display()
                ));
            }
            Start::Fresh(train::init_params(variant, config.seed))
        }
    };

    let pool = train::thread_pool(threads)?;
    let mut console = Console::new();
    let outcome = pool.install(|| {
        train::train_resumable(
            start,
            &config,
            &train_split,
            &validation,
            &mut console,
            &interrupt.stop,
        )
    })?;
    let (params, epochs) = match outcome {
        Outcome::Finished(params, epochs) => {
            interrupt.writing.store(true, Ordering::SeqCst);
            (params, epochs)
        }
        Outcome::Interrupted(state) => {
            resume::write(&resume_path, &state)?;
            return Err(Error::Interrupted {
                path: resume_path,
                epoch: state.epoch,
                batch: state.batches_done,
            });
        }
    };
    let test = pool.install(|| network::evaluate(&params, &data.test.images, &data.test.labels));
    say(format_args!(
        "Test accuracy {:.2} % (loss {:.4}) on {} images",
        100.0 * test.accuracy(),
        test.mean_loss(),
        test.count
    ));

    let checkpoint = Checkpoint {
        dataset: which,
        params,
    };
    let ckpt_path = sibling(&args.out, "ckpt");
    checkpoint::write(&ckpt_path, &checkpoint)?;
    let int8_accuracy =
        pool.install(|| write_model(&args.out, &checkpoint, &train_split, &data.test))?;
    let history = History {
        variant,
        dataset: which,
        seed: config.seed,
        batch: config.batch,
        learning_rate: config.learning_rate,
        augment: args.augment.name().into(),
        augment_params: config.recipe.augment.to_string(),
        lr_schedule: config.recipe.schedule.name().into(),
        warmup_epochs: config.recipe.warmup_epochs,
        threads,
        epochs,
        test_accuracy: Some(test.accuracy()),
        test_accuracy_int8: int8_accuracy,
    };
    let history_path = sibling(&args.out, "history.json");
    let json = serde_json::to_vec_pretty(&history)
        .map_err(|e| Error::InvalidArgument(format!("cannot encode the history: {e}")))?;
    crate::atomic::write_atomic(&history_path, &json).map_err(|e| Error::io(&history_path, e))?;
    say(format_args!(
        "Wrote {}, {} and {}",
        args.out.display(),
        ckpt_path.display(),
        history_path.display()
    ));
    // The run it held is complete now; a stale one would only invite a second resume.
    if let Some(path) = &args.resume
        && *path == resume_path
    {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// The settings line's words on the schedule: nothing for Keras's constant rate.
fn schedule_note(recipe: &Recipe) -> String {
    match (recipe.schedule, recipe.warmup_epochs) {
        (Shape::Constant, 0) => String::new(),
        (shape, 0) => format!(" ({})", shape.name()),
        (shape, warmup) => format!(" ({}, {warmup} warm-up epochs)", shape.name()),
    }
}

/// The settings line's words on augmentation: nothing without it.
fn augment_note(choice: Choice, recipe: &Recipe) -> String {
    if recipe.augment.is_identity() {
        String::new()
    } else {
        format!(", augment {} ({})", choice.name(), recipe.augment)
    }
}

/// `--learning-rate`: a positive, finite `f32`.
fn parse_learning_rate(text: &str) -> std::result::Result<f32, String> {
    match text.parse::<f32>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        Ok(_) => Err("must be a positive, finite number".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// What Ctrl-C (SIGINT) does during `trainer`'s run. While training, the first press sets
/// `stop`: the batch in progress is finished, the state saved and the process exits with
/// 130. While the trained model is evaluated and written (`writing`, a few seconds), the
/// first press only says that the files are being finished, so that they stay one set. A
/// second press ends the process at once, also with 130; every output is written
/// atomically, so even then no file is left half-written.
struct Interrupt {
    /// Set by the first Ctrl-C; training checks it before every batch.
    stop: Arc<AtomicBool>,
    /// Set once training is over and the outputs are being written.
    writing: Arc<AtomicBool>,
}

impl Interrupt {
    fn install() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let writing = Arc::new(AtomicBool::new(false));
        let (seen, late) = (Arc::clone(&stop), Arc::clone(&writing));
        // If a handler cannot be installed, Ctrl-C keeps its default: ending the process.
        let _ = ctrlc::set_handler(move || {
            if seen.swap(true, Ordering::SeqCst) {
                eprintln!("interrupted again: stopped at once, nothing more saved");
                std::process::exit(130);
            }
            if late.load(Ordering::SeqCst) {
                eprintln!(
                    "Ctrl-C: training is done, finishing the model files (a few seconds); \
                     press it again to stop at once"
                );
            }
        });
        Self { stop, writing }
    }
}

/// Writes the model file `out` from the trained checkpoint and returns its test accuracy:
/// the one place where the trained model becomes `weights.bin`. The int8 model is
/// calibrated on training images, written atomically, and run by picocnn's core on `test`.
fn write_model(
    out: &Path,
    checkpoint: &Checkpoint,
    calibration: &Split,
    test: &Split,
) -> Result<Option<f64>> {
    let report = export::export(checkpoint, calibration, test, out)?;
    say(format_args!("{report}"));
    Ok(Some(report.int8_accuracy))
}

fn run_evaluate(args: &EvaluateArgs) -> Result<()> {
    let checkpoint = checkpoint::read(&args.checkpoint)?;
    let dir = dataset::resolve_dir(args.data.as_deref());
    let test = dataset::load_part(&dir, checkpoint.dataset, dataset::Part::Test)?;
    let params: &Params = &checkpoint.params;
    let tally = network::evaluate(params, &test.images, &test.labels);
    say(format_args!(
        "{}: variant {} on {}: test accuracy {:.2} % (loss {:.4}) on {} images",
        args.checkpoint.display(),
        variant_name(params.variant),
        checkpoint.dataset.name(),
        100.0 * tally.accuracy(),
        tally.mean_loss(),
        tally.count
    ));
    if checkpoint.dataset == Dataset::Mnist {
        report_heldout(params, &dir)?;
    }
    Ok(())
}

/// Prints the f32 model's accuracy on the held-out digits in `dir`, overall and per class;
/// says how to get them if they are missing.
fn report_heldout(params: &Params, dir: &Path) -> Result<()> {
    let Some(set) = crate::heldout::load(dir)? else {
        say(format_args!(
            "{} not found in {} (scripts/fetch-data.sh copies them there)",
            crate::heldout::NAME,
            dir.join(crate::heldout::DIR).display()
        ));
        return Ok(());
    };
    let logits = network::predict(params, &set.images);
    let predicted = logits.iter().map(network::argmax);
    let counts = crate::heldout::per_class(&set.labels, predicted);
    let correct: usize = counts.iter().map(|c| c.0).sum();
    let per_class: Vec<String> = counts
        .iter()
        .enumerate()
        .map(|(class, &(c, t))| format!("{class}: {:.1}", 100.0 * c as f64 / t.max(1) as f64))
        .collect();
    say(format_args!(
        "{}: accuracy {:.2} % on {} images (per class %: {})",
        crate::heldout::NAME,
        100.0 * correct as f64 / set.len().max(1) as f64,
        set.len(),
        per_class.join(", ")
    ));
    Ok(())
}
