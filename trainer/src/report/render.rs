//! The `report` entry point: every plot for a folder of trained models, in one folder.
//!
//! For each `<stem>.history.json` in the models folder, `<stem>.bin` must be the int8
//! model the trainer exported. Predictions for the per-image plots and the confusion
//! matrices come from that file run by the core (`picocnn::Model`), i.e. exactly what
//! ships to a microcontroller, on the whole test set of the model's dataset.

use std::path::{Path, PathBuf};
use std::time::Instant;

use picocnn::shape::CLASSES;
use picocnn::{Dataset, Model, Prediction, Scratch, Variant};
use picocnn_host::frame;

use super::augmented::{AUGMENT_COLUMNS, HeldOutResult, plot_augmented, plot_heldout};
use super::comparison::{Comparison, VariantFigures, plot_comparison};
use super::confusion::{Confusion, plot_confusion};
use super::curves::{dataset_title, plot_training_curves};
use super::samples::{Sample, plot_prediction_grid, plot_probabilities};
use crate::error::{Error, Result};
use crate::history::History;
use picocnn_host::dataset::{self, Part, Split};
use picocnn_host::heldout;
use picocnn_host::summary::{group_thousands, summary};

/// Suffix of the training history next to each model.
pub const HISTORY_SUFFIX: &str = ".history.json";

/// Test images in the prediction grid.
const GRID_IMAGES: usize = 40;
/// Misclassified test images shown in the second grid.
const MISTAKE_IMAGES: usize = 20;
/// Images timed one after another, on one thread, for the time per inference.
const TIMED_IMAGES: usize = 1000;
/// Timed passes over those images; the fastest counts.
const TIMING_PASSES: usize = 3;

/// The files of one trained model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    /// The int8 model, `<stem>.bin`.
    pub weights: PathBuf,
    /// Its training history, `<stem>.history.json`.
    pub history: PathBuf,
}

/// What [`write_report`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Every PNG written, in order.
    pub files: Vec<PathBuf>,
    /// The figures of the comparison plot; `Display` prints them as a table.
    pub comparison: Comparison,
}

/// Finds the trained models in `dir`: every `<stem>.history.json` with its `<stem>.bin`,
/// sorted by file name.
///
/// # Errors
/// [`picocnn_host::Error::Io`] if `dir` cannot be read; [`Error::NoModels`] if it holds no
/// history, [`Error::ModelMissing`] if a history has no model file next to it.
pub fn find_models(dir: &Path) -> Result<Vec<ModelFiles>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(HISTORY_SUFFIX) else {
            continue;
        };
        let weights = dir.join(format!("{stem}.bin"));
        if !weights.is_file() {
            return Err(Error::ModelMissing {
                history: path,
                weights,
            });
        }
        found.push(ModelFiles {
            weights,
            history: path,
        });
    }
    found.sort_by(|a, b| a.weights.cmp(&b.weights));
    if found.is_empty() {
        return Err(Error::NoModels {
            dir: dir.to_owned(),
        });
    }
    Ok(found)
}

/// Reads a training history written by the trainer.
///
/// # Errors
/// [`picocnn_host::Error::Io`] if it cannot be read,
/// [`picocnn_host::Error::FileOverLimit`] if it is larger than
/// [`MAX_HISTORY_BYTES`](crate::history::MAX_HISTORY_BYTES), [`Error::HistoryFile`] if it
/// is not a history.
pub fn read_history(path: &Path) -> Result<History> {
    let bytes =
        picocnn_host::bounded::read(path, "training history", crate::history::MAX_HISTORY_BYTES)?;
    let history: History = serde_json::from_slice(&bytes).map_err(|source| Error::HistoryFile {
        path: path.to_path_buf(),
        source,
    })?;
    check_history(&history).map_err(|message| Error::HistoryFile {
        path: path.to_path_buf(),
        source: serde::de::Error::custom(message),
    })?;
    Ok(history)
}

/// Refuses values no training run writes (see
/// [`EpochRecord::implausible`](crate::history::EpochRecord::implausible)): a loss of
/// 1.8e308 made the plot's axis loop forever.
fn check_history(history: &History) -> std::result::Result<(), String> {
    for r in &history.epochs {
        if let Some(bad) = r.implausible() {
            return Err(format!(
                "epoch {}: {} {:e} is not {}",
                r.epoch, bad.name, bad.value, bad.expected
            ));
        }
    }
    Ok(())
}

/// One model loaded and run over the test set.
struct Evaluated {
    files: ModelFiles,
    history: History,
    variant: Variant,
    dataset: Dataset,
    class_names: [String; CLASSES],
    file_bytes: usize,
    logit_scale: f32,
    predictions: Vec<Prediction>,
    micros_per_inference: f64,
}

/// Renders every plot for the models in `models_dir` into `out_dir` (created if needed),
/// reading test images from `data_dir`:
///
/// - `training-curves.png`: accuracy and loss per epoch of all models;
/// - per model `<stem>`: `<stem>-predictions.png` (the first 40 test images),
///   `<stem>-mistakes.png` (the first 20 misclassified), `<stem>-probabilities.png`
///   (logits and softmax of four images), `<stem>-confusion.png`;
/// - `comparison.png`: the variants side by side;
/// - `augmented.png`: the first training images under each `--augment` preset;
/// - `heldout.png` (MNIST, when `data_dir/heldout` exists): int8 accuracy per digit on
///   the held-out digits.
///
/// Predictions come from the int8 model run by the core on the whole test set; the
/// time per inference is measured on this host, one image after another on one thread.
///
/// # Errors
/// Any error of [`find_models`], [`read_history`], loading the dataset, or writing a
/// plot; [`picocnn_host::Error::ModelFile`] if a model file is rejected by the core;
/// [`Error::HistoryMismatch`] if a model's variant or dataset disagrees with its history,
/// [`Error::MixedDatasets`] if the models were trained on different datasets.
pub fn write_report(models_dir: &Path, data_dir: &Path, out_dir: &Path) -> Result<Report> {
    let models = find_models(models_dir)?;
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let mut test: Option<(Dataset, Split)> = None;
    let mut evaluated = Vec::new();
    for files in models {
        let history = read_history(&files.history)?;
        let bytes = frame::read(&frame::MODEL, &files.weights)?;
        let model = Model::from_bytes(&bytes).map_err(|source| picocnn_host::Error::ModelFile {
            path: files.weights.clone(),
            source,
        })?;
        picocnn_host::cli::check_class_names(&files.weights, &model.class_names())?;
        if model.variant() != history.variant || model.dataset() != history.dataset {
            return Err(Error::HistoryMismatch {
                weights: files.weights.clone(),
                model: format!("{} on {}", model.variant().name(), model.dataset().name()),
                history: format!("{} on {}", history.variant.name(), history.dataset.name()),
            });
        }
        let (dataset, split) = match &mut test {
            Some(loaded) => loaded,
            None => test.insert((
                model.dataset(),
                dataset::load_part(data_dir, model.dataset(), Part::Test)?,
            )),
        };
        if *dataset != model.dataset() {
            return Err(Error::MixedDatasets {
                dir: models_dir.to_owned(),
            });
        }
        let predictions = classify_all(&model, split);
        let micros_per_inference = time_inference(&model, split);
        evaluated.push(Evaluated {
            variant: model.variant(),
            dataset: model.dataset(),
            class_names: model.class_names().map(str::to_string),
            file_bytes: model.file_bytes(),
            logit_scale: model.logit_scale(),
            files,
            history,
            predictions,
            micros_per_inference,
        });
    }
    let Some((dataset, test)) = test else {
        return Err(Error::NoModels {
            dir: models_dir.to_owned(),
        });
    };

    let mut files = Vec::new();
    let curves = out_dir.join("training-curves.png");
    let histories: Vec<History> = evaluated.iter().map(|e| e.history.clone()).collect();
    plot_training_curves(&histories, &curves)?;
    files.push(curves);
    for e in &evaluated {
        files.extend(write_model_plots(e, &test, out_dir)?);
    }
    let comparison = comparison(&evaluated, &test, dataset);
    let path = out_dir.join("comparison.png");
    plot_comparison(&comparison, &path)?;
    files.push(path);
    // Training images when the training set is there (reports usually have it), else the
    // test images: the transforms are the same.
    let train = match dataset::load_part(data_dir, dataset, Part::Train) {
        Ok(train) => Some(train),
        Err(picocnn_host::Error::DatasetMissing { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let source = train.as_ref().unwrap_or(&test);
    let path = out_dir.join("augmented.png");
    let first = source
        .image_arrays()
        .get(..AUGMENT_COLUMNS)
        .unwrap_or_default();
    plot_augmented(first, dataset, 0, &path)?;
    files.push(path);
    if dataset == Dataset::Mnist {
        files.extend(write_heldout(&evaluated, data_dir, out_dir)?);
    }
    Ok(Report { files, comparison })
}

/// `heldout.png`: every model's int8 accuracy per class on the held-out digits, if
/// `data_dir` has them (nothing otherwise).
fn write_heldout(evaluated: &[Evaluated], data_dir: &Path, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let Some(set) = heldout::load(data_dir)? else {
        return Ok(Vec::new());
    };
    let mut results = Vec::new();
    for e in evaluated {
        let bytes =
            std::fs::read(&e.files.weights).map_err(|err| Error::io(&e.files.weights, err))?;
        let model = Model::from_bytes(&bytes).map_err(|source| picocnn_host::Error::ModelFile {
            path: e.files.weights.clone(),
            source,
        })?;
        let predictions = classify_all(&model, &set);
        results.push(HeldOutResult {
            name: model_stem(e).to_string(),
            per_class: heldout::per_class(&set.labels, predictions.iter().map(|p| p.class)),
        });
    }
    let path = out_dir.join("heldout.png");
    let title = format!(
        "{}: int8 accuracy per digit ({} images, not MNIST)",
        heldout::NAME,
        set.len()
    );
    plot_heldout(&results, &title, &path)?;
    Ok(vec![path])
}

/// The model's file stem (`out/pool.history.json` -> `pool`), else its variant's name.
fn model_stem(e: &Evaluated) -> &str {
    e.files
        .history
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(HISTORY_SUFFIX))
        .unwrap_or(e.variant.name())
}

/// Classifies every test image with the core, spread over the machine's cores.
fn classify_all(model: &Model<'_>, test: &Split) -> Vec<Prediction> {
    let images = test.image_arrays();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = images.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = images
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut scratch = Scratch::new();
                    part.iter()
                        .filter_map(|image| model.classify(image, &mut scratch).ok())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    })
}

/// Microseconds per `classify` on this host: the first images of the test set, one
/// after another on one thread; the fastest of [`TIMING_PASSES`] passes, since other work
/// on the machine only ever adds time.
fn time_inference(model: &Model<'_>, test: &Split) -> f64 {
    let images = test.image_arrays();
    let images = images
        .get(..TIMED_IMAGES.min(images.len()))
        .unwrap_or(images);
    let mut scratch = Scratch::new();
    let mut best = f64::INFINITY;
    for _ in 0..TIMING_PASSES {
        let start = Instant::now();
        let mut checksum = 0usize;
        for image in images {
            if let Ok(p) = model.classify(std::hint::black_box(image), &mut scratch) {
                checksum = checksum.wrapping_add(p.class);
            }
        }
        std::hint::black_box(checksum);
        best = best.min(start.elapsed().as_secs_f64());
    }
    best * 1e6 / images.len().max(1) as f64
}

fn sample(e: &Evaluated, test: &Split, index: usize) -> Option<Sample> {
    let (pixels, label) = test.get(index)?;
    let p = e.predictions.get(index)?;
    Some(Sample {
        pixels: pixels.to_vec(),
        label,
        predicted: u8::try_from(p.class).ok()?,
        logits: p.logits.map(|z| z as f32 * e.logit_scale),
        probabilities: p.probabilities,
    })
}

fn write_model_plots(e: &Evaluated, test: &Split, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let stem = e
        .files
        .history
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(HISTORY_SUFFIX))
        .unwrap_or(e.variant.name());
    let names: [&str; CLASSES] = std::array::from_fn(|k| e.class_names[k].as_str());
    let who = format!(
        "{}, int8 model on {}",
        e.variant.title(),
        dataset_title(e.dataset)
    );
    let count = e.predictions.len().min(test.len());
    let wrong: Vec<usize> = (0..count)
        .filter(|&i| sample(e, test, i).is_some_and(|s| !s.is_correct()))
        .collect();
    let mut files = Vec::new();

    let grid: Vec<Sample> = (0..GRID_IMAGES.min(count))
        .filter_map(|i| sample(e, test, i))
        .collect();
    let path = out_dir.join(format!("{stem}-predictions.png"));
    plot_prediction_grid(
        &grid,
        &names,
        &format!("First {} test images: {who}", grid.len()),
        &path,
    )?;
    files.push(path);

    let mistakes: Vec<Sample> = wrong
        .iter()
        .take(MISTAKE_IMAGES)
        .filter_map(|&i| sample(e, test, i))
        .collect();
    if !mistakes.is_empty() {
        let path = out_dir.join(format!("{stem}-mistakes.png"));
        let title = format!(
            "First {} of {} misclassified test images: {who}",
            mistakes.len(),
            wrong.len()
        );
        plot_prediction_grid(&mistakes, &names, &title, &path)?;
        files.push(path);
    }

    // Three typical images and the first mistake.
    let mut picks: Vec<usize> = (0..3.min(count)).collect();
    picks.extend(wrong.first().copied().filter(|i| !picks.contains(i)));
    let chosen: Vec<Sample> = picks.iter().filter_map(|&i| sample(e, test, i)).collect();
    let path = out_dir.join(format!("{stem}-probabilities.png"));
    let note = format!(
        "{}, int8 core: integer logits x {} (exact, one common scale)",
        e.variant.title(),
        format_scale(e.logit_scale)
    );
    plot_probabilities(&chosen, &names, &note, &path)?;
    files.push(path);

    let predicted: Vec<u8> = e
        .predictions
        .iter()
        .map(|p| u8::try_from(p.class).unwrap_or(u8::MAX))
        .collect();
    let confusion = Confusion::from_predictions(&test.labels, &predicted);
    let path = out_dir.join(format!("{stem}-confusion.png"));
    plot_confusion(
        &confusion,
        &names,
        &format!("Confusion matrix: {who}"),
        &path,
    )?;
    files.push(path);
    Ok(files)
}

/// `2^-16` for a power of two, else the number.
fn format_scale(scale: f32) -> String {
    let log = f64::from(scale).log2();
    if scale > 0.0 && log.fract() == 0.0 {
        format!("2^{log:.0}")
    } else {
        format!("{scale:e}")
    }
}

fn comparison(evaluated: &[Evaluated], test: &Split, dataset: Dataset) -> Comparison {
    let variants = evaluated
        .iter()
        .map(|e| {
            let right = e
                .predictions
                .iter()
                .zip(&test.labels)
                .filter(|(p, l)| p.class == usize::from(**l))
                .count();
            let epochs = &e.history.epochs;
            let seconds = epochs.iter().map(|r| r.seconds).sum::<f64>();
            VariantFigures {
                variant: e.variant,
                accuracy_f32: e.history.test_accuracy,
                accuracy_int8: Some(right as f64 / test.len().max(1) as f64),
                params: e.variant.params(),
                flash_bytes: Some(e.file_bytes),
                peak_ram_bytes: Some(Scratch::BYTES),
                layerwise_ram_bytes: Some(summary(e.variant).layerwise_ram_bytes()),
                seconds_per_epoch: (!epochs.is_empty()).then(|| seconds / epochs.len() as f64),
                micros_per_inference: Some(e.micros_per_inference),
            }
        })
        .collect();
    let threads = evaluated.first().map_or(0, |e| e.history.threads);
    Comparison {
        dataset,
        variants,
        notes: vec![
            format!(
                "Accuracy on the {} test images: f32 as measured after training, int8 by the core.",
                group_thousands(test.len() as u64)
            ),
            "Flash: the weights.bin file. RAM: activations of one inference (weights stay in flash)."
                .to_string(),
            format!(
                "Time: mean epoch wall time with {threads} threads; inference by the int8 core on \
                 this host, one thread, best of {TIMING_PASSES} passes over {} images.",
                group_thousands(TIMED_IMAGES.min(test.len()) as u64)
            ),
        ],
    }
}
