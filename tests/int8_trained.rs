//! Trained models through the whole chain: train (briefly) -> export -> `weights.bin` ->
//! core, checked against the float model and the host int8 reference.
//!
//! The quick test trains variant B for one epoch on a subset (seconds) so CI covers real
//! calibration ranges. The figures of the real 5-epoch models come from the ignored test:
//! `PICOCNN_TRAINED_DIR=DIR cargo test --release --test int8_trained -- --ignored --nocapture`
//! with `DIR/{nopool,pool}-{mnist,fashion}.ckpt` written by
//! `trainer [--pooling] [--dataset fashion] --out DIR/<name>.bin`.

mod int8_support;

use std::path::{Path, PathBuf};

use picocnn::{Dataset, Model, Variant};
use picocnn_host::dataset::{Data, Split};
use picocnn_host::params::Checkpoint;
use picocnn_host::quantize::{calibrate, quantize};
use picocnn_host::reference::{accuracy_f32, logits_int8};
use rayon::prelude::*;
use trainer::export::{core_logits, export, model_bytes};
use trainer::train::{Silent, TrainConfig, train};

/// Keras's validation split: the last 10 % of the training images.
const VALIDATION: f64 = 0.1;

/// Integer logits identical between core and host reference, out of the test set.
fn bit_exact(checkpoint: &Checkpoint, calibration: &Split, test: &Split) -> usize {
    let ranges = calibrate(checkpoint, calibration, 2000).unwrap();
    let model = quantize(checkpoint, &ranges).unwrap();
    let core = core_logits(&model_bytes(&model).unwrap(), test).unwrap();
    let reference: Vec<[i32; 10]> = test
        .image_arrays()
        .par_iter()
        .map(|image| logits_int8(&model, image))
        .collect();
    core.iter().zip(&reference).filter(|(a, b)| a == b).count()
}

fn head(split: &Split, n: usize) -> Split {
    Split::new(split.images[..n * 784].to_vec(), split.labels[..n].to_vec()).unwrap()
}

#[test]
fn quickly_trained_model_exports_and_matches_its_float_model() {
    let Data {
        train: mut all,
        test,
    } = int8_support::load(Dataset::Mnist);
    let validation = all.split_off_validation(VALIDATION).unwrap();
    let subset = head(&all, 8000);
    let config = TrainConfig {
        epochs: 1,
        ..TrainConfig::keras(Variant::Pool)
    };
    let (params, _) = train(&config, &subset, &head(&validation, 500), &mut Silent).unwrap();
    let checkpoint = Checkpoint {
        dataset: Dataset::Mnist,
        params,
    };

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("weights.bin");
    let report = export(&checkpoint, &all, &test, &out).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(report.file_bytes, bytes.len());
    let model = Model::from_bytes(&bytes).unwrap();
    assert_eq!(model.variant(), Variant::Pool);
    assert_eq!(model.dataset(), Dataset::Mnist);

    let float = accuracy_f32(&checkpoint.params, &test);
    assert!(
        float > 0.9,
        "one epoch on 8000 images reaches 90 %: {float}"
    );
    let gap = (report.int8_accuracy - float).abs();
    assert!(gap <= 0.005, "int8 {} vs f32 {float}", report.int8_accuracy);
    assert_eq!(bit_exact(&checkpoint, &all, &test), test.len());
}

/// The directory of trained checkpoints named by `PICOCNN_TRAINED_DIR`, if set.
fn trained_dir() -> Option<PathBuf> {
    std::env::var_os("PICOCNN_TRAINED_DIR").map(PathBuf::from)
}

fn check_trained(dir: &Path, variant: Variant, dataset: Dataset) {
    let path = dir.join(format!("{}-{}.ckpt", variant.name(), dataset.name()));
    let checkpoint = picocnn_host::checkpoint::read(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(checkpoint.params.variant, variant);
    let Data {
        train: mut calibration,
        test,
    } = int8_support::load(dataset);
    let _ = calibration.split_off_validation(VALIDATION).unwrap();

    let out = tempfile::tempdir().unwrap();
    let report = export(&checkpoint, &calibration, &test, &out.path().join("w.bin")).unwrap();
    let float = accuracy_f32(&checkpoint.params, &test);
    let same = bit_exact(&checkpoint, &calibration, &test);
    println!(
        "{:>6} {:>7}: f32 {:.2} %, int8 {:.2} % ({:+.2} pp), bit-exact {same}/{}, file {} bytes",
        variant.name(),
        dataset.name(),
        100.0 * float,
        100.0 * report.int8_accuracy,
        100.0 * (report.int8_accuracy - float),
        test.len(),
        report.file_bytes
    );
    assert!(
        (report.int8_accuracy - float).abs() <= 0.002,
        "more than 0.2 pp apart"
    );
    assert_eq!(same, test.len());
}

#[test]
#[ignore = "needs PICOCNN_TRAINED_DIR with the four trained checkpoints"]
fn trained_models_stay_within_0_2_pp_and_bit_exact() {
    let dir = trained_dir().expect("set PICOCNN_TRAINED_DIR");
    for dataset in Dataset::ALL {
        for variant in Variant::ALL {
            check_trained(&dir, variant, dataset);
        }
    }
}
