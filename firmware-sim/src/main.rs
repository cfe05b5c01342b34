//! `firmware-sim`: classify images with the picocnn core as a firmware would, verify the
//! core against the host references on a whole test set, cut images out of a dataset.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use firmware_sim::device::{Device, Weights};
use firmware_sim::error::{Error, Result};
use firmware_sim::{images, render, verify};
use picocnn::shape::{IMAGE_PIXELS, IMAGE_SIDE};
use picocnn::{Dataset, Scratch, Variant};
use picocnn_host::cli::{self, DatasetArg, VariantArg, exit};
use picocnn_host::dataset::{self, Part};
use picocnn_host::idx;

#[derive(Debug, Parser)]
#[command(
    name = "firmware-sim",
    version,
    about = "Runs the picocnn core as a firmware would and checks it against the host",
    after_help = "Errors print one line `error: ...` and exit with status 2; `verify` exits 1 \
                  when the core and the host int8 reference disagree, or when the core's \
                  accuracy falls more than --max-drop below the f32 model's."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Classify images: IDX files (one or many 28x28 images), PNG or PGM pictures of any
    /// size (fitted to 28x28 the way MNIST was made).
    Classify {
        /// Image files.
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// The int8 model.
        #[arg(long, default_value = "weights.bin")]
        weights: PathBuf,
        /// Refuse a weights file of the other variant.
        #[arg(long)]
        variant: Option<VariantArg>,
        /// Print one JSON object per image (one per line).
        #[arg(long, conflicts_with = "lines")]
        json: bool,
        /// Print the firmware's result lines (`image N class C logits ...`) and nothing else.
        #[arg(long)]
        lines: bool,
    },
    /// Run a whole test set through the core, the host int8 reference and the host f32
    /// model (the `.ckpt` next to the weights), and for an MNIST model the held-out font
    /// digits too (`DATA/heldout`, not MNIST); exit 1 on any integer logit mismatch, or if
    /// the core's test accuracy falls more than --max-drop below the f32 model's.
    Verify {
        /// The int8 model; its f32 checkpoint is the same path with extension `.ckpt`.
        #[arg(long, default_value = "weights.bin")]
        weights: PathBuf,
        /// Dataset whose test set to run (default: the one the model was trained on).
        #[arg(long)]
        dataset: Option<DatasetArg>,
        /// Directory holding `mnist/` and `fashion/` (default: `$PICOCNN_DATA`, else `data`).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Refuse a weights file of the other variant.
        #[arg(long)]
        variant: Option<VariantArg>,
        /// Only the first N test images.
        #[arg(long)]
        limit: Option<usize>,
        /// Largest drop of the core's test accuracy below the f32 model's, in percentage
        /// points, before verify fails (with --limit, one image may be worth more than that).
        #[arg(long, value_name = "PP", default_value_t = verify::DEFAULT_MAX_DROP, value_parser = parse_max_drop)]
        max_drop: f64,
    },
    /// Cut test images out of a dataset into an IDX file (and their labels into another).
    Cut {
        /// Dataset to cut from.
        #[arg(long, default_value = "mnist")]
        dataset: DatasetArg,
        /// Directory holding `mnist/` and `fashion/` (default: `$PICOCNN_DATA`, else `data`).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Index of the first test image.
        #[arg(long)]
        index: usize,
        /// Number of consecutive images.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        count: u32,
        /// IDX image file to write.
        #[arg(long)]
        out: PathBuf,
        /// IDX label file to write as well.
        #[arg(long)]
        labels: Option<PathBuf>,
    },
    /// Keras-like table of a weights file's network: per layer output shape, parameters,
    /// MACs, int8 bytes and activation RAM, with totals (as `trainer summary`).
    Summary {
        /// The int8 model.
        #[arg(long, default_value = "weights.bin")]
        weights: PathBuf,
    },
    /// Describe a weights file: variant, dataset, sizes, MACs, scratch RAM (`key: value` lines).
    Info {
        /// The int8 model.
        #[arg(long, default_value = "weights.bin")]
        weights: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli: Cli = match cli::parse_or_exit() {
        Ok(cli) => cli,
        Err(status) => return status,
    };
    let outcome = match cli.command {
        Command::Classify {
            images,
            weights,
            variant,
            json,
            lines,
        } => classify(&images, &weights, variant.map(Variant::from), json, lines),
        Command::Verify {
            weights,
            dataset,
            data,
            variant,
            limit,
            max_drop,
        } => run_verify(verify::Options {
            weights,
            dataset: dataset.map(Dataset::from),
            data_dir: dataset::resolve_dir(data.as_deref()),
            variant: variant.map(Variant::from),
            limit,
            max_drop,
        }),
        Command::Cut {
            dataset,
            data,
            index,
            count,
            out,
            labels,
        } => cut(
            dataset.into(),
            data.as_deref(),
            index,
            count as usize,
            &out,
            labels.as_deref(),
        ),
        Command::Summary { weights } => summary(&weights),
        Command::Info { weights } => info(&weights),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", cli::escaped(&error.to_string()));
            ExitCode::from(exit::USAGE)
        }
    }
}

fn classify(
    paths: &[PathBuf],
    weights: &Path,
    variant: Option<Variant>,
    json: bool,
    lines: bool,
) -> Result<ExitCode> {
    let weights = Weights::read(weights)?;
    let model = weights.model(variant)?;
    let names = model.class_names();
    // Read every input first: a bad file stops the run before anything is printed.
    let mut inputs = Vec::new();
    for path in paths {
        inputs.extend(images::load(path, model.dataset())?);
    }
    let mut device = Device::new(model);
    if let Some(problem) = device.degenerate() {
        // A warning, not an error: the classes are printed as computed. stderr may be
        // closed too; the warning is then lost, never a panic.
        let _ = writeln!(
            std::io::stderr(),
            "warning: {}: {problem}: this model cannot tell classes apart (compare it with \
             its f32 model: firmware-sim verify)",
            cli::escaped(&weights.path().display().to_string())
        );
    }
    let mut total = Duration::ZERO;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (index, image) in inputs.iter().enumerate() {
        let (prediction, time) =
            device
                .classify_timed(&image.pixels)
                .map_err(|source| Error::Model {
                    path: PathBuf::from(&image.source),
                    source,
                })?;
        total += time;
        let text = if lines {
            render::result_line(index, &prediction) + "\n"
        } else if json {
            let result = render::JsonResult {
                source: &image.source,
                index,
                class: prediction.class,
                name: names[prediction.class],
                logits: prediction.logits,
                probabilities: prediction.probabilities,
                micros: time.as_secs_f64() * 1e6,
            };
            serde_json::to_string(&result).unwrap_or_default() + "\n"
        } else {
            render::human(&image.source, &prediction, &names, time)
        };
        if !emit(&mut out, &text)? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if !lines && !json && inputs.len() > 1 {
        let summary = format!(
            "{} images, {:.3} ms per image (one thread, static scratch)\n",
            inputs.len(),
            total.as_secs_f64() * 1e3 / inputs.len() as f64
        );
        emit(&mut out, &summary)?;
    }
    emit(&mut out, "")?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` to standard output (flushing when `text` is empty); `false` once the
/// reader has gone away (`firmware-sim classify ... | head`), which is not an error.
fn emit(out: &mut impl Write, text: &str) -> Result<bool> {
    let written = if text.is_empty() {
        out.flush()
    } else {
        out.write_all(text.as_bytes())
    };
    match written {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(Error::io("<standard output>", e)),
    }
}

/// `--max-drop`: a finite number of percentage points, 0 or more.
fn parse_max_drop(text: &str) -> Result<f64> {
    match text.parse::<f64>() {
        Ok(points) if points.is_finite() && points >= 0.0 => Ok(points),
        _ => Err(Error::MaxDrop),
    }
}

fn run_verify(options: verify::Options) -> Result<ExitCode> {
    let report = verify::run(&options)?;
    out(&report)?;
    Ok(
        if report.any_mismatch().is_some() || report.drop_too_large() {
            ExitCode::from(exit::MISMATCH)
        } else {
            ExitCode::SUCCESS
        },
    )
}

fn cut(
    dataset: Dataset,
    data: Option<&Path>,
    index: usize,
    count: usize,
    out_path: &Path,
    labels_out: Option<&Path>,
) -> Result<ExitCode> {
    cli::check_output_path(out_path)?;
    if let Some(labels) = labels_out {
        cli::check_output_path(labels)?;
        cli::check_distinct(
            &[(out_path, "image output (--out)"), (labels, "--labels")],
            &[],
        )?;
    }
    let test = dataset::load_part(&dataset::resolve_dir(data), dataset, Part::Test)?;
    let end = index
        .checked_add(count)
        .filter(|&end| end <= test.len())
        .ok_or(Error::IndexOutOfRange {
            dataset,
            index: index.saturating_add(count) - 1,
            len: test.len(),
        })?;
    let count = end - index;
    let pixels = test.images[index * IMAGE_PIXELS..end * IMAGE_PIXELS].to_vec();
    let labels = &test.labels[index..end];
    idx::write_images(
        out_path,
        &idx::Images {
            count,
            rows: IMAGE_SIDE,
            cols: IMAGE_SIDE,
            pixels,
        },
    )?;
    if let Some(path) = labels_out {
        idx::write_labels(path, labels)?;
    }
    let names = dataset.class_names();
    if count == 1 {
        out(format_args!(
            "{}: {} test image {index} (label {})\n",
            cli::escaped(&out_path.display().to_string()),
            dataset.name(),
            names[usize::from(labels[0])]
        ))?;
    } else {
        out(format_args!(
            "{}: {} test images {index}..{end}\n",
            cli::escaped(&out_path.display().to_string()),
            dataset.name()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(weights: &Path) -> Result<ExitCode> {
    let weights = Weights::read(weights)?;
    let model = weights.model(None)?;
    let mut table = picocnn_host::summary::summary(model.variant());
    table.file_bytes = Some(model.file_bytes());
    out(format_args!(
        "{}: {} model\n{table}",
        cli::escaped(&weights.path().display().to_string()),
        model.dataset().name()
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn info(weights: &Path) -> Result<ExitCode> {
    let weights = Weights::read(weights)?;
    let model = weights.model(None)?;
    let variant = model.variant();
    let classes: Vec<String> = model
        .class_names()
        .iter()
        .map(|name| cli::escaped(name).to_string())
        .collect();
    out(format_args!(
        "file: {}\nvariant: {}\ndataset: {}\nfile_bytes: {}\ntensor_bytes: {}\nparams: {}\n\
         macs: {}\nscratch_bytes: {}\nclasses: {}\n",
        cli::escaped(&weights.path().display().to_string()),
        variant.name(),
        model.dataset().name(),
        model.file_bytes(),
        model.tensor_bytes(),
        variant.params(),
        variant.macs(),
        Scratch::BYTES,
        classes.join(", ")
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Prints to standard output through [`cli::print`]: a reader gone away ends the output
/// quietly; any other write error is the command's error.
fn out(text: impl std::fmt::Display) -> Result<()> {
    cli::print(text).map_err(|e| Error::io("<standard output>", e))
}
