//! Training on real MNIST, briefly: the library reaches a meaningful test accuracy, and
//! the `trainer` command writes its three files and reports bad input in one line.
//!
//! Needs the dataset (`scripts/fetch-data.sh`); looks in `$PICOCNN_DATA`, else the
//! workspace's `data/`. A missing dataset fails the test rather than skipping it.

use picocnn::{Dataset, Variant};
use picocnn_host::dataset::{self, Data, Split};
use picocnn_host::idx::{self, Images};
use std::path::{Path, PathBuf};
use std::process::Command;
use trainer::history::History;
use trainer::network;
use trainer::train::{self, Silent, TrainConfig};

fn data_dir() -> PathBuf {
    std::env::var_os(dataset::DATA_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../data"),
            PathBuf::from,
        )
}

fn mnist() -> Data {
    dataset::load(&data_dir(), Dataset::Mnist)
        .unwrap_or_else(|e| panic!("MNIST is needed (run scripts/fetch-data.sh): {e}"))
}

/// The first `n` images of a split.
fn head(split: &Split, n: usize) -> Split {
    Split::new(split.images[..n * 784].to_vec(), split.labels[..n].to_vec()).unwrap()
}

#[test]
fn one_epoch_on_6000_images_reaches_over_90_percent_test_accuracy() {
    let data = mnist();
    let mut subset = head(&data.train, 6000);
    let validation = subset.split_off_validation(0.1).unwrap();
    let config = TrainConfig {
        epochs: 1,
        ..TrainConfig::keras(Variant::Pool)
    };
    let pool = train::thread_pool(2).unwrap();
    let (params, epochs) = pool
        .install(|| train::train(&config, &subset, &validation, &mut Silent))
        .unwrap();
    let test = pool.install(|| network::evaluate(&params, &data.test.images, &data.test.labels));
    let epoch = &epochs[0];
    eprintln!(
        "variant B, 5400 images, 1 epoch: {epoch:?}; test accuracy {}",
        test.accuracy()
    );
    assert_eq!(test.count, 10_000);
    assert!(test.accuracy() > 0.90, "test accuracy {}", test.accuracy());
    assert!(
        epoch.val_accuracy > 0.90 && epoch.train_loss < 1.0,
        "{epoch:?}"
    );
    assert!(epoch.seconds > 0.0);
}

/// Writes the first `n` training and `m` test images of MNIST as a dataset directory.
fn small_dataset(dir: &Path, n: usize, m: usize) {
    let data = mnist();
    let mnist = dir.join("mnist");
    std::fs::create_dir_all(&mnist).unwrap();
    for (part, split, count) in [("train", &data.train, n), ("t10k", &data.test, m)] {
        let images = Images {
            count,
            rows: 28,
            cols: 28,
            pixels: split.images[..count * 784].to_vec(),
        };
        idx::write_images(&mnist.join(format!("{part}-images-idx3-ubyte")), &images).unwrap();
        idx::write_labels(
            &mnist.join(format!("{part}-labels-idx1-ubyte")),
            &split.labels[..count],
        )
        .unwrap();
    }
}

fn trainer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
}

/// Runs `trainer ARGS --data DATA --out OUT` to the end.
fn train_on(data: &Path, out: &Path, args: &[&str]) -> std::process::Output {
    trainer()
        .args(args)
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn command_line_trains_and_writes_model_checkpoint_and_history() {
    let dir = tempfile::tempdir().unwrap();
    small_dataset(dir.path(), 1000, 200);
    let out = dir.path().join("w.bin");
    let run = train_on(
        dir.path(),
        &out,
        &[
            "--pooling",
            "--epochs",
            "2",
            "--batch",
            "50",
            "--seed",
            "3",
            "--threads",
            "2",
        ],
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("900 training / 100 validation / 200 test images"),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("Epoch ")).count(),
        2,
        "{stdout}"
    );
    assert!(stdout.contains("Test accuracy"), "{stdout}");

    let checkpoint = picocnn_host::checkpoint::read(&dir.path().join("w.ckpt")).unwrap();
    assert_eq!(
        (checkpoint.dataset, checkpoint.params.variant),
        (Dataset::Mnist, Variant::Pool)
    );
    assert!(out.is_file());
    let history: History =
        serde_json::from_slice(&std::fs::read(dir.path().join("w.history.json")).unwrap()).unwrap();
    assert_eq!(
        (
            history.variant,
            history.seed,
            history.batch,
            history.threads
        ),
        (Variant::Pool, 3, 50, 2)
    );
    assert_eq!(history.epochs.len(), 2);
    assert!(
        history
            .epochs
            .iter()
            .all(|e| e.seconds > 0.0 && e.val_accuracy > 0.5)
    );
    let test_accuracy = history.test_accuracy.unwrap();
    assert!(test_accuracy > 0.6, "{test_accuracy}");

    // `trainer evaluate` reads the checkpoint back and finds the same test accuracy.
    let eval = trainer()
        .arg("evaluate")
        .arg(dir.path().join("w.ckpt"))
        .arg("--data")
        .arg(dir.path())
        .output()
        .unwrap();
    let eval_out = String::from_utf8_lossy(&eval.stdout);
    assert!(eval.status.success(), "{eval_out}");
    assert!(
        eval_out.contains(&format!("test accuracy {:.2} %", 100.0 * test_accuracy)),
        "{eval_out}"
    );
}

#[test]
fn recipe_options_reach_the_settings_line_and_the_history() {
    let dir = tempfile::tempdir().unwrap();
    small_dataset(dir.path(), 600, 100);
    let out = dir.path().join("r.bin");
    let run = train_on(
        dir.path(),
        &out,
        &[
            "--pooling",
            "--epochs",
            "2",
            "--warmup",
            "1",
            "--threads",
            "2",
            "--lr-schedule",
            "cosine",
            "--augment",
            "--label-smoothing",
            "0.1",
        ],
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}");
    let settings = stdout.lines().next().unwrap();
    for words in [
        "learning rate 0.001 (cosine, 1 warm-up epochs)",
        "augment light (rotation=6,scale=0.075,shift=1.4)",
        "label smoothing 0.1",
    ] {
        assert!(settings.contains(words), "{words}: {settings}");
    }
    let history: History =
        serde_json::from_slice(&std::fs::read(dir.path().join("r.history.json")).unwrap()).unwrap();
    assert_eq!(
        (
            history.lr_schedule.as_str(),
            history.warmup_epochs,
            history.augment.as_str(),
            history.label_smoothing
        ),
        ("cosine", 1, "light", 0.1)
    );
}

/// Runs `trainer` with `args`; asserts exit status 2 and one `error:` line naming `says`.
fn assert_fails_in_one_line(args: &[&str], says: &str) {
    let run = trainer().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains(says),
        "{args:?}: {stderr}"
    );
    assert!(run.stdout.is_empty(), "{args:?}");
}

#[test]
fn bad_arguments_and_missing_data_fail_with_one_line_and_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let missing = missing.to_str().unwrap();
    assert_fails_in_one_line(&["--epochs", "0"], "--epochs");
    assert_fails_in_one_line(&["--batch", "many"], "--batch");
    assert_fails_in_one_line(&["--learning-rate", "0"], "--learning-rate");
    assert_fails_in_one_line(&["--learning-rate", "inf"], "--learning-rate");
    assert_fails_in_one_line(&["--learning-rate", "-1"], "positive");
    assert_fails_in_one_line(&["--learning-rate", "fast"], "--learning-rate");
    assert_fails_in_one_line(&["--label-smoothing", "1"], "--label-smoothing");
    assert_fails_in_one_line(&["--label-smoothing", "-0.1"], "at least 0");
    assert_fails_in_one_line(&["--label-smoothing", "NaN"], "--label-smoothing");
    assert_fails_in_one_line(&["--dataset", "cifar"], "--dataset");
    assert_fails_in_one_line(&["--no-such-option"], "--no-such-option");
    assert_fails_in_one_line(&["--data", missing], "dataset file not found");
    assert_fails_in_one_line(&["evaluate", missing], "nothing-here");
    assert_fails_in_one_line(&["--out", &format!("{missing}/w.bin")], "does not exist");

    let corrupt = dir.path().join("corrupt.ckpt");
    std::fs::write(&corrupt, b"PCKP\x02\x07garbage\0\0\0\0").unwrap();
    assert_fails_in_one_line(&["evaluate", corrupt.to_str().unwrap()], "corrupted");
    let old = dir.path().join("old.ckpt");
    std::fs::write(&old, b"PICOCKPT\x01\0\0\0garbage").unwrap();
    assert_fails_in_one_line(&["evaluate", old.to_str().unwrap()], "older picocnn");
}
