//! `trainer [OPTIONS]`: one training run, in the order it happens: [`Run::prepare`]
//! (options, output folder, data), [`Run::start`] (fresh or resumed), [`Run::train`]
//! (until done or Ctrl-C), [`Run::finish`] (test accuracy, int8 export, history, all in
//! memory), then [`Outputs::commit`] writes the model, its checkpoint and its history
//! together, after everything that can fail has succeeded.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use clap::Args;
use picocnn::{Dataset, Variant};
use picocnn_host::atomic::write_set;
use picocnn_host::checkpoint;
use picocnn_host::cli::{
    DatasetArg, check_distinct, check_output_path, checkpoint_path, history_path, resume_path,
};
use picocnn_host::dataset::{self, Data, Part, Split};
use picocnn_host::lock::OutputLock;
use picocnn_host::params::{Checkpoint, Params};

use super::interrupt::Interrupt;
use crate::augment::Choice;
use crate::error::{Error, Result};
use crate::export;
use crate::history::{EpochRecord, History};
use crate::kernels;
use crate::network;
use crate::progress::{Console, say};
use crate::resume;
use crate::schedule::Shape;
use crate::train::{self, Outcome, Recipe, Start, TrainConfig};

/// Fraction of the training set held out for validation (Keras's `validation_split=0.1`).
const VALIDATION_SPLIT: f64 = 0.1;

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
    #[arg(long, value_name = "RATE", default_value_t = 0.001, allow_negative_numbers = true, value_parser = parse_learning_rate)]
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
    /// Train toward targets with this share spread over all classes (Keras's
    /// `label_smoothing`): 0.1 makes the true class's target 0.91 and every other 0.01.
    /// Curbs over-confidence; it helped on Fashion-MNIST (see the README). In [0, 1).
    #[arg(long, value_name = "EPS", default_value_t = 0.0, allow_negative_numbers = true, value_parser = parse_label_smoothing)]
    pub label_smoothing: f32,
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

/// Trains, exports and writes one model as the options say.
///
/// # Errors
/// Any error of the steps; [`Error::Interrupted`] after Ctrl-C, once the state is saved.
pub(super) fn run(args: &TrainArgs) -> Result<()> {
    let run = Run::prepare(args)?;
    // From here on, Ctrl-C stops training cleanly instead of ending the process.
    let interrupt = Interrupt::install();
    run.announce();
    let start = run.start()?;
    let (params, epochs) = run.train(start, &interrupt)?;
    interrupt.writing.store(true, Ordering::SeqCst);
    run.finish(params, epochs)?.commit()?;
    // The run it held is complete now; a stale one would only invite a second resume.
    if args.resume.as_deref() == Some(run.resume_path.as_path()) {
        let _ = std::fs::remove_file(&run.resume_path);
    }
    Ok(())
}

/// A training run with its settings resolved and its data loaded.
struct Run<'a> {
    args: &'a TrainArgs,
    config: TrainConfig,
    dataset: Dataset,
    threads: usize,
    data: Data,
    validation: Split,
    resume_path: PathBuf,
    /// Held from before the data is loaded until the run ends (a second trainer on the
    /// same `--out` is refused meanwhile).
    _lock: OutputLock,
}

impl<'a> Run<'a> {
    /// Resolves the options, checks the output folder, loads the data and splits off the
    /// validation images: everything that can be wrong before training starts.
    fn prepare(args: &'a TrainArgs) -> Result<Self> {
        let variant = if args.pooling {
            Variant::Pool
        } else {
            Variant::NoPool
        };
        let dataset = Dataset::from(args.dataset);
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
                augment: args.augment.resolve(dataset),
                schedule: args.lr_schedule,
                warmup_epochs: args.warmup,
                label_smoothing: args.label_smoothing,
            },
            ..TrainConfig::keras(variant)
        };
        if args.warmup as usize >= config.epochs && args.warmup > 0 {
            return Err(Error::WarmupTooLong {
                warmup: args.warmup as usize,
                epochs: config.epochs,
            });
        }
        let out_dir = args
            .out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !out_dir.is_dir() {
            return Err(Error::OutputDirMissing {
                path: args.out.clone(),
                dir: out_dir.to_owned(),
            });
        }
        check_outputs(args)?;
        let lock = OutputLock::acquire(&args.out)?;
        let data_dir = dataset::resolve_dir(args.data.as_deref());
        let mut data = dataset::load(&data_dir, dataset)?;
        let validation = match data.train.split_off_validation(VALIDATION_SPLIT) {
            Err(picocnn_host::Error::ValidationSplit { fraction, images }) => {
                return Err(picocnn_host::Error::TooFewTrainingImages {
                    path: dataset::images_path(&data_dir, dataset, Part::Train)?,
                    images,
                    fraction,
                }
                .into());
            }
            split => split?,
        };
        Ok(Run {
            args,
            config,
            dataset,
            threads,
            data,
            validation,
            resume_path: resume_path(&args.out),
            _lock: lock,
        })
    }

    /// The settings line.
    fn announce(&self) {
        let config = &self.config;
        say(format_args!(
            "Variant {} on {}: {} training / {} validation / {} test images; batch {}, \
             learning rate {}{}, {} epochs, seed {}, {} threads, {} kernels{}{}",
            config.variant.title(),
            self.dataset.name(),
            self.data.train.len(),
            self.validation.len(),
            self.data.test.len(),
            config.batch,
            config.learning_rate,
            schedule_note(&config.recipe),
            config.epochs,
            config.seed,
            self.threads,
            kernels::IMPLEMENTATION,
            augment_note(self.args.augment, &config.recipe),
            smoothing_note(&config.recipe),
        ));
    }

    /// Fresh parameters, or the state `--resume` names if it fits this run.
    fn start(&self) -> Result<Start> {
        let Some(path) = &self.args.resume else {
            if self.resume_path.is_file() {
                say(format_args!(
                    "Note: {} holds an interrupted run; this one starts afresh (to continue \
                     that one instead, add --resume {})",
                    self.resume_path.display(),
                    self.resume_path.display()
                ));
            }
            return Ok(Start::Fresh(train::init_params(
                self.config.variant,
                self.config.seed,
            )));
        };
        let state = resume::read(path)?;
        if let Some(reason) = state.mismatch(&self.config, &self.data.train) {
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
        Ok(Start::Resume(Box::new(state)))
    }

    /// Trains to the end, or saves the state and returns [`Error::Interrupted`].
    fn train(&self, start: Start, interrupt: &Interrupt) -> Result<(Params, Vec<EpochRecord>)> {
        let pool = train::thread_pool(self.threads)?;
        let mut console = Console::new();
        let outcome = pool.install(|| {
            train::train_resumable(
                start,
                &self.config,
                &self.data.train,
                &self.validation,
                &mut console,
                &interrupt.stop,
            )
        })?;
        match outcome {
            Outcome::Finished(params, epochs) => Ok((params, epochs)),
            Outcome::Interrupted(state) => {
                resume::write(&self.resume_path, &state)?;
                Err(Error::Interrupted {
                    path: self.resume_path.clone(),
                    epoch: state.epoch,
                    batch: state.batches_done,
                })
            }
        }
    }

    /// Test accuracy of the float model, the int8 model, and the history: every output's
    /// bytes, nothing written yet.
    fn finish(&self, params: Params, epochs: Vec<EpochRecord>) -> Result<Outputs> {
        let pool = train::thread_pool(self.threads)?;
        let test = &self.data.test;
        let tally = pool.install(|| network::evaluate(&params, &test.images, &test.labels));
        say(format_args!(
            "Test accuracy {:.2} % (loss {:.4}) on {} images",
            100.0 * tally.accuracy(),
            tally.mean_loss(),
            tally.count
        ));
        let checkpoint = Checkpoint {
            dataset: self.dataset,
            params,
        };
        let (model, report) = pool.install(|| {
            export::quantize_model(&checkpoint, &self.data.train, test, &self.args.out)
        })?;
        say(format_args!("{report}"));
        let config = &self.config;
        let history = History {
            variant: config.variant,
            dataset: self.dataset,
            seed: config.seed,
            batch: config.batch,
            learning_rate: config.learning_rate,
            augment: self.args.augment.name().into(),
            augment_params: config.recipe.augment.to_string(),
            lr_schedule: config.recipe.schedule.name().into(),
            warmup_epochs: config.recipe.warmup_epochs,
            label_smoothing: config.recipe.label_smoothing,
            threads: self.threads,
            epochs,
            test_accuracy: Some(tally.accuracy()),
            test_accuracy_int8: Some(report.int8_accuracy),
        };
        Ok(Outputs {
            model_path: self.args.out.clone(),
            model,
            checkpoint_path: checkpoint_path(&self.args.out),
            checkpoint: checkpoint::to_bytes(&checkpoint)?,
            history_path: history_path(&self.args.out),
            history: serde_json::to_vec_pretty(&history).map_err(Error::HistoryEncode)?,
        })
    }
}

/// A finished run's files, ready to be written together.
struct Outputs {
    model_path: PathBuf,
    model: Vec<u8>,
    checkpoint_path: PathBuf,
    checkpoint: Vec<u8>,
    history_path: PathBuf,
    history: Vec<u8>,
}

impl Outputs {
    /// Writes the three files as one set ([`write_set`]).
    fn commit(&self) -> Result<()> {
        write_set(&[
            (&self.checkpoint_path, &self.checkpoint),
            (&self.history_path, &self.history),
            (&self.model_path, &self.model),
        ])
        .map_err(|(path, e)| Error::io(path, e))?;
        say(format_args!(
            "Wrote {}, {} and {}",
            self.model_path.display(),
            self.checkpoint_path.display(),
            self.history_path.display()
        ));
        Ok(())
    }
}

/// Refuses, before any work, outputs that would replace what is not a regular file or
/// that are the same file as another output or as `--resume` (`--out x.ckpt`). The resume
/// state may be read from the file an interruption would write it to: that is how a run
/// is continued.
fn check_outputs(args: &TrainArgs) -> Result<()> {
    let (checkpoint, history, resume) = (
        checkpoint_path(&args.out),
        history_path(&args.out),
        resume_path(&args.out),
    );
    let outputs = [
        (args.out.as_path(), "model (--out)"),
        (checkpoint.as_path(), "checkpoint (.ckpt) output"),
        (history.as_path(), "history (.history.json) output"),
    ];
    for (path, _) in outputs {
        check_output_path(path)?;
    }
    check_output_path(&resume)?;
    let with_resume = [outputs.as_slice(), &[(&resume, "resume (.resume) output")]].concat();
    check_distinct(&with_resume, &[])?;
    if let Some(input) = &args.resume {
        check_distinct(&outputs, &[(input, "--resume file")])?;
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

/// The settings line's words on label smoothing: nothing without it.
fn smoothing_note(recipe: &Recipe) -> String {
    if recipe.label_smoothing == 0.0 {
        String::new()
    } else {
        format!(", label smoothing {}", recipe.label_smoothing)
    }
}

/// `--label-smoothing`: an `f32` in `[0, 1)`.
fn parse_label_smoothing(text: &str) -> std::result::Result<f32, String> {
    match text.parse::<f32>() {
        Ok(eps) if (0.0..1.0).contains(&eps) => Ok(eps),
        Ok(_) => Err("must be at least 0 and below 1".into()),
        Err(e) => Err(e.to_string()),
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
