//! Reproducibility: the same seed, data and settings give bit-identical weights, whatever
//! the number of threads; and the fused training step is exactly "gradient, then Adam".

use picocnn::Variant;
use picocnn::shape::IMAGE_PIXELS;
use picocnn_host::dataset::Split;
use picocnn_host::params::Params;
use trainer::history::EpochRecord;
use trainer::network::Network;
use trainer::optim::Adam;
use trainer::train::{self, Silent, TrainConfig};

/// Pseudo-random images (blobs of ink on a dark background, like digits) and labels.
fn synthetic_split(n: usize, seed: u64) -> Split {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut images = Vec::with_capacity(n * IMAGE_PIXELS);
    for _ in 0..n {
        images.extend((0..IMAGE_PIXELS).map(|_| {
            let r = next();
            if r % 4 == 0 { (r >> 32) as u8 } else { 0 }
        }));
    }
    let labels = (0..n).map(|_| (next() % 10) as u8).collect();
    Split::new(images, labels).unwrap()
}

fn bits(p: &Params) -> Vec<Vec<u32>> {
    p.tensors()
        .iter()
        .map(|t| t.iter().map(|x| x.to_bits()).collect())
        .collect()
}

/// Epoch records without the wall time, which legitimately differs.
fn metrics(records: &[EpochRecord]) -> Vec<[u64; 4]> {
    records
        .iter()
        .map(|r| [r.train_loss, r.train_accuracy, r.val_loss, r.val_accuracy].map(f64::to_bits))
        .collect()
}

fn train_on(
    threads: usize,
    config: &TrainConfig,
    train: &Split,
    val: &Split,
) -> (Params, Vec<EpochRecord>) {
    let pool = train::thread_pool(threads).unwrap();
    pool.install(|| train::train(config, train, val, &mut Silent))
        .unwrap()
}

#[test]
fn same_seed_gives_identical_weights_on_one_two_and_three_threads() {
    // 200 images at batch 32: six full batches and a partial one (8 images) per epoch.
    let train_split = synthetic_split(200, 1);
    let val = synthetic_split(40, 2);
    for variant in Variant::ALL {
        let config = TrainConfig {
            epochs: 2,
            seed: 5,
            ..TrainConfig::keras(variant)
        };
        let (one, h1) = train_on(1, &config, &train_split, &val);
        let (two, h2) = train_on(2, &config, &train_split, &val);
        let (three, h3) = train_on(3, &config, &train_split, &val);
        assert_ne!(
            one,
            train::init_params(variant, 5),
            "{variant:?}: training changed nothing"
        );
        assert!(
            bits(&one) == bits(&two) && bits(&one) == bits(&three),
            "{variant:?}: weights differ"
        );
        assert_eq!(metrics(&h1), metrics(&h2));
        assert_eq!(metrics(&h1), metrics(&h3));

        let other_seed = TrainConfig { seed: 6, ..config };
        let (other, _) = train_on(2, &other_seed, &train_split, &val);
        assert_ne!(
            bits(&one),
            bits(&other),
            "{variant:?}: the seed changed nothing"
        );
    }
}

#[test]
fn fused_training_step_equals_gradient_then_adam() {
    let split = synthetic_split(3 * 20, 3);
    let images = split.image_arrays();
    for variant in Variant::ALL {
        let mut fused = train::init_params(variant, 1);
        let mut plain = fused.clone();
        let (mut adam_fused, mut adam_plain) = (Adam::keras(variant), Adam::keras(variant));
        let mut net = Network::new(variant, 20);
        // Several steps, so the moments are non-zero when the comparison matters.
        for step in 0..3 {
            let batch: Vec<&[u8; IMAGE_PIXELS]> = images[step * 20..][..20].iter().collect();
            let labels = &split.labels[step * 20..][..20];
            let t1 = net.train_step(&mut fused, &mut adam_fused, &batch, labels);
            let (grads, t2) = net.gradients(&plain, &batch, labels);
            adam_plain.update(&mut plain, &grads);
            assert_eq!(t1, t2);
            assert!(
                bits(&fused) == bits(&plain),
                "{variant:?}: step {step} differs"
            );
            assert!(
                bits(&adam_fused.m) == bits(&adam_plain.m)
                    && bits(&adam_fused.v) == bits(&adam_plain.v)
            );
        }
    }
}

/// Stops the run (through the flag it shares with it) after `after` batches.
struct StopAfter<'a> {
    after: usize,
    seen: usize,
    stop: &'a std::sync::atomic::AtomicBool,
}

impl train::Observer for StopAfter<'_> {
    fn batch_done(&mut self, _so_far: &trainer::network::Tally) {
        self.seen += 1;
        if self.seen == self.after {
            self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

#[test]
fn augmentation_schedule_and_smoothing_stay_reproducible_across_threads_and_resumes() {
    use picocnn::Dataset;
    use trainer::augment::{Augment, Preset};
    use trainer::schedule::Shape;
    use trainer::train::{Outcome, Recipe, Start};

    let train_split = synthetic_split(200, 4);
    let val = synthetic_split(40, 5);
    let plain = TrainConfig {
        epochs: 3,
        seed: 9,
        ..TrainConfig::keras(Variant::Pool)
    };
    let config = TrainConfig {
        recipe: Recipe {
            augment: Augment::preset(Preset::Strong, Dataset::Mnist),
            schedule: Shape::Cosine,
            warmup_epochs: 1,
            label_smoothing: 0.1,
        },
        ..plain.clone()
    };
    let (one, h1) = train_on(1, &config, &train_split, &val);
    let (three, h3) = train_on(3, &config, &train_split, &val);
    assert!(
        bits(&one) == bits(&three),
        "weights differ with the threads"
    );
    assert_eq!(metrics(&h1), metrics(&h3));
    let (unaugmented, _) = train_on(2, &plain, &train_split, &val);
    assert_ne!(bits(&one), bits(&unaugmented), "the recipe changed nothing");

    // Stopped in the middle of the second epoch (7 batches an epoch), then resumed.
    let pool = train::thread_pool(2).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut observer = StopAfter {
        after: 10,
        seen: 0,
        stop: &stop,
    };
    let start = Start::Fresh(train::init_params(Variant::Pool, config.seed));
    let outcome = pool
        .install(|| {
            train::train_resumable(start, &config, &train_split, &val, &mut observer, &stop)
        })
        .unwrap();
    let Outcome::Interrupted(state) = outcome else {
        panic!("the run did not stop");
    };
    assert_eq!((state.epoch, state.batches_done), (2, 3));
    let mut other = (*state).clone();
    other.recipe.schedule = Shape::Constant;
    assert!(other.mismatch(&config, &train_split).is_some());
    let mut other = (*state).clone();
    other.recipe.label_smoothing = 0.0;
    assert!(other.mismatch(&config, &train_split).is_some());
    let never = std::sync::atomic::AtomicBool::new(false);
    let outcome = pool
        .install(|| {
            train::train_resumable(
                Start::Resume(state),
                &config,
                &train_split,
                &val,
                &mut Silent,
                &never,
            )
        })
        .unwrap();
    let Outcome::Finished(resumed, records) = outcome else {
        panic!("the resumed run stopped");
    };
    assert!(bits(&resumed) == bits(&one), "the resumed run differs");
    assert_eq!(metrics(&records), metrics(&h1));
}
