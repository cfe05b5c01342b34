//! `verify`: a whole test set through the core (as firmware runs it), the host int8
//! reference and the host f32 model, compared image by image.
//!
//! The core and the int8 reference must produce identical integer logits for every image;
//! the f32 model is the yardstick for accuracy and top-1 agreement, and the core's test
//! accuracy may not fall more than [`Options::max_drop`] percentage points below it (a
//! model whose quantization went wrong classifies everything alike, exactly).

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use picocnn::argmax;
use picocnn::{CLASSES, Dataset, Variant};
use picocnn_host::cli::checkpoint_path;
use picocnn_host::codec;
use picocnn_host::dataset::{self, Part};
use picocnn_host::heldout;
use picocnn_host::reference::{forward_f32, logits_int8};
use rayon::prelude::*;

use crate::device::{Device, Weights};
use crate::error::{Error, Result};

/// What to verify.
#[derive(Debug, Clone)]
pub struct Options {
    /// The int8 model; the f32 checkpoint is the same path with extension `.ckpt`.
    pub weights: PathBuf,
    /// The dataset whose test set to run; `None`: the model's own. Another dataset than
    /// the model's is an error.
    pub dataset: Option<Dataset>,
    /// The directory holding the datasets.
    pub data_dir: PathBuf,
    /// If set, the weights must be this variant.
    pub variant: Option<Variant>,
    /// Only the first `limit` test images.
    pub limit: Option<usize>,
    /// The most the core's accuracy on the test set may fall below the f32 model's, in
    /// percentage points ([`DEFAULT_MAX_DROP`] unless told otherwise).
    pub max_drop: f64,
}

/// The accuracy drop from f32 to int8 that `verify` allows by default: 1 percentage point.
/// A sound export loses a few tenths at most; a degenerate one loses tens of points.
pub const DEFAULT_MAX_DROP: f64 = 1.0;

/// The first image where the core and the int8 reference disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Its index in the test set.
    pub index: usize,
    /// The core's integer logits.
    pub core: [i32; CLASSES],
    /// The host int8 reference's integer logits.
    pub reference: [i32; CLASSES],
}

/// Counts image `index` as identical when the core's logits equal the reference's, and
/// keeps the first one that does not: the one comparison of the test and held-out runs.
fn compare_logits(
    identical: &mut usize,
    first_mismatch: &mut Option<Mismatch>,
    index: usize,
    core: [i32; CLASSES],
    reference: &[i32; CLASSES],
) {
    if core == *reference {
        *identical += 1;
    } else if first_mismatch.is_none() {
        *first_mismatch = Some(Mismatch {
            index,
            core,
            reference: *reference,
        });
    }
}

/// The held-out digits (`picocnn_host::heldout`) through the same three models: how a
/// model trained on MNIST reads digits that are not MNIST, and that the core stays exact
/// on them too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldOut {
    /// Images run.
    pub images: usize,
    /// Images the core classified correctly.
    pub core_correct: usize,
    /// Images the host int8 reference classified correctly.
    pub reference_correct: usize,
    /// Images the host f32 model classified correctly.
    pub f32_correct: usize,
    /// Images whose integer logits are identical in the core and the int8 reference.
    pub identical: usize,
    /// The first held-out image whose logits differ, if any.
    pub mismatch: Option<Mismatch>,
    /// Per class: (correct, total) for the core.
    pub per_class: [(usize, usize); CLASSES],
}

/// The outcome of a verification.
#[derive(Debug, Clone)]
pub struct Report {
    /// The weights file.
    pub weights: PathBuf,
    /// Its size.
    pub file_bytes: usize,
    /// The model's variant.
    pub variant: Variant,
    /// The dataset run.
    pub dataset: Dataset,
    /// Test images run.
    pub images: usize,
    /// Images the core classified correctly.
    pub core_correct: usize,
    /// Images the host int8 reference classified correctly.
    pub reference_correct: usize,
    /// Images the host f32 model classified correctly.
    pub f32_correct: usize,
    /// Images where the core's class equals the f32 model's.
    pub core_f32_agree: usize,
    /// Images whose integer logits are identical in the core and the int8 reference.
    pub identical: usize,
    /// The first image whose logits differ, if any.
    pub mismatch: Option<Mismatch>,
    /// Wall time of the core over all images (one thread, static scratch).
    pub core_time: Duration,
    /// The held-out digits, for an MNIST model when `DATA/heldout` holds them.
    pub heldout: Option<HeldOut>,
    /// The largest accuracy drop allowed ([`Options::max_drop`]).
    pub max_drop: f64,
}

impl Report {
    /// The first image, of the test set or else of the held-out set, whose integer logits
    /// differ between the core and the int8 reference.
    pub fn any_mismatch(&self) -> Option<&Mismatch> {
        self.mismatch
            .as_ref()
            .or_else(|| self.heldout.as_ref().and_then(|h| h.mismatch.as_ref()))
    }

    /// How far the core's accuracy on the test set falls below the f32 model's, in
    /// percentage points (negative when the core does better).
    pub fn accuracy_drop(&self) -> f64 {
        percent(self.f32_correct, self.images) - percent(self.core_correct, self.images)
    }

    /// Whether the core's accuracy falls more than [`Report::max_drop`] below the f32
    /// model's: the int8 model does not do what the f32 model does.
    pub fn drop_too_large(&self) -> bool {
        self.accuracy_drop() > self.max_drop
    }
}

/// The three models' outputs on one set of images.
struct Outputs {
    /// The core's class and integer logits per image.
    core: Vec<(usize, [i32; CLASSES])>,
    /// The host int8 reference's integer logits.
    reference: Vec<[i32; CLASSES]>,
    /// The host f32 model's class.
    float: Vec<usize>,
    /// Wall time of the core.
    core_time: Duration,
}

/// Runs `images` through the core (as firmware runs it: one thread, the static scratch,
/// image after image), the host int8 reference and the host f32 model.
fn run_models(
    options: &Options,
    weights: &Weights,
    reference_model: &picocnn_host::quant_model::QuantModel,
    params: &picocnn_host::params::Params,
    images: &[[u8; picocnn::shape::IMAGE_PIXELS]],
) -> Result<Outputs> {
    let mut device = Device::new(weights.model(options.variant)?);
    let start = Instant::now();
    let mut core = Vec::with_capacity(images.len());
    for image in images {
        let prediction = device.classify(image).map_err(|source| Error::Model {
            path: options.weights.clone(),
            source,
        })?;
        core.push((prediction.class, prediction.logits));
    }
    let core_time = start.elapsed();
    let reference = images
        .par_iter()
        .map(|image| logits_int8(reference_model, image))
        .collect();
    let float = images
        .par_iter()
        .map(|image| argmax(&forward_f32(params, image).logits))
        .collect();
    Ok(Outputs {
        core,
        reference,
        float,
        core_time,
    })
}

/// Counts the held-out results from the three models' outputs.
fn held_out(outputs: &Outputs, labels: &[u8]) -> HeldOut {
    let mut h = HeldOut {
        images: labels.len(),
        core_correct: 0,
        reference_correct: 0,
        f32_correct: 0,
        identical: 0,
        mismatch: None,
        per_class: [(0, 0); CLASSES],
    };
    let rows = outputs
        .core
        .iter()
        .zip(&outputs.reference)
        .zip(&outputs.float);
    for (index, (((&(class, logits), reference), &f32_class), &label)) in
        rows.zip(labels).enumerate()
    {
        let label = usize::from(label);
        h.core_correct += usize::from(class == label);
        h.reference_correct += usize::from(argmax(reference) == label);
        h.f32_correct += usize::from(f32_class == label);
        if let Some(c) = h.per_class.get_mut(label) {
            c.0 += usize::from(class == label);
            c.1 += 1;
        }
        compare_logits(&mut h.identical, &mut h.mismatch, index, logits, reference);
    }
    h
}

/// Runs the verification.
///
/// # Errors
/// [`Error::Model`] / [`Error::WrongVariant`] for unusable weights,
/// [`Error::DatasetMismatch`] if `dataset` is not the model's, [`Error::CheckpointMismatch`]
/// if the checkpoint is another model, and the trainer's errors for missing or bad dataset
/// or checkpoint files.
pub fn run(options: &Options) -> Result<Report> {
    let weights = Weights::read(&options.weights)?;
    let model = weights.model(options.variant)?;
    let dataset = options.dataset.unwrap_or(model.dataset());
    if dataset != model.dataset() {
        return Err(Error::DatasetMismatch {
            path: options.weights.clone(),
            model: model.dataset(),
            data: dataset,
        });
    }
    let ckpt_path = checkpoint_path(&options.weights);
    let checkpoint = picocnn_host::checkpoint::read(&ckpt_path)?;
    if checkpoint.dataset != model.dataset() || checkpoint.params.variant != model.variant() {
        return Err(Error::CheckpointMismatch {
            ckpt_path,
            weights_path: options.weights.clone(),
            ckpt: format!(
                "{}/{}",
                checkpoint.params.variant.name(),
                checkpoint.dataset.name()
            ),
            weights: format!("{}/{}", model.variant().name(), model.dataset().name()),
        });
    }
    let reference_model = codec::decode(weights.bytes()).map_err(|source| Error::Model {
        path: options.weights.clone(),
        source,
    })?;
    let test = dataset::load_part(&options.data_dir, dataset, Part::Test)?;
    let count = options.limit.unwrap_or(usize::MAX).min(test.len());
    let images = test.image_arrays().get(..count).unwrap_or_default();
    let labels = test.labels.get(..count).unwrap_or_default();

    let outputs = run_models(
        options,
        &weights,
        &reference_model,
        &checkpoint.params,
        images,
    )?;
    let heldout = match dataset {
        Dataset::Mnist => match heldout::load(&options.data_dir)? {
            Some(set) => {
                let count = options.limit.unwrap_or(usize::MAX).min(set.len());
                let images = set.image_arrays().get(..count).unwrap_or_default();
                let run = run_models(
                    options,
                    &weights,
                    &reference_model,
                    &checkpoint.params,
                    images,
                )?;
                Some(held_out(&run, set.labels.get(..count).unwrap_or_default()))
            }
            None => None,
        },
        Dataset::Fashion => None,
    };
    let Outputs {
        core,
        reference,
        float,
        core_time,
    } = outputs;

    let mut report = Report {
        weights: options.weights.clone(),
        file_bytes: weights.bytes().len(),
        variant: reference_model.variant,
        dataset,
        images: count,
        core_correct: 0,
        reference_correct: 0,
        f32_correct: 0,
        core_f32_agree: 0,
        identical: 0,
        mismatch: None,
        core_time,
        heldout,
        max_drop: options.max_drop,
    };
    for (index, (((&(class, logits), reference), &f32_class), &label)) in core
        .iter()
        .zip(&reference)
        .zip(&float)
        .zip(labels)
        .enumerate()
    {
        let label = usize::from(label);
        report.core_correct += usize::from(class == label);
        report.reference_correct += usize::from(argmax(reference) == label);
        report.f32_correct += usize::from(f32_class == label);
        report.core_f32_agree += usize::from(class == f32_class);
        compare_logits(
            &mut report.identical,
            &mut report.mismatch,
            index,
            logits,
            reference,
        );
    }
    Ok(report)
}

fn percent(n: usize, of: usize) -> f64 {
    100.0 * n as f64 / of.max(1) as f64
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.images;
        writeln!(
            f,
            "verify: {} ({} variant, {}, {} bytes) on the {} test set ({n} images)",
            self.weights.display(),
            self.variant.name(),
            self.dataset.name(),
            self.file_bytes,
            self.dataset.name()
        )?;
        writeln!(
            f,
            "accuracy: core int8 {:.2} %, host int8 reference {:.2} %, host f32 {:.2} %",
            percent(self.core_correct, n),
            percent(self.reference_correct, n),
            percent(self.f32_correct, n)
        )?;
        writeln!(
            f,
            "core vs f32 top-1 agreement: {:.2} % ({}/{n})",
            percent(self.core_f32_agree, n),
            self.core_f32_agree
        )?;
        let drop = self.accuracy_drop();
        let (amount, side) = if drop < 0.0 {
            (-drop, "above")
        } else {
            (drop, "below")
        };
        if self.drop_too_large() {
            writeln!(
                f,
                "accuracy drop: core int8 is {amount:.2} pp below f32, more than the {:.2} pp \
                 allowed (--max-drop): the int8 model does not do what the f32 model does",
                self.max_drop
            )?;
        } else {
            writeln!(
                f,
                "accuracy drop: core int8 is {amount:.2} pp {side} f32 (at most {:.2} pp \
                 allowed, --max-drop)",
                self.max_drop
            )?;
        }
        writeln!(f, "integer logits identical: {}/{n}", self.identical)?;
        if let Some(m) = &self.mismatch {
            writeln!(
                f,
                "first mismatch: image {}: core {:?}, host int8 reference {:?}",
                m.index, m.core, m.reference
            )?;
        }
        writeln!(
            f,
            "core time: {:.3} ms per image (one thread, static scratch)",
            self.core_time.as_secs_f64() * 1e3 / n.max(1) as f64
        )?;
        if let Some(h) = &self.heldout {
            let m = h.images;
            writeln!(
                f,
                "{} ({m} images): core int8 {:.2} %, host int8 reference {:.2} %, host f32 \
                 {:.2} %; integer logits identical: {}/{m}",
                heldout::NAME,
                percent(h.core_correct, m),
                percent(h.reference_correct, m),
                percent(h.f32_correct, m),
                h.identical
            )?;
            writeln!(
                f,
                "{} per class (core int8, %): {}",
                heldout::NAME,
                heldout::describe_per_class(&h.per_class)
            )?;
            if let Some(x) = &h.mismatch {
                writeln!(
                    f,
                    "first held-out mismatch: image {}: core {:?}, host int8 reference {:?}",
                    x.index, x.core, x.reference
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(mismatch: Option<Mismatch>) -> Report {
        Report {
            weights: PathBuf::from("w.bin"),
            file_bytes: 696_082,
            variant: Variant::Pool,
            dataset: Dataset::Mnist,
            images: 4,
            core_correct: 3,
            reference_correct: 3,
            f32_correct: 4,
            core_f32_agree: 3,
            identical: if mismatch.is_some() { 3 } else { 4 },
            mismatch,
            core_time: Duration::from_millis(2),
            heldout: None,
            max_drop: DEFAULT_MAX_DROP,
        }
    }

    #[test]
    fn the_held_out_digits_are_reported_and_their_mismatch_counts() {
        let mut r = report(None);
        let mut per_class = [(0, 0); CLASSES];
        per_class[1] = (1, 2);
        r.heldout = Some(HeldOut {
            images: 2,
            core_correct: 1,
            reference_correct: 1,
            f32_correct: 2,
            identical: 2,
            mismatch: None,
            per_class,
        });
        let text = r.to_string();
        assert!(
            text.contains(
                "held-out font digits (2 images): core int8 50.00 %, host int8 reference \
                 50.00 %, host f32 100.00 %; integer logits identical: 2/2"
            ),
            "{text}"
        );
        assert!(
            text.contains("per class (core int8, %): 0: 0.0, 1: 50.0"),
            "{text}"
        );
        assert!(r.any_mismatch().is_none());
        let m = Mismatch {
            index: 1,
            core: [1; CLASSES],
            reference: [2; CLASSES],
        };
        if let Some(h) = r.heldout.as_mut() {
            h.mismatch = Some(m.clone());
        }
        assert_eq!(r.any_mismatch(), Some(&m));
        assert!(r.to_string().contains("first held-out mismatch: image 1"));
    }

    #[test]
    fn a_clean_report_states_the_identical_count() {
        let text = report(None).to_string();
        assert!(text.contains("integer logits identical: 4/4\n"), "{text}");
        assert!(
            text.contains(
                "accuracy: core int8 75.00 %, host int8 reference 75.00 %, host f32 100.00 %"
            ),
            "{text}"
        );
        assert!(
            text.contains("core vs f32 top-1 agreement: 75.00 % (3/4)"),
            "{text}"
        );
        assert!(!text.contains("mismatch"), "{text}");
    }

    #[test]
    fn an_accuracy_drop_beyond_the_limit_is_reported() {
        // 3 of 4 against 4 of 4: 25 points.
        let mut r = report(None);
        assert_eq!(r.accuracy_drop(), 25.0);
        assert!(r.drop_too_large());
        let text = r.to_string();
        assert!(
            text.contains(
                "accuracy drop: core int8 is 25.00 pp below f32, more than the 1.00 pp \
                 allowed (--max-drop)"
            ),
            "{text}"
        );
        r.max_drop = 25.0;
        assert!(!r.drop_too_large());
        assert!(
            r.to_string().contains(
                "accuracy drop: core int8 is 25.00 pp below f32 (at most 25.00 pp allowed"
            ),
            "{r}"
        );
        r.core_correct = 4;
        r.f32_correct = 3;
        assert!(!r.drop_too_large());
        assert!(
            r.to_string().contains("core int8 is 25.00 pp above f32"),
            "{r}"
        );
    }

    #[test]
    fn a_mismatch_is_printed_with_its_index_and_both_values() {
        let mut core = [0; CLASSES];
        core[7] = 9;
        let mut reference = core;
        reference[7] = 10;
        let text = report(Some(Mismatch {
            index: 2,
            core,
            reference,
        }))
        .to_string();
        assert!(text.contains("integer logits identical: 3/4\n"), "{text}");
        assert!(
            text.contains("first mismatch: image 2: core [0, 0, 0, 0, 0, 0, 0, 9, 0, 0], host int8 reference [0, 0, 0, 0, 0, 0, 0, 10, 0, 0]"),
            "{text}"
        );
    }
}
