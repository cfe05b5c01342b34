//! Every command-line tool against every file of the bad-input corpus.
//!
//! The corpus is `tests/corpus/` (small hand-made IDX, model and checkpoint files, written
//! by `tests/corpus/generate.py`) plus model files made here from a freshly exported model
//! (truncated, flipped CRC, wrong version, variant or dataset, parameters out of range...).
//! For each file and each tool that reads that kind of file, the tool must:
//! - exit with status 2;
//! - print exactly one line on stderr, `error: ...`, naming the file and the problem;
//! - not panic;
//! - write or change no file (the whole working directory is compared before and after).
//!
//! Needs the release binaries (`cargo build --release --workspace --bins`) and MNIST.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use picocnn::format::{ModelFile, crc32};
use picocnn::{Dataset, Variant};
use picocnn_host::dataset::{Part, Split, load_part};
use picocnn_host::idx::{self, Images};
use picocnn_host::params::{Checkpoint, Params};
use picocnn_suite::{bin_path, data_dir, workspace_dir};

const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

fn corpus_dir() -> PathBuf {
    workspace_dir().join("tests/corpus")
}

/// The committed corpus files whose names start with `prefix`, sorted.
fn corpus(prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    files.sort();
    files
}

/// What the one error line must say about each committed file (lowercase substrings;
/// any one of them is enough where the tools may legitimately see the problem differently).
fn expected_problem(name: &str) -> &'static [&'static str] {
    match name {
        "images-empty.idx" | "labels-empty.idx" | "images-short-header.idx" => &["shorter than"],
        "images-labels-magic.idx" | "labels-images-magic.idx" | "images-not-idx.idx" => &["magic"],
        "images-zero-count.idx" => &["no images"],
        "images-zero-rows.idx" => &["side is zero"],
        "images-huge-dims.idx" | "labels-huge-count.idx" => &["2 gib"],
        "images-lying-count.idx"
        | "images-claims-1gib.idx"
        | "images-truncated.idx"
        | "labels-lying-count.idx"
        | "images-gzip-lying-count.idx.gz"
        | "labels-gzip-lying-count.idx.gz" => &["header claims"],
        "images-trailing-bytes.idx" => &["trailing bytes"],
        "images-20x20.idx" => &["20x20"],
        "images-bad-gzip.idx.gz"
        | "images-gzip-truncated.idx.gz"
        | "images-gzip-bad-crc.idx.gz"
        | "images-gzip-trailing-garbage.idx.gz" => &["gzip"],
        "labels-out-of-range.idx" | "labels-255.idx" => &["outside 0..=9"],
        "labels-count-mismatch.idx" => &["labels"],
        "labels-gzip-twice.idx.gz" => &["compressed twice"],
        // An empty file is a prefix of the magic: "truncated" says it as well.
        "weights-empty.bin" => &["not a picocnn model", "truncated", "empty"],
        "weights-not-a-model.bin" | "weights-idx-file.bin" => &["not a picocnn model"],
        "weights-header-only.bin" | "weights-absurd-length.bin" => &["truncated", "announces"],
        "weights-header-bad-varint.bin" => &["model file header is damaged"],
        "weights-version-99.bin" => &["format 99", "version 99", "newer"],
        "weights-version-1.bin" => &["format 1", "version 1", "retrain or re-export"],
        "weights-minus-128.bin" => &["conv.weights holds the weight -128"],
        "picture-png-huge-dims.png" | "picture-pgm-huge-dims.pgm" => &["sides must be"],
        "picture-png-zero-width.png" => &["bad png"],
        "picture-png-truncated.png" => &["bad png"],
        "picture-pgm-plain-huge-count.pgm" => &["ends early"],
        "picture-pgm-short-raster.pgm" => &["raster holds"],
        "picture-pgm-max-0.pgm" => &["maximum value"],
        "picture-pgm-bad-header.pgm" => &["header"],
        "ckpt-empty.ckpt" => &["empty"],
        "ckpt-not-a-checkpoint.ckpt" => &["magic"],
        "ckpt-header-bad-varint.ckpt" => &["checkpoint header is damaged"],
        other => panic!("{other}: add the problem it must report to expected_problem()"),
    }
}

/// Size and content of every file under `root`: what "no file written or changed" compares.
/// Symbolic links, FIFOs and other special files are recorded by kind (and a link by its
/// target), never opened: reading a FIFO would block.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u64, u32)> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                files.insert(path, (bytes.len() as u64, crc32(&bytes)));
            } else if kind.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                let target = target.as_os_str().as_encoded_bytes();
                files.insert(path, (u64::MAX, crc32(target)));
            } else {
                files.insert(path, (u64::MAX - 1, 0));
            }
        }
    }
    files
}

/// A small valid dataset, a valid int8 model with its checkpoint, and a valid image file,
/// all in one temporary directory that the tools run in.
struct Fixture {
    root: tempfile::TempDir,
    train: Split,
    test: Split,
    model: Vec<u8>,
    checkpoint: Vec<u8>,
}

impl Fixture {
    fn new() -> Fixture {
        let mnist = data_dir();
        let mut train = load_part(&mnist, Dataset::Mnist, Part::Train).unwrap();
        train.images.truncate(300 * 784);
        train.labels.truncate(300);
        let mut test = load_part(&mnist, Dataset::Mnist, Part::Test).unwrap();
        test.images.truncate(100 * 784);
        test.labels.truncate(100);
        let checkpoint = random_checkpoint(Variant::Pool);
        let ranges = picocnn_host::quantize::calibrate(&checkpoint, &train, 300).unwrap();
        let quant = picocnn_host::quantize::quantize(&checkpoint, &ranges).unwrap();
        let model = trainer::export::model_bytes(&quant).unwrap();
        let checkpoint = picocnn_host::checkpoint::to_bytes(&checkpoint).unwrap();
        Fixture {
            root: tempfile::tempdir().unwrap(),
            train,
            test,
            model,
            checkpoint,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// A dataset directory `rel` holding the valid small MNIST.
    fn dataset(&self, rel: &str) -> PathBuf {
        let dir = self.path(rel);
        let mnist = dir.join("mnist");
        std::fs::create_dir_all(&mnist).unwrap();
        for (split, images, labels) in [
            (&self.train, TRAIN_IMAGES, TRAIN_LABELS),
            (&self.test, TEST_IMAGES, TEST_LABELS),
        ] {
            let images_file = Images {
                count: split.len(),
                rows: 28,
                cols: 28,
                pixels: split.images.clone(),
            };
            idx::write_images(&mnist.join(images), &images_file).unwrap();
            idx::write_labels(&mnist.join(labels), &split.labels).unwrap();
        }
        dir
    }

    /// [`Fixture::dataset`] with the file `role` replaced by `bad` (at `role.gz` when `bad`
    /// is gzip-named, so that the loader's `.gz` fallback is exercised too). Returns the
    /// directory and the bad file's path.
    fn dataset_with(&self, rel: &str, role: &str, bad: &Path) -> (PathBuf, PathBuf) {
        let dir = self.dataset(rel);
        let mnist = dir.join("mnist");
        let target = if bad.extension().is_some_and(|e| e == "gz") {
            std::fs::remove_file(mnist.join(role)).unwrap();
            mnist.join(format!("{role}.gz"))
        } else {
            mnist.join(role)
        };
        std::fs::copy(bad, &target).unwrap();
        (dir, target)
    }

    /// Valid weights and checkpoint side by side under `rel` (`<rel>.bin`, `<rel>.ckpt`).
    fn good_model(&self, rel: &str) -> PathBuf {
        self.write(&format!("{rel}.ckpt"), &self.checkpoint);
        self.write(&format!("{rel}.bin"), &self.model)
    }

    /// A one-image IDX file.
    fn good_image(&self) -> PathBuf {
        let mut bytes = Vec::new();
        for word in [0x803u32, 1, 28, 28] {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        bytes.extend_from_slice(&self.test.images[..784]);
        self.write("digit.idx", &bytes)
    }

    /// Runs `program args` in the fixture's directory and checks the contract: status 2,
    /// one `error:` line naming `bad` and one of `problems`, no panic, no file changed.
    /// Failures are collected in `failures` so that one run reports every broken case.
    fn expect_rejected(
        &self,
        report: &mut Report,
        program: &str,
        args: &[&OsStr],
        bad: &Path,
        problems: &[&str],
    ) {
        report.runs += 1;
        let before = snapshot(self.root.path());
        // `bash` wraps a tool to set a resource limit first.
        let exe = match program {
            "bash" => PathBuf::from("bash"),
            tool => bin_path(tool),
        };
        let output = Command::new(exe)
            .args(args)
            .current_dir(self.root.path())
            .env("RUST_BACKTRACE", "0")
            .env_remove("PICOCNN_DATA")
            .output()
            .unwrap();
        let after = snapshot(self.root.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let line = lines.first().copied().unwrap_or("");
        let lower = line.to_lowercase();
        let broken = if output.status.code() != Some(2) {
            format!("exit status {:?}, not 2", output.status)
        } else if stderr.contains("panicked") {
            "panicked".into()
        } else if lines.len() != 1 {
            format!("{} lines on stderr, not 1", lines.len())
        } else if !line.starts_with("error: ") {
            "the line does not start with `error: `".into()
        } else if !line.contains(&bad.display().to_string()) {
            format!("the line does not name {}", bad.display())
        } else if !problems.iter().any(|p| lower.contains(p)) {
            format!("the line says none of {problems:?}")
        } else if before != after {
            "files were written or changed".into()
        } else {
            return;
        };
        let args: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
        report.failures.push(format!(
            "{program} {}: {broken}\n  stderr: {}",
            args.join(" "),
            stderr.trim_end().replace('\n', "\n          ")
        ));
    }
}

/// Runs of the tools and the ways they broke the contract.
#[derive(Default)]
struct Report {
    runs: usize,
    failures: Vec<String>,
}

impl Report {
    /// Passes if every run kept the contract and there were at least `min_runs`.
    fn check(&self, min_runs: usize) {
        assert!(
            self.failures.is_empty(),
            "{} of {} runs broke the contract:\n{}",
            self.failures.len(),
            self.runs,
            self.failures.join("\n")
        );
        assert!(
            self.runs >= min_runs,
            "only {} runs: corpus files missing?",
            self.runs
        );
        eprintln!("{} runs, all rejected as they should be", self.runs);
    }
}

/// He-style random parameters: a real, valid model of the right shapes (its accuracy is
/// irrelevant to these tests), so no training is needed.
fn random_checkpoint(variant: Variant) -> Checkpoint {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut params = Params::zeros(variant);
    let fan_in = [9.0, 0.0, variant.flat_len() as f32, 0.0, 128.0, 0.0];
    for (tensor, fan) in params.tensors_mut().into_iter().zip(fan_in) {
        for w in tensor.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0;
            *w = if fan > 0.0 {
                unit * (6.0f32 / fan).sqrt()
            } else {
                unit * 0.01
            };
        }
    }
    Checkpoint {
        dataset: Dataset::Mnist,
        params,
    }
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Re-encodes `good` after `edit` changed its decoded fields (header and CRC recomputed).
fn reencoded(good: &[u8], edit: impl FnOnce(&mut ModelFile<'_>)) -> Vec<u8> {
    let mut file = ModelFile::decode(good).unwrap();
    edit(&mut file);
    let mut out = vec![0u8; good.len() + 1024];
    let len = file.encode(&mut out).unwrap();
    out.truncate(len);
    out
}

/// Sets the trailing CRC32 to that of the rest of the file.
fn fix_crc(mut bytes: Vec<u8>) -> Vec<u8> {
    let split = bytes.len() - 4;
    let crc = crc32(&bytes[..split]).to_le_bytes();
    bytes[split..].copy_from_slice(&crc);
    bytes
}

/// Model files made from a valid exported model, each broken in one way, with the words
/// the error line must contain.
fn derived_bad_models(good: &[u8]) -> Vec<(&'static str, Vec<u8>, &'static [&'static str])> {
    let n = good.len();
    let mut flipped_crc = good.to_vec();
    flipped_crc[n - 1] ^= 0x01;
    let mut flipped_body = good.to_vec();
    flipped_body[n / 2] ^= 0x40;
    let mut version_3 = good.to_vec();
    assert_eq!(version_3[4], 2, "the version varint follows the magic");
    version_3[4] = 3;
    let version_3 = fix_crc(version_3);
    let mut version_1 = good.to_vec();
    version_1[4] = 1;
    let version_1 = fix_crc(version_1);
    let nan = f32::NAN;
    // One hidden weight set to -128 (0x80), outside the format's -127..=127.
    let mut minus_128 = ModelFile::decode(good).unwrap().hidden.weights.to_vec();
    minus_128[4321] = 0x80;
    let minus_128: &'static [u8] = minus_128.leak();
    vec![
        ("truncated-half", good[..n / 2].to_vec(), &["truncated"][..]),
        ("truncated-crc", good[..n - 1].to_vec(), &["truncated"]),
        ("flipped-crc", flipped_crc, &["corrupted"]),
        ("flipped-body", flipped_body, &["corrupted"]),
        (
            "trailing-bytes",
            [good, &[0u8; 16]].concat(),
            &["after its checksum"],
        ),
        ("version-3", version_3, &["format 3", "version 3", "newer"]),
        (
            "version-1",
            version_1,
            &["format 1", "version 1", "retrain or re-export"],
        ),
        (
            "variant-9",
            reencoded(good, |f| f.variant = 9),
            &["variant 9"],
        ),
        (
            "dataset-5",
            reencoded(good, |f| f.dataset = 5),
            &["dataset 5"],
        ),
        (
            "other-variant-code",
            reencoded(good, |f| f.variant = Variant::NoPool.code()),
            &["dimension pool is 2", "supports 1"],
        ),
        (
            "other-hidden-units",
            reencoded(good, |f| f.dimensions.hidden = 256),
            &["dimension hidden is 256", "supports 128"],
        ),
        (
            "conv-shift-0",
            reencoded(good, |f| f.conv.shift = &[0; 32]),
            &["conv.shift"],
        ),
        (
            "hidden-weights-short",
            reencoded(good, |f| f.hidden.weights = &f.hidden.weights[416..]),
            &["hidden.weights"],
        ),
        (
            "output-scale-nan",
            reencoded(good, |f| f.output.out_scale = nan),
            &["output.out_scale"],
        ),
        (
            "input-zero-point-0",
            reencoded(good, |f| f.input_zero_point = 0),
            &["input_zero_point"],
        ),
        (
            "hidden-weight-minus-128",
            reencoded(good, |f| f.hidden.weights = minus_128),
            &["hidden.weights holds the weight -128 (at byte 4321)"],
        ),
        (
            "negative-multiplier",
            reencoded(good, |f| f.output.multiplier = &[0xff; 40]),
            &["output.multiplier"],
        ),
    ]
}

#[test]
fn trainer_rejects_every_bad_dataset_file_before_writing_anything() {
    let fx = Fixture::new();
    let mut report = Report::default();
    let out_dir = fx.path("out");
    // A previous run's outputs, which a failed run must leave as they are.
    fx.write("out/weights.bin", &fx.model);
    fx.write("out/weights.ckpt", &fx.checkpoint);
    fx.write("out/weights.history.json", b"{}");
    let out = out_dir.join("weights.bin");
    for (kind, roles) in [
        ("images-", [TRAIN_IMAGES, TEST_IMAGES]),
        ("labels-", [TRAIN_LABELS, TEST_LABELS]),
    ] {
        for bad in corpus(kind) {
            let name = bad.file_name().unwrap().to_str().unwrap().to_owned();
            for role in roles {
                let (dir, target) = fx.dataset_with(&format!("data-{name}-{role}"), role, &bad);
                fx.expect_rejected(
                    &mut report,
                    "trainer",
                    &[
                        os("--pooling"),
                        os("--epochs"),
                        os("1"),
                        os("--threads"),
                        os("1"),
                        os("--data"),
                        dir.as_os_str(),
                        os("--out"),
                        out.as_os_str(),
                    ],
                    &target,
                    expected_problem(&name),
                );
            }
        }
    }
    report.check(2 * 24);
}

#[test]
fn firmware_sim_rejects_every_bad_image_file() {
    let fx = Fixture::new();
    let mut report = Report::default();
    let weights = fx.good_model("model");
    let pictures = corpus("picture-");
    assert!(pictures.len() >= 8, "{pictures:?}");
    for bad in corpus("images-")
        .into_iter()
        .chain(corpus("labels-"))
        .chain(pictures)
    {
        let name = bad.file_name().unwrap().to_str().unwrap().to_owned();
        let copy = fx.write(&name, &std::fs::read(&bad).unwrap());
        // A label file given as images is a wrong magic, whatever else is wrong with it.
        let problems = if name.ends_with("empty.idx") || name == "images-not-idx.idx" {
            // Classify also reads PNG and PGM: an empty or foreign file is none of them.
            &["not an idx", "shorter than", "magic", "bad png"][..]
        } else if name.starts_with("labels-") {
            &["magic", "compressed twice"][..]
        } else {
            expected_problem(&name)
        };
        if name == "images-20x20.idx" {
            continue; // checked below: classify may accept other sizes by design
        }
        fx.expect_rejected(
            &mut report,
            "firmware-sim",
            &[
                os("classify"),
                copy.as_os_str(),
                os("--weights"),
                weights.as_os_str(),
            ],
            &copy,
            problems,
        );
    }
    report.check(20);
}

#[test]
fn firmware_sim_verify_and_cut_reject_every_bad_test_set_file() {
    let fx = Fixture::new();
    let mut report = Report::default();
    let weights = fx.good_model("model");
    for (kind, role) in [("images-", TEST_IMAGES), ("labels-", TEST_LABELS)] {
        for bad in corpus(kind) {
            let name = bad.file_name().unwrap().to_str().unwrap().to_owned();
            let (dir, target) = fx.dataset_with(&format!("data-{name}"), role, &bad);
            fx.expect_rejected(
                &mut report,
                "firmware-sim",
                &[
                    os("verify"),
                    os("--weights"),
                    weights.as_os_str(),
                    os("--data"),
                    dir.as_os_str(),
                ],
                &target,
                expected_problem(&name),
            );
            let cut = fx.path("cut.idx");
            fx.expect_rejected(
                &mut report,
                "firmware-sim",
                &[
                    os("cut"),
                    os("--data"),
                    dir.as_os_str(),
                    os("--index"),
                    os("0"),
                    os("--out"),
                    cut.as_os_str(),
                ],
                &target,
                expected_problem(&name),
            );
        }
    }
    report.check(40);
}

#[test]
fn every_tool_rejects_every_bad_model_file() {
    let fx = Fixture::new();
    let mut report = Report::default();
    let image = fx.good_image();
    let data = fx.dataset("data");
    let mut cases: Vec<(String, Vec<u8>, &'static [&'static str])> = corpus("weights-")
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap().to_owned();
            let bytes = std::fs::read(&p).unwrap();
            let problems = expected_problem(&name);
            (name, bytes, problems)
        })
        .collect();
    for (name, bytes, problems) in derived_bad_models(&fx.model) {
        cases.push((format!("weights-{name}.bin"), bytes, problems));
    }
    // A checkpoint is not a model, although both files start with "PCNN".
    cases.push((
        "weights-is-a-checkpoint.bin".into(),
        fx.checkpoint.clone(),
        &["not a picocnn model"],
    ));
    assert!(cases.len() >= 20, "{} bad model files", cases.len());
    for (name, bytes, problems) in &cases {
        let bad = fx.write(&format!("models/{name}"), bytes);
        // verify reads the checkpoint next to the weights: a valid one.
        fx.write(
            &format!("models/{}", name.replace(".bin", ".ckpt")),
            &fx.checkpoint,
        );
        fx.expect_rejected(
            &mut report,
            "firmware-sim",
            &[
                os("classify"),
                image.as_os_str(),
                os("--weights"),
                bad.as_os_str(),
            ],
            &bad,
            problems,
        );
        fx.expect_rejected(
            &mut report,
            "firmware-sim",
            &[os("info"), os("--weights"), bad.as_os_str()],
            &bad,
            problems,
        );
        fx.expect_rejected(
            &mut report,
            "firmware-sim",
            &[
                os("verify"),
                os("--weights"),
                bad.as_os_str(),
                os("--data"),
                data.as_os_str(),
            ],
            &bad,
            problems,
        );
    }
    report.check(60);
}

#[test]
fn a_valid_model_of_the_other_variant_is_refused_when_a_variant_is_required() {
    let fx = Fixture::new();
    let mut report = Report::default();
    let weights = fx.good_model("model");
    let image = fx.good_image();
    fx.expect_rejected(
        &mut report,
        "firmware-sim",
        &[
            os("classify"),
            image.as_os_str(),
            os("--weights"),
            weights.as_os_str(),
            os("--variant"),
            os("nopool"),
        ],
        &weights,
        &["variant"],
    );
    report.check(1);
}

#[test]
fn bad_checkpoints_are_rejected_by_evaluate_and_verify() {
    let fx = Fixture::new();
    let mut report = Report::default();
    let data = fx.dataset("data");
    let mut cases: Vec<(String, Vec<u8>)> = corpus("ckpt-")
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_str().unwrap().to_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    let n = fx.checkpoint.len();
    cases.push((
        "ckpt-truncated.ckpt".into(),
        fx.checkpoint[..n / 2].to_vec(),
    ));
    cases.push((
        "ckpt-trailing.ckpt".into(),
        [&fx.checkpoint[..], b"xx"].concat(),
    ));
    cases.push(("ckpt-is-a-model.ckpt".into(), fx.model.clone()));
    for (name, bytes) in &cases {
        let problems: &[&str] = match name.as_str() {
            "ckpt-truncated.ckpt" => &["corrupt", "truncated"],
            "ckpt-trailing.ckpt" => &["trailing"],
            "ckpt-is-a-model.ckpt" => &["magic"],
            other => expected_problem(other),
        };
        let stem = name.trim_end_matches(".ckpt");
        let bad = fx.write(&format!("ckpts/{name}"), bytes);
        let weights = fx.write(&format!("ckpts/{stem}.bin"), &fx.model);
        fx.expect_rejected(
            &mut report,
            "trainer",
            &[
                os("evaluate"),
                bad.as_os_str(),
                os("--data"),
                data.as_os_str(),
            ],
            &bad,
            problems,
        );
        fx.expect_rejected(
            &mut report,
            "firmware-sim",
            &[
                os("verify"),
                os("--weights"),
                weights.as_os_str(),
                os("--data"),
                data.as_os_str(),
            ],
            &bad,
            problems,
        );
    }
    report.check(10);
}

/// The IDX reader never allocates more than a file can hold: the trainer runs under a
/// 512 MB address-space limit on files whose headers claim 1.1 GB (raw), 822 MB and 2 GB
/// (gzip, a few hundred bytes each). Allocating the claim would abort the process
/// ("memory allocation failed"); reading within the file's means gives the usual error.
#[test]
fn the_idx_reader_allocates_no_more_than_the_file_holds() {
    let fx = Fixture::new();
    let mut report = Report::default();
    let out = fx.path("out/weights.bin");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    for (name, role) in [
        ("images-claims-1gib.idx", TRAIN_IMAGES),
        ("images-gzip-lying-count.idx.gz", TRAIN_IMAGES),
        ("labels-gzip-lying-count.idx.gz", TRAIN_LABELS),
    ] {
        let bad = corpus_dir().join(name);
        let (dir, target) = fx.dataset_with(&format!("data-{name}"), role, &bad);
        let script = format!(
            "ulimit -v 512000 && exec {} --pooling --epochs 1 --data {} --out {}",
            bin_path("trainer").display(),
            dir.display(),
            out.display()
        );
        fx.expect_rejected(
            &mut report,
            "bash",
            &[os("-c"), os(&script)],
            &target,
            expected_problem(name),
        );
    }
    report.check(3);
}

/// A model file whose header claims an absurd payload is rejected from its header alone:
/// the error is the length's, not the checksum's, so no byte of the body was read.
#[test]
fn a_model_claiming_absurd_sizes_is_rejected_before_any_work() {
    let body = vec![0xA5u8; 1 << 20];
    for claim in [u32::MAX, 1 << 30, (body.len() as u32) + 1] {
        let mut file = b"PCNN".to_vec();
        file.push(picocnn::format::FORMAT_VERSION as u8);
        let mut n = claim;
        while n >= 0x80 {
            file.push((n as u8) | 0x80);
            n >>= 7;
        }
        file.push(n as u8);
        file.extend_from_slice(&body);
        assert_eq!(
            picocnn::Model::from_bytes(&file).unwrap_err(),
            picocnn::Error::ModelTruncated,
            "claim {claim}"
        );
    }
    // A claim shorter than the file: trailing bytes, also before the checksum.
    let mut file = b"PCNN".to_vec();
    file.extend_from_slice(&[picocnn::format::FORMAT_VERSION as u8, 0x10]);
    file.extend_from_slice(&body);
    assert_eq!(
        picocnn::Model::from_bytes(&file).unwrap_err(),
        picocnn::Error::ModelTrailingBytes
    );
}

#[test]
fn trainer_rejects_bad_resume_files() {
    let fx = Fixture::new();
    let mut report = Report::default();
    let data = fx.dataset("data");
    let state = trainer::train::TrainState {
        seed: 0,
        batch: 32,
        learning_rate: 1e-3,
        recipe: Default::default(),
        train_images: 270,
        train_labels_crc: 0,
        epoch: 1,
        batches_done: 2,
        tally: trainer::network::Tally {
            loss: 1.0,
            correct: 10,
            count: 64,
        },
        seconds: 0.1,
        records: Vec::new(),
        params: Params::zeros(Variant::Pool),
        adam: trainer::optim::Adam::keras(Variant::Pool),
    };
    let good = trainer::resume::to_bytes(&state).unwrap();
    let mut wrong_version = good.clone();
    wrong_version[4] = 9;
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("empty.resume", Vec::new(), &["empty"]),
        ("model.resume", fx.model.clone(), &["bad magic"]),
        ("checkpoint.resume", fx.checkpoint.clone(), &["bad magic"]),
        (
            "truncated.resume",
            good[..good.len() / 2].to_vec(),
            &["truncated"],
        ),
        ("version-9.resume", wrong_version, &["format 9"]),
        (
            "trailing.resume",
            [&good[..], b"??"].concat(),
            &["after its checksum"],
        ),
        // Well formed, but from a run on other data (its label checksum is 0).
        ("other-data.resume", good.clone(), &["other training data"]),
    ];
    let out = fx.path("out/weights.bin");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    for (name, bytes, problems) in &cases {
        let bad = fx.write(&format!("resume/{name}"), bytes);
        fx.expect_rejected(
            &mut report,
            "trainer",
            &[
                os("--pooling"),
                os("--epochs"),
                os("1"),
                os("--data"),
                data.as_os_str(),
                os("--out"),
                out.as_os_str(),
                os("--resume"),
                bad.as_os_str(),
            ],
            &bad,
            problems,
        );
    }
    report.check(cases.len());
}

/// Usage errors name what is missing, in one line with status 2: a bare `firmware-sim`
/// (clap's message was the program's description) lists its subcommands; `trainer
/// report` and `trainer evaluate` without their argument name it and show the usage.
#[test]
fn usage_errors_name_what_is_missing_in_one_line() {
    let cases: [(&str, &[&str], &str); 3] = [
        (
            "firmware-sim",
            &[],
            "error: firmware-sim needs a subcommand, one of: classify, verify, cut, summary, \
             info (see --help)",
        ),
        (
            "trainer",
            &["report"],
            "error: missing argument <MODELS>; usage: trainer report <MODELS> (see --help)",
        ),
        (
            "trainer",
            &["evaluate"],
            "error: missing argument <CKPT>; usage: trainer evaluate <CKPT> (see --help)",
        ),
    ];
    for (program, args, expected) in cases {
        let output = Command::new(bin_path(program)).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{program} {args:?}: {stderr}"
        );
        assert_eq!(stderr, format!("{expected}\n"), "{program} {args:?}");
        assert!(output.stdout.is_empty(), "{program} {args:?}");
    }
}

/// A folder where a dataset file should be is named as a directory, not as a file that
/// was not found, by the trainer (training images) and by verify and cut (test images).
#[test]
fn a_directory_in_place_of_a_dataset_file_is_named_as_one() {
    let fx = Fixture::new();
    let mut report = Report::default();
    let weights = fx.good_model("model");
    let out = fx.path("out/weights.bin");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let runs: [(&str, &str); 3] = [
        ("trainer", TRAIN_IMAGES),
        ("verify", TEST_LABELS),
        ("cut", TEST_IMAGES),
    ];
    for (tool, role) in runs {
        let dir = fx.dataset(&format!("data-{tool}"));
        let folder = dir.join("mnist").join(role);
        std::fs::remove_file(&folder).unwrap();
        std::fs::create_dir(&folder).unwrap();
        let (program, args) = match tool {
            "trainer" => (
                "trainer",
                vec![
                    os("--epochs"),
                    os("1"),
                    os("--data"),
                    dir.as_os_str(),
                    os("--out"),
                    out.as_os_str(),
                ],
            ),
            "verify" => (
                "firmware-sim",
                vec![
                    os("verify"),
                    os("--weights"),
                    weights.as_os_str(),
                    os("--data"),
                    dir.as_os_str(),
                ],
            ),
            _ => (
                "firmware-sim",
                vec![
                    os("cut"),
                    os("--data"),
                    dir.as_os_str(),
                    os("--index"),
                    os("0"),
                    os("--out"),
                    os("cut.idx"),
                ],
            ),
        };
        fx.expect_rejected(
            &mut report,
            program,
            &args,
            &folder,
            &["is a directory, not a dataset file"],
        );
    }
    report.check(3);
}

/// A training file of one image leaves nothing to train on once the validation tenth is
/// held out: the message names the file, not only the split.
#[test]
fn a_training_set_too_small_to_split_names_its_file() {
    let fx = Fixture::new();
    let mut report = Report::default();
    let dir = fx.dataset("data-one");
    let images = dir.join("mnist").join(TRAIN_IMAGES);
    let one = Images {
        count: 1,
        rows: 28,
        cols: 28,
        pixels: fx.train.images[..784].to_vec(),
    };
    idx::write_images(&images, &one).unwrap();
    idx::write_labels(&dir.join("mnist").join(TRAIN_LABELS), &fx.train.labels[..1]).unwrap();
    let out = fx.path("out/weights.bin");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    fx.expect_rejected(
        &mut report,
        "trainer",
        &[
            os("--epochs"),
            os("1"),
            os("--data"),
            dir.as_os_str(),
            os("--out"),
            out.as_os_str(),
        ],
        &images,
        &["1 training image is too few to hold out a validation split of 0.1"],
    );
    report.check(1);
}

/// A resume file that fits the run (same data, options and position) but holds values no
/// run writes (NaN, a negative second moment, Adam constants out of range, an absurd
/// tally or record) is named as damaged before training, not blamed on the learning
/// rate after it diverges; the same file undamaged resumes and finishes.
#[test]
fn a_damaged_resume_file_is_named_as_damaged() {
    let fx = Fixture::new();
    let mut report = Report::default();
    let data = fx.dataset("data");
    // The run below trains on the first 270 of the fixture's 300 images (a tenth is
    // held out for validation).
    let fitting = trainer::train::TrainState {
        seed: 0,
        batch: 32,
        learning_rate: 1e-3,
        recipe: Default::default(),
        train_images: 270,
        train_labels_crc: crc32(&fx.train.labels[..270]),
        epoch: 1,
        batches_done: 2,
        tally: trainer::network::Tally {
            loss: 150.0,
            correct: 10,
            count: 64,
        },
        seconds: 0.1,
        records: Vec::new(),
        params: trainer::train::init_params(Variant::NoPool, 0),
        adam: trainer::optim::Adam::keras(Variant::NoPool),
    };
    let damaged = |edit: fn(&mut trainer::train::TrainState)| {
        let mut state = fitting.clone();
        edit(&mut state);
        trainer::resume::to_bytes(&state).unwrap()
    };
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "nan-weight.resume",
            damaged(|s| s.params.hidden_w[7] = f32::NAN),
            &["resume file is damaged: a weight is not a finite number"],
        ),
        (
            "negative-moment.resume",
            damaged(|s| s.adam.v.conv_w[3] = -1.0),
            &["resume file is damaged: an adam second moment is negative or not a finite number"],
        ),
        (
            "beta1-1.resume",
            damaged(|s| s.adam.beta1 = 1.0),
            &["resume file is damaged: adam's beta1 is outside [0, 1)"],
        ),
        (
            "epsilon-0.resume",
            damaged(|s| s.adam.epsilon = 0.0),
            &["resume file is damaged: adam's epsilon is not a positive number"],
        ),
        (
            "nan-tally.resume",
            damaged(|s| s.tally.loss = f64::NAN),
            &["resume file is damaged: the epoch's loss or counts are out of range"],
        ),
        (
            "nan-record.resume",
            damaged(|s| {
                s.epoch = 2;
                s.records = vec![trainer::history::EpochRecord {
                    epoch: 1,
                    train_loss: 0.3,
                    train_accuracy: 0.9,
                    val_loss: f64::NAN,
                    val_accuracy: 0.9,
                    seconds: 1.0,
                }];
            }),
            &["resume file is damaged: the record of a finished epoch holds a value no run"],
        ),
        (
            "negative-seconds.resume",
            damaged(|s| s.seconds = -5.0),
            &["resume file is damaged: its training time is not a duration"],
        ),
    ];
    let out = fx.path("out/weights.bin");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let args = |resume: &Path| -> Vec<std::ffi::OsString> {
        [
            os("--epochs"),
            os("1"),
            os("--data"),
            data.as_os_str(),
            os("--out"),
            out.as_os_str(),
            os("--resume"),
            resume.as_os_str(),
        ]
        .map(OsStr::to_owned)
        .to_vec()
    };
    for (name, bytes, problems) in &cases {
        let bad = fx.write(&format!("resume/{name}"), bytes);
        let args = args(&bad);
        let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        fx.expect_rejected(&mut report, "trainer", &args, &bad, problems);
    }
    report.check(cases.len());
    // The control: the same state, undamaged, resumes and finishes.
    let good = fx.write(
        "resume/good.resume",
        &trainer::resume::to_bytes(&fitting).unwrap(),
    );
    let run = Command::new(bin_path("trainer"))
        .args(args(&good))
        .current_dir(fx.root.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Files read whole are bounded before they are read: a PGM over 64 MiB (`classify`), a
/// training history over 16 MiB or a device that never ends (`trainer report`). Sparse
/// files stand for the large ones: refused from their size, they cost no disk.
#[test]
fn oversized_pictures_and_histories_are_refused_before_they_are_read() {
    let fx = Fixture::new();
    let mut report = Report::default();
    let weights = fx.good_model("model");
    let sparse = |rel: &str, start: &[u8], len: u64| {
        let path = fx.write(rel, start);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len)
            .unwrap();
        path
    };
    let pgm = sparse("huge.pgm", b"P5 28 28 255\n", (64 << 20) + 1);
    fx.expect_rejected(
        &mut report,
        "firmware-sim",
        &[
            os("classify"),
            pgm.as_os_str(),
            os("--weights"),
            weights.as_os_str(),
        ],
        &pgm,
        &["larger than the 64 mib a pgm picture may have; not read"],
    );
    let data = fx.dataset("data");
    let mut histories = vec![sparse(
        "big/pool.history.json",
        b"{\"variant\": ",
        (16 << 20) + 1,
    )];
    #[cfg(unix)]
    {
        let endless = fx.path("endless/pool.history.json");
        std::fs::create_dir_all(endless.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &endless).unwrap();
        histories.push(endless);
    }
    for history in &histories {
        let models = history.parent().unwrap();
        std::fs::write(models.join("pool.bin"), &fx.model).unwrap();
        let plots = models.join("plots");
        fx.expect_rejected(
            &mut report,
            "trainer",
            &[
                os("report"),
                models.as_os_str(),
                os("--out"),
                plots.as_os_str(),
                os("--data"),
                data.as_os_str(),
            ],
            history,
            &["larger than the 16 mib a training history may have; not read"],
        );
    }
    report.check(1 + histories.len());
}

/// `mkfifo path`: a FIFO stands for every special file (a device node behaves the same for
/// the check, and the tests must not touch system state such as `/dev/null`).
fn make_fifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

#[cfg(unix)]
#[test]
fn outputs_that_are_not_regular_files_or_are_inputs_are_refused_before_any_work() {
    let fx = Fixture::new();
    let mut report = Report::default();
    let data = fx.dataset("data");
    std::fs::create_dir_all(fx.path("out/folder")).unwrap();
    let fifo = fx.path("out/fifo.bin");
    make_fifo(&fifo);
    let real = fx.write("out/real.bin", &fx.model);
    let link = fx.path("out/link.bin");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    // The checkpoint beside the model is a FIFO: the companion is checked as well.
    make_fifo(&fx.path("out/companion.ckpt"));
    let companion = fx.path("out/companion.ckpt");
    let previous = fx.write("out/previous.ckpt", &fx.checkpoint);
    let resume = fx.write("out/run.resume", b"state");
    let folder = fx.path("out/folder");
    let slash = PathBuf::from(format!("{}/", fx.path("out/new").display()));
    let trainer_cases: Vec<(PathBuf, Option<&Path>, PathBuf, &[&str])> = vec![
        (fifo.clone(), None, fifo.clone(), &["is a fifo"]),
        (link.clone(), None, link.clone(), &["symbolic link"]),
        (folder.clone(), None, folder.clone(), &["is a directory"]),
        (slash.clone(), None, slash.clone(), &["names a directory"]),
        (
            fx.path("out/companion.bin"),
            None,
            companion,
            &["is a fifo"],
        ),
        // The checkpoint would be written over the model.
        (
            previous.clone(),
            None,
            previous.clone(),
            &["is also the model"],
        ),
        (
            resume.clone(),
            Some(&resume),
            resume.clone(),
            &["is also the model"],
        ),
        (
            fx.path("out/previous.bin"),
            Some(&previous),
            previous.clone(),
            &["--resume file"],
        ),
    ];
    for (out, resume, bad, problems) in &trainer_cases {
        let mut args = vec![
            os("--epochs"),
            os("1"),
            os("--data"),
            data.as_os_str(),
            os("--out"),
            out.as_os_str(),
        ];
        if let Some(resume) = resume {
            args.extend([os("--resume"), resume.as_os_str()]);
        }
        fx.expect_rejected(&mut report, "trainer", &args, bad, problems);
    }
    let images = fx.path("out/images.idx");
    let cut_cases: Vec<(Vec<&OsStr>, &Path, &[&str])> = vec![
        (vec![os("--out"), fifo.as_os_str()], &fifo, &["is a fifo"]),
        (
            vec![os("--out"), link.as_os_str()],
            &link,
            &["symbolic link"],
        ),
        (
            vec![os("--out"), folder.as_os_str()],
            &folder,
            &["is a directory"],
        ),
        (
            vec![os("--out"), slash.as_os_str()],
            &slash,
            &["names a directory"],
        ),
        (
            vec![
                os("--out"),
                images.as_os_str(),
                os("--labels"),
                fifo.as_os_str(),
            ],
            &fifo,
            &["is a fifo"],
        ),
        (
            vec![
                os("--out"),
                images.as_os_str(),
                os("--labels"),
                images.as_os_str(),
            ],
            &images,
            &["is also the image output"],
        ),
        (
            vec![
                os("--out"),
                images.as_os_str(),
                os("--labels"),
                os("missing/labels.idx"),
            ],
            Path::new("missing/labels.idx"),
            &["does not exist"],
        ),
        (
            vec![os("--out"), images.as_os_str(), os("--count"), os("0")],
            Path::new("--count"),
            &["not in 1.."],
        ),
    ];
    for (extra, bad, problems) in &cut_cases {
        let mut args = vec![
            os("cut"),
            os("--data"),
            data.as_os_str(),
            os("--index"),
            os("0"),
        ];
        args.extend(extra.iter().copied());
        fx.expect_rejected(&mut report, "firmware-sim", &args, bad, problems);
    }
    report.check(trainer_cases.len() + cut_cases.len());
}

/// Every command that prints, run with standard output a pipe whose reader is already
/// closed (`{ sleep 1; firmware-sim info; } | true`): each write fails with EPIPE, which
/// must end the output quietly with status 0 (or 141, as a tool killed by SIGPIPE), never
/// a panic or an error line.
#[test]
fn a_closed_standard_output_ends_every_command_quietly() {
    let fx = Fixture::new();
    let data = fx.dataset("data");
    let weights = fx.good_model("models/pool");
    let checkpoint = fx.path("models/pool.ckpt");
    let image = fx.good_image();
    let cut_out = fx.path("cut.idx");
    let runs: Vec<(&str, Vec<&OsStr>)> = vec![
        (
            "firmware-sim",
            vec![os("info"), os("--weights"), weights.as_os_str()],
        ),
        (
            "firmware-sim",
            vec![os("summary"), os("--weights"), weights.as_os_str()],
        ),
        (
            "firmware-sim",
            vec![
                os("classify"),
                image.as_os_str(),
                os("--weights"),
                weights.as_os_str(),
            ],
        ),
        (
            "firmware-sim",
            // Random weights: their int8 and f32 accuracies differ by chance, which is not
            // what this test is about.
            vec![
                os("verify"),
                os("--weights"),
                weights.as_os_str(),
                os("--data"),
                data.as_os_str(),
                os("--max-drop"),
                os("100"),
            ],
        ),
        (
            "firmware-sim",
            vec![
                os("cut"),
                os("--data"),
                data.as_os_str(),
                os("--index"),
                os("3"),
                os("--out"),
                cut_out.as_os_str(),
            ],
        ),
        ("trainer", vec![os("summary"), os("--pooling")]),
        (
            "trainer",
            vec![
                os("evaluate"),
                checkpoint.as_os_str(),
                os("--data"),
                data.as_os_str(),
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (program, args) in &runs {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = Command::new(bin_path(program))
            .args(args)
            .current_dir(fx.root.path())
            .env("RUST_BACKTRACE", "0")
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        use std::os::unix::process::ExitStatusExt;
        let quiet_status =
            matches!(output.status.code(), Some(0 | 141)) || output.status.signal() == Some(13);
        if !quiet_status || !stderr.is_empty() {
            let args: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
            failures.push(format!(
                "{program} {}: {:?}, stderr: {stderr}",
                args.join(" "),
                output.status
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The work itself is done: `cut` wrote its file although nobody read its line.
    assert!(cut_out.is_file());
}

/// Class names are printed and plotted: a model whose name is long (the renderers size
/// their layout by it) or holds a control character (a newline forges an output line, an
/// escape sequence drives the terminal) is refused in one line by every reader; and a file
/// name with a newline stays on the one error line, escaped.
#[test]
fn long_or_control_character_class_names_are_refused_and_names_are_escaped() {
    let fx = Fixture::new();
    let mut report = Report::default();
    let image = fx.good_image();
    let data = fx.dataset("data");
    let long: &'static str = "x".repeat(33).leak();
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "long-name",
            reencoded(&fx.model, |f| f.class_names[3] = long),
            &["class 3 is too long"],
        ),
        (
            "newline-name",
            reencoded(&fx.model, |f| f.class_names[0] = "seven\nerror: forged"),
            &["class 0 holds a control character"],
        ),
        (
            "escape-name",
            reencoded(&fx.model, |f| f.class_names[9] = "\u{1b}]0;title\u{7}"),
            &["class 9 holds a control character"],
        ),
    ];
    for (name, bytes, problems) in &cases {
        let bad = fx.write(&format!("names/{name}.bin"), bytes);
        fx.write(&format!("names/{name}.ckpt"), &fx.checkpoint);
        for args in [
            vec![
                os("classify"),
                image.as_os_str(),
                os("--weights"),
                bad.as_os_str(),
            ],
            vec![os("info"), os("--weights"), bad.as_os_str()],
            vec![os("summary"), os("--weights"), bad.as_os_str()],
            vec![
                os("verify"),
                os("--weights"),
                bad.as_os_str(),
                os("--data"),
                data.as_os_str(),
            ],
        ] {
            fx.expect_rejected(&mut report, "firmware-sim", &args, &bad, problems);
        }
    }
    report.check(cases.len() * 4);
    // A file name with a newline: one line, the newline shown as `\n`.
    let odd = fx.write("odd\nname.bin", b"not a model");
    let output = Command::new(bin_path("firmware-sim"))
        .args([os("info"), os("--weights"), odd.as_os_str()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("odd\\nname.bin"), "{stderr}");
}

/// A second trainer on the same `--out` is refused in one line naming the first one's
/// process while it holds the lock; a lock left by a process that is gone is taken over,
/// and a finished run removes its lock.
#[test]
fn a_second_trainer_on_the_same_output_is_refused_and_a_stale_lock_taken_over() {
    let fx = Fixture::new();
    let mut report = Report::default();
    let data = fx.dataset("data");
    let out = fx.path("out/weights.bin");
    let lock = fx.path("out/weights.bin.lock");
    // This test process stands for the running trainer: it is alive.
    fx.write(
        "out/weights.bin.lock",
        format!("{}\n", std::process::id()).as_bytes(),
    );
    let args = [
        os("--epochs"),
        os("1"),
        os("--data"),
        data.as_os_str(),
        os("--out"),
        out.as_os_str(),
    ];
    let pid = format!("pid {}", std::process::id());
    fx.expect_rejected(&mut report, "trainer", &args, &out, &[&pid]);
    report.check(1);
    // No process has id 4294967295: the lock is stale.
    std::fs::write(&lock, "4294967295\n").unwrap();
    let run = Command::new(bin_path("trainer"))
        .args(args)
        .current_dir(fx.root.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(out.is_file());
    assert!(!lock.exists(), "the finished run removed its lock");
}

/// `trainer report` on a history whose values no run writes (a loss of 1.8e308, which made
/// the plot's axis loop forever; NaN; an accuracy above 1) refuses it in one line naming
/// the file, before plotting.
#[test]
fn report_refuses_a_history_with_absurd_values() {
    let fx = Fixture::new();
    let mut report = Report::default();
    let data = fx.dataset("data");
    let record = trainer::history::EpochRecord {
        epoch: 1,
        train_loss: 0.3,
        train_accuracy: 0.9,
        val_loss: 0.3,
        val_accuracy: 0.9,
        seconds: 1.0,
    };
    let cases: Vec<(&str, trainer::history::EpochRecord, &[&str])> = vec![
        (
            "huge-loss",
            trainer::history::EpochRecord {
                train_loss: f64::MAX,
                ..record.clone()
            },
            &["train_loss"],
        ),
        (
            "nan-loss",
            trainer::history::EpochRecord {
                val_loss: f64::NAN,
                ..record.clone()
            },
            &["val_loss", "not a training history"],
        ),
        (
            "accuracy-2",
            trainer::history::EpochRecord {
                val_accuracy: 2.0,
                ..record.clone()
            },
            &["val_accuracy"],
        ),
    ];
    for (name, epoch, problems) in &cases {
        let history = trainer::history::History {
            variant: Variant::Pool,
            dataset: Dataset::Mnist,
            seed: 0,
            batch: 32,
            learning_rate: 1e-3,
            augment: "none".into(),
            augment_params: String::new(),
            lr_schedule: "constant".into(),
            warmup_epochs: 0,
            label_smoothing: 0.0,
            threads: 1,
            epochs: vec![epoch.clone()],
            test_accuracy: None,
            test_accuracy_int8: None,
        };
        fx.write(&format!("{name}/pool.bin"), &fx.model);
        let bad = fx.write(
            &format!("{name}/pool.history.json"),
            &serde_json::to_vec(&history).unwrap(),
        );
        let models = fx.path(name);
        let plots = fx.path(&format!("{name}/plots"));
        std::fs::create_dir_all(&plots).unwrap();
        fx.expect_rejected(
            &mut report,
            "trainer",
            &[
                os("report"),
                models.as_os_str(),
                os("--out"),
                plots.as_os_str(),
                os("--data"),
                data.as_os_str(),
            ],
            &bad,
            problems,
        );
    }
    report.check(cases.len());
}
