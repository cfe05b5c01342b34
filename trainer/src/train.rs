//! The training loop: Keras's `model.fit` for this network, seeded and reproducible.
//!
//! Defaults are those of the classic Keras exercise: Glorot-uniform kernels, zero biases,
//! Adam 1e-3, batch 32, 5 epochs, `validation_split = 0.1` (the last tenth of the training
//! set, split off before shuffling), the rest shuffled every epoch. Initialization and
//! shuffling draw from ChaCha8 streams of the seed; the network's fixed work split makes
//! the same seed, data and settings give bit-identical weights on any number of threads.

use crate::augment::{self, Augment};
use crate::error::{Diverged, Error, Result};
use crate::history::EpochRecord;
use crate::network::{self, Network, Tally};
use crate::optim::Adam;
use crate::schedule::{Schedule, Shape};
use picocnn::Variant;
use picocnn::shape::{CLASSES, FILTERS, HIDDEN, IMAGE_PIXELS, KERNEL_TAPS};
use picocnn_host::dataset::Split;
use picocnn_host::params::Params;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// ChaCha stream numbers, so initialization and shuffling never share random numbers.
const INIT_STREAM: u64 = 1;
const SHUFFLE_STREAM: u64 = 2;

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Network variant.
    pub variant: Variant,
    /// Passes over the training images.
    pub epochs: usize,
    /// Images per Adam step.
    pub batch: usize,
    /// Seed of initialization and shuffling.
    pub seed: u64,
    /// Adam's step size (the schedule's top rate).
    pub learning_rate: f32,
    /// Augmentation and learning-rate schedule, beyond the Keras exercise.
    pub recipe: Recipe,
}

impl TrainConfig {
    /// The Keras exercise's settings for `variant`: 5 epochs, batch 32, seed 0, lr 1e-3,
    /// no augmentation, a constant rate.
    pub fn keras(variant: Variant) -> Self {
        TrainConfig {
            variant,
            epochs: 5,
            batch: 32,
            seed: 0,
            learning_rate: 1e-3,
            recipe: Recipe::default(),
        }
    }

    /// The learning-rate schedule of this run on `images` training images.
    pub fn schedule(&self, images: usize) -> Schedule {
        let batches = images.div_ceil(self.batch.max(1)) as u64;
        Schedule {
            base: self.learning_rate,
            shape: self.recipe.schedule,
            warmup_steps: u64::from(self.recipe.warmup_epochs) * batches,
            total_steps: self.epochs as u64 * batches,
        }
    }
}

/// What a run does beyond the Keras exercise: on-the-fly augmentation of the training
/// images, a learning-rate schedule and label smoothing. The default does none of them,
/// and trains to the same bytes as a build without them.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Recipe {
    /// Transforms drawn for every training image each epoch.
    pub augment: Augment,
    /// The learning rate's shape over the run.
    pub schedule: Shape,
    /// Epochs of linear warm-up before the shape starts (0: none).
    pub warmup_epochs: u32,
    /// Share of each target spread evenly over the classes, in `[0, 1)` (0: none; see
    /// [`Network::set_label_smoothing`]).
    pub label_smoothing: f32,
}

/// What the training loop reports while it runs (a progress bar, a log, or nothing).
pub trait Observer {
    /// An epoch of `images` training images starts.
    fn epoch_started(&mut self, _epoch: usize, _epochs: usize, _images: usize) {}
    /// Another batch is done; `so_far` sums the epoch's batches up to here.
    fn batch_done(&mut self, _so_far: &Tally) {}
    /// The epoch's training pass is done and validation is about to run.
    fn validating(&mut self) {}
    /// An epoch is finished, validation included.
    fn epoch_done(&mut self, _record: &EpochRecord) {}
}

/// An observer that reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Observer for Silent {}

/// Glorot-uniform (Xavier) samples for a `fan_in x fan_out` kernel, as Keras draws them:
/// uniform in `[-l, l)` with `l = sqrt(6 / (fan_in + fan_out))`.
fn glorot_uniform(rng: &mut ChaCha8Rng, len: usize, fan_in: usize, fan_out: usize) -> Vec<f32> {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    (0..len).map(|_| rng.random_range(-limit..limit)).collect()
}

/// Keras's initial parameters for `variant`: Glorot-uniform kernels, zero biases.
///
/// The convolution's fans count its receptive field, as Keras does: 9 in, 9 x 32 out.
pub fn init_params(variant: Variant, seed: u64) -> Params {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(INIT_STREAM);
    let flat = variant.flat_len();
    let mut params = Params::zeros(variant);
    params.conv_w = glorot_uniform(
        &mut rng,
        FILTERS * KERNEL_TAPS,
        KERNEL_TAPS,
        KERNEL_TAPS * FILTERS,
    );
    params.hidden_w = glorot_uniform(&mut rng, flat * HIDDEN, flat, HIDDEN);
    params.output_w = glorot_uniform(&mut rng, HIDDEN * CLASSES, HIDDEN, CLASSES);
    params
}

/// A thread pool of `threads` workers (0: one per available core).
///
/// # Errors
/// [`Error::Threads`] if the operating system refuses the threads.
pub fn thread_pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("trainer-{i}"))
        .build()
        .map_err(|source| Error::Threads { threads, source })
}

/// Trains from Keras's initialization; see [`train_from`].
///
/// # Errors
/// As [`train_from`].
pub fn train(
    config: &TrainConfig,
    train: &Split,
    validation: &Split,
    observer: &mut dyn Observer,
) -> Result<(Params, Vec<EpochRecord>)> {
    train_from(
        init_params(config.variant, config.seed),
        config,
        train,
        validation,
        observer,
    )
}

/// Trains `params` on `train` for `config.epochs` epochs on the current rayon pool
/// (run it inside [`thread_pool`]'s `install` to choose the threads), evaluating on
/// `validation` after each epoch. Returns the trained parameters and one record per epoch;
/// `seconds` is the wall time of the epoch's training pass alone.
///
/// # Errors
/// [`Error::TrainConfig`] if the training split is empty, the batch size is 0, or
/// `params` is not shaped for `config.variant`; [`Error::TrainingDiverged`] if the loss or
/// the weights stop being finite.
pub fn train_from(
    params: Params,
    config: &TrainConfig,
    train: &Split,
    validation: &Split,
    observer: &mut dyn Observer,
) -> Result<(Params, Vec<EpochRecord>)> {
    let never = AtomicBool::new(false);
    match train_resumable(
        Start::Fresh(params),
        config,
        train,
        validation,
        observer,
        &never,
    )? {
        Outcome::Finished(params, records) => Ok((params, records)),
        Outcome::Interrupted(_) => Err(Error::UnexpectedStop),
    }
}

/// Where a run starts: fresh parameters, or the saved state of an interrupted run.
#[derive(Debug)]
pub enum Start {
    /// Initial parameters (e.g. [`init_params`]).
    Fresh(Params),
    /// An interrupted run's state ([`TrainState`]), continued exactly where it stopped.
    Resume(Box<TrainState>),
}

/// How [`train_resumable`] ended.
#[derive(Debug)]
pub enum Outcome {
    /// All epochs done: the trained parameters and one record per epoch.
    Finished(Params, Vec<EpochRecord>),
    /// Stopped between two batches because the stop flag was set; resume from the state.
    Interrupted(Box<TrainState>),
}

/// Everything an interrupted run needs to continue bit for bit as if it had never
/// stopped: the settings it must be continued with, the position (epoch and batch), the
/// parameters, Adam's moments and step count, and the partial epoch's tally. The shuffle
/// order is not stored: it is replayed from the seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Seed of initialization and shuffling.
    pub seed: u64,
    /// Images per batch.
    pub batch: usize,
    /// Adam's step size.
    pub learning_rate: f32,
    /// Augmentation and schedule, which the continued run must repeat.
    pub recipe: Recipe,
    /// Training images, a check that the run continues on the same split.
    pub train_images: usize,
    /// CRC32 of the training labels, the same check.
    pub train_labels_crc: u32,
    /// Epoch in progress, from 1.
    pub epoch: usize,
    /// Batches of that epoch already trained.
    pub batches_done: usize,
    /// The epoch's loss and accuracy totals so far.
    pub tally: Tally,
    /// The epoch's training time so far, in seconds.
    pub seconds: f64,
    /// Records of the finished epochs.
    pub records: Vec<EpochRecord>,
    /// The parameters after the last finished batch.
    pub params: Params,
    /// The optimizer's moments and step count.
    pub adam: Adam,
}

impl TrainState {
    /// Why this state cannot continue a run with `config` on `train`, if it cannot.
    pub fn mismatch(&self, config: &TrainConfig, train: &Split) -> Option<String> {
        if self.params.variant != config.variant {
            return Some(format!(
                "it was saved by a run of variant {:?}, not {:?} (--pooling must match)",
                self.params.variant, config.variant
            ));
        }
        if self.seed != config.seed || self.batch != config.batch {
            return Some(format!(
                "it was saved by a run with --seed {} --batch {}, not --seed {} --batch {}",
                self.seed, self.batch, config.seed, config.batch
            ));
        }
        if self.learning_rate.to_bits() != config.learning_rate.to_bits() {
            return Some(format!(
                "it was saved by a run with learning rate {}, not {}",
                self.learning_rate, config.learning_rate
            ));
        }
        if self.recipe != config.recipe {
            return Some(
                "it was saved by a run with other --augment, --lr-schedule, --warmup or \
                 --label-smoothing options"
                    .into(),
            );
        }
        if self.train_images != train.len() || self.train_labels_crc != labels_crc(train) {
            return Some("it was saved by a run on other training data".into());
        }
        if self.epoch > config.epochs {
            return Some(format!(
                "it stopped in epoch {}, past the {} epochs asked for",
                self.epoch, config.epochs
            ));
        }
        let batches = train.len().div_ceil(config.batch.max(1));
        if self.epoch == 0
            || self.records.len() + 1 != self.epoch
            || self.batches_done >= batches
            || self.tally.count > self.batches_done * config.batch
        {
            return Some(format!(
                "its position (epoch {}, batch {} of {batches}, {} epochs recorded) is \
                 inconsistent",
                self.epoch,
                self.batches_done,
                self.records.len()
            ));
        }
        if !self.params.has_valid_shapes() {
            return Some("its parameters do not have the variant's shapes".into());
        }
        None
    }
}

fn labels_crc(train: &Split) -> u32 {
    picocnn::format::crc32(&train.labels)
}

/// [`train_from`] that can stop and resume: `stop` is checked before every batch; once it
/// is set, the batch in progress is finished and the run returns
/// [`Outcome::Interrupted`] with a state that [`Start::Resume`] continues to bit-identical
/// weights (same data, settings and thread count as [`train_from`] promises).
///
/// # Errors
/// As [`train_from`], plus [`Error::ResumeMismatch`] for a resume state that does not
/// fit `config` and `train` (see [`TrainState::mismatch`]).
pub fn train_resumable(
    start: Start,
    config: &TrainConfig,
    train: &Split,
    validation: &Split,
    observer: &mut dyn Observer,
    stop: &AtomicBool,
) -> Result<Outcome> {
    if train.is_empty() {
        return Err(Error::TrainConfig("no training images"));
    }
    if config.batch == 0 {
        return Err(Error::TrainConfig("the batch size must be at least 1"));
    }
    let (mut params, mut adam, mut records, resume_at) = match start {
        Start::Fresh(params) => {
            if params.variant != config.variant || !params.has_valid_shapes() {
                return Err(Error::TrainConfig(
                    "the initial parameters do not fit the variant",
                ));
            }
            let adam = Adam::new(config.variant, config.learning_rate);
            (params, adam, Vec::with_capacity(config.epochs), None)
        }
        Start::Resume(state) => {
            if let Some(reason) = state.mismatch(config, train) {
                return Err(Error::ResumeMismatch(reason));
            }
            let at = (state.epoch, state.batches_done, state.tally, state.seconds);
            (state.params, state.adam, state.records, Some(at))
        }
    };
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    rng.set_stream(SHUFFLE_STREAM);
    let mut net = Network::new(config.variant, config.batch);
    net.set_label_smoothing(config.recipe.label_smoothing);
    let images = train.image_arrays();
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut batch_images: Vec<&[u8; IMAGE_PIXELS]> = Vec::with_capacity(config.batch);
    let mut batch_labels: Vec<u8> = Vec::with_capacity(config.batch);
    let first_epoch = resume_at.map_or(1, |(epoch, ..)| epoch);
    let schedule = config.schedule(train.len());
    let batches_per_epoch = train.len().div_ceil(config.batch) as u64;
    let augmenting = !config.recipe.augment.is_identity();
    // The batch being trained and the next one, drawn meanwhile on whatever thread the
    // step leaves idle (its serial parts: loss, output layer, reductions).
    let buffer = vec![[0u8; IMAGE_PIXELS]; if augmenting { config.batch } else { 0 }];
    let (mut augmented, mut upcoming) = (buffer.clone(), buffer);

    for epoch in 1..=config.epochs {
        // Every epoch's shuffle is drawn, the skipped ones too, so a resumed run sees the
        // same orders as one that never stopped.
        order.shuffle(&mut rng);
        if epoch < first_epoch {
            continue;
        }
        let (skip, mut tally, seconds_before) = match resume_at {
            Some((at, skip, tally, seconds)) if at == epoch => (skip, tally, seconds),
            _ => (0, Tally::default(), 0.0),
        };
        observer.epoch_started(epoch, config.epochs, order.len());
        let start = Instant::now();
        let batches = order.chunks(config.batch).enumerate().skip(skip);
        if augmenting && let Some((_, first)) = batches.clone().next() {
            let seed = config.seed;
            let out = &mut augmented[..first.len()];
            augment_batch(&config.recipe.augment, images, first, seed, epoch, out);
        }
        for (index, batch) in batches {
            if stop.load(Ordering::SeqCst) {
                // The last update is not seen by any loss yet. A state that diverged is
                // not saved: a resume file with a value that is not finite is then
                // damaged, and is named so when read.
                if !params.is_finite() {
                    return Err(Error::TrainingDiverged {
                        epoch,
                        batch: index,
                        what: Diverged::Weights,
                    });
                }
                return Ok(Outcome::Interrupted(Box::new(TrainState {
                    seed: config.seed,
                    batch: config.batch,
                    learning_rate: config.learning_rate,
                    recipe: config.recipe,
                    train_images: train.len(),
                    train_labels_crc: labels_crc(train),
                    epoch,
                    batches_done: index,
                    tally,
                    seconds: seconds_before + start.elapsed().as_secs_f64(),
                    records,
                    params,
                    adam,
                })));
            }
            batch_labels.clear();
            batch_labels.extend(batch.iter().map(|&i| train.labels[i]));
            adam.learning_rate =
                schedule.rate((epoch - 1) as u64 * batches_per_epoch + index as u64);
            let step = if augmenting {
                let refs: Vec<&[u8; IMAGE_PIXELS]> = augmented[..batch.len()].iter().collect();
                let next = order.chunks(config.batch).nth(index + 1);
                let (step, ()) = rayon::join(
                    || net.train_step(&mut params, &mut adam, &refs, &batch_labels),
                    || {
                        if let Some(next) = next {
                            let out = &mut upcoming[..next.len()];
                            augment_batch(
                                &config.recipe.augment,
                                images,
                                next,
                                config.seed,
                                epoch,
                                out,
                            );
                        }
                    },
                );
                drop(refs);
                std::mem::swap(&mut augmented, &mut upcoming);
                step
            } else {
                batch_images.clear();
                batch_images.extend(batch.iter().map(|&i| &images[i]));
                net.train_step(&mut params, &mut adam, &batch_images, &batch_labels)
            };
            if !step.loss.is_finite() {
                return Err(Error::TrainingDiverged {
                    epoch,
                    batch: index + 1,
                    what: Diverged::Loss,
                });
            }
            tally.add(step);
            observer.batch_done(&tally);
        }
        // The last batch's update is not seen by any loss of this epoch.
        if !params.is_finite() {
            return Err(Error::TrainingDiverged {
                epoch,
                batch: order.len().div_ceil(config.batch),
                what: Diverged::Weights,
            });
        }
        let seconds = seconds_before + start.elapsed().as_secs_f64();
        observer.validating();
        let val = network::evaluate(&params, &validation.images, &validation.labels);
        let record = EpochRecord {
            epoch,
            train_loss: tally.mean_loss(),
            train_accuracy: tally.accuracy(),
            val_loss: val.mean_loss(),
            val_accuracy: val.accuracy(),
            seconds,
        };
        observer.epoch_done(&record);
        records.push(record);
    }
    Ok(Outcome::Finished(params, records))
}

/// Draws the transformed images of `batch` (indices into `images`) for `epoch` into
/// `out`, on the current rayon pool. Each image's transform is keyed by seed, epoch and
/// index, so the bytes do not depend on the threads.
fn augment_batch(
    augment: &Augment,
    images: &[[u8; IMAGE_PIXELS]],
    batch: &[usize],
    seed: u64,
    epoch: usize,
    out: &mut [[u8; IMAGE_PIXELS]],
) {
    out.par_iter_mut()
        .zip(batch.par_iter())
        .with_min_len(8)
        .for_each(|(out, &i)| augment.apply(&images[i], augment::image_key(seed, epoch, i), out));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initialization_follows_keras_and_the_seed() {
        let a = init_params(Variant::Pool, 7);
        assert_eq!(a, init_params(Variant::Pool, 7));
        assert_ne!(a.hidden_w, init_params(Variant::Pool, 8).hidden_w);
        assert!(a.has_valid_shapes());
        let limit = |fan_in: f64, fan_out: f64| (6.0 / (fan_in + fan_out)).sqrt() as f32;
        for (w, l) in [
            (&a.conv_w, limit(9.0, 288.0)),
            (&a.hidden_w, limit(5408.0, 128.0)),
            (&a.output_w, limit(128.0, 10.0)),
        ] {
            let max = w.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            // Uniform on [-l, l): the largest of many draws comes close to l, none beyond.
            assert!(max <= l && max > 0.9 * l, "max {max}, limit {l}");
            let mean = w.iter().sum::<f32>() / w.len() as f32;
            assert!(mean.abs() < 0.1 * l, "mean {mean}");
        }
        assert!(
            a.conv_b
                .iter()
                .chain(&a.hidden_b)
                .chain(&a.output_b)
                .all(|&b| b == 0.0)
        );
    }

    #[test]
    fn a_resume_state_must_fit_the_run_and_be_consistent() {
        let images: Vec<u8> = (0..100 * IMAGE_PIXELS).map(|i| (i % 251) as u8).collect();
        let labels: Vec<u8> = (0..100).map(|i| (i % 10) as u8).collect();
        let train = Split::new(images, labels).unwrap();
        let config = TrainConfig {
            epochs: 2,
            ..TrainConfig::keras(Variant::Pool)
        };
        // 100 images in batches of 32: 4 batches an epoch; stopped before the third.
        let good = TrainState {
            seed: config.seed,
            batch: config.batch,
            learning_rate: config.learning_rate,
            recipe: Recipe::default(),
            train_images: 100,
            train_labels_crc: labels_crc(&train),
            epoch: 1,
            batches_done: 2,
            tally: Tally {
                loss: 100.0,
                correct: 10,
                count: 64,
            },
            seconds: 0.5,
            records: Vec::new(),
            params: init_params(Variant::Pool, config.seed),
            adam: Adam::new(Variant::Pool, config.learning_rate),
        };
        assert_eq!(good.mismatch(&config, &train), None);
        type Edit = fn(&mut TrainState);
        let cases: [(&str, Edit); 9] = [
            ("variant", |s| s.params = init_params(Variant::NoPool, 0)),
            ("--seed 5", |s| s.seed = 5),
            ("learning rate", |s| s.learning_rate = 0.5),
            ("--lr-schedule", |s| s.recipe.schedule = Shape::Cosine),
            ("other training data", |s| s.train_labels_crc ^= 1),
            ("past the 2 epochs", |s| s.epoch = 3),
            ("inconsistent", |s| s.epoch = 0),
            ("inconsistent", |s| s.batches_done = 4),
            ("inconsistent", |s| s.tally.count = 65),
        ];
        for (says, edit) in cases {
            let mut state = good.clone();
            edit(&mut state);
            let reason = state.mismatch(&config, &train).expect(says);
            assert!(reason.contains(says), "{says}: {reason}");
        }
    }
}
