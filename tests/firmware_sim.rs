//! `firmware-sim` end to end on a real model: one epoch of the pooling variant on MNIST,
//! trained and exported by the `trainer` binary, then classified and verified by the
//! `firmware-sim` binary; and the one-line errors for unusable input.
//!
//! Needs the release binaries (`cargo build --release --workspace --bins`, which
//! `scripts/test.sh` runs first) and the datasets (`scripts/fetch-data.sh`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use picocnn::shape::{IMAGE_PIXELS, IMAGE_SIDE};
use picocnn_suite::{bin_path, data_dir, target_dir};

/// A scratch directory for this test process (emptied at the start of each run).
fn work_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = target_dir().join("firmware-sim-tests");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// The trained pooling model (`pool.bin`, with `pool.ckpt` next to it), trained once.
fn pool_model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let out = work_dir().join("pool.bin");
        let run = Command::new(bin_path("trainer"))
            .args(["--pooling", "--epochs", "1", "--dataset", "mnist", "--data"])
            .arg(data_dir())
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "training failed: {}",
            text(&run.stderr)
        );
        out
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn firmware_sim(args: &[&str]) -> Output {
    Command::new(bin_path("firmware-sim"))
        .args(args)
        .env("PICOCNN_DATA", data_dir())
        .output()
        .unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Asserts a failure with status 2 and one line `error: ...` on stderr holding every `needle`.
fn assert_one_line_error(out: &Output, needles: &[&str]) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} missing in: {stderr}");
    }
}

/// Cuts test images `index..index + count` of MNIST into an IDX file; returns it and the
/// labels.
fn cut(name: &str, index: usize, count: usize) -> (PathBuf, Vec<u8>) {
    let images = work_dir().join(format!("{name}.idx"));
    let labels = work_dir().join(format!("{name}-labels.idx"));
    let out = firmware_sim(&[
        "cut",
        "--dataset",
        "mnist",
        "--index",
        &index.to_string(),
        "--count",
        &count.to_string(),
        "--out",
        path(&images),
        "--labels",
        path(&labels),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let labels = std::fs::read(&labels).unwrap();
    assert_eq!(labels.len(), 8 + count);
    (images, labels[8..].to_vec())
}

/// `(class, logits)` of every `image N class C logits ...` line, in order.
fn parse_lines(stdout: &str) -> Vec<(usize, [i32; 10])> {
    stdout
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let words: Vec<&str> = line.split(' ').collect();
            assert_eq!(words.len(), 15, "{line}");
            assert_eq!(
                (words[0], words[1], words[2], words[4]),
                ("image", &*i.to_string(), "class", "logits")
            );
            let mut logits = [0i32; 10];
            for (l, w) in logits.iter_mut().zip(&words[5..]) {
                *l = w.parse().unwrap();
            }
            (words[3].parse().unwrap(), logits)
        })
        .collect()
}

#[test]
fn classify_agrees_across_formats_and_with_the_labels() {
    let model = pool_model();
    let (images, labels) = cut("first-200", 0, 200);
    let lines = firmware_sim(&[
        "classify",
        path(&images),
        "--weights",
        path(model),
        "--lines",
    ]);
    assert!(lines.status.success(), "{}", text(&lines.stderr));
    let results = parse_lines(&text(&lines.stdout));
    assert_eq!(results.len(), 200);
    let correct = results
        .iter()
        .zip(&labels)
        .filter(|&((class, _), &label)| *class == usize::from(label))
        .count();
    assert!(correct >= 180, "only {correct}/200 correct after one epoch");
    for (class, logits) in &results {
        let first_max = (0..10).find(|&k| logits[k] == *logits.iter().max().unwrap());
        assert_eq!(Some(*class), first_max, "{logits:?}");
    }

    // JSON: one object per line with the same class and logits.
    let json = firmware_sim(&[
        "classify",
        path(&images),
        "--weights",
        path(model),
        "--json",
    ]);
    assert!(json.status.success());
    let json = text(&json.stdout);
    assert_eq!(json.lines().count(), 200);
    for (line, (class, logits)) in json.lines().zip(&results) {
        let logits: Vec<String> = logits.iter().map(i32::to_string).collect();
        assert!(line.contains(&format!("\"class\":{class},")), "{line}");
        assert!(
            line.contains(&format!("\"logits\":[{}]", logits.join(","))),
            "{line}"
        );
    }

    // People: a verdict line and ten bars per image, then the time per image.
    let human = firmware_sim(&["classify", path(&images), "--weights", path(model)]);
    let human = text(&human.stdout);
    assert_eq!(human.lines().count(), 200 * 11 + 1);
    let first = human.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("{} #0: {} (", path(&images), results[0].0)),
        "{first}"
    );
    assert!(
        human.lines().last().unwrap().starts_with("200 images, "),
        "{human}"
    );
}

/// Test images upscaled 3x and inverted (dark ink on white paper, 84x84 PGM): fitted back
/// to 28x28 MNIST-style, they must be classified like the originals.
#[test]
fn a_large_dark_on_light_picture_is_fitted_like_mnist() {
    let model = pool_model();
    let (images, _) = cut("first-20", 0, 20);
    let original = parse_lines(&text(
        &firmware_sim(&[
            "classify",
            path(&images),
            "--weights",
            path(model),
            "--lines",
        ])
        .stdout,
    ));
    let pixels = std::fs::read(&images).unwrap();
    let mut same = 0;
    for (index, (class, _)) in original.iter().enumerate() {
        let image = &pixels[16 + index * IMAGE_PIXELS..16 + (index + 1) * IMAGE_PIXELS];
        let side = 3 * IMAGE_SIDE;
        let mut pgm = format!("P5\n{side} {side}\n255\n").into_bytes();
        for y in 0..side {
            for x in 0..side {
                pgm.push(255 - image[(y / 3) * IMAGE_SIDE + x / 3]);
            }
        }
        let file = work_dir().join(format!("big-{index}.pgm"));
        std::fs::write(&file, pgm).unwrap();
        let out = firmware_sim(&["classify", path(&file), "--weights", path(model), "--lines"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        same += usize::from(parse_lines(&text(&out.stdout))[0].0 == *class);
    }
    assert!(
        same >= 17,
        "only {same}/20 pictures classified like their 28x28 originals"
    );
}

#[test]
fn verify_finds_core_and_reference_identical_on_the_whole_test_set() {
    let model = pool_model();
    let out = firmware_sim(&["verify", "--weights", path(model), "--dataset", "mnist"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("integer logits identical: 10000/10000"),
        "{stdout}"
    );
    let agreement = stdout
        .lines()
        .find_map(|l| l.strip_prefix("core vs f32 top-1 agreement: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|p| p.parse::<f64>().ok())
        .unwrap();
    assert!(agreement >= 99.0, "{stdout}");
    assert!(
        stdout.contains("(at most 1.00 pp allowed, --max-drop)"),
        "{stdout}"
    );
}

/// The trained model's weights re-encoded after `edit` (valid CRC), as `<name>.bin`, with
/// the trained f32 checkpoint beside it: a degenerate int8 model that the format accepts.
fn forged(name: &str, edit: impl FnOnce(&mut picocnn::format::ModelFile<'_>)) -> PathBuf {
    let model = pool_model();
    let good = std::fs::read(model).unwrap();
    let mut file = picocnn::format::ModelFile::decode(&good).unwrap();
    edit(&mut file);
    let mut bytes = vec![0u8; good.len() + 1024];
    let len = file.encode(&mut bytes).unwrap();
    let out = work_dir().join(format!("{name}.bin"));
    std::fs::write(&out, &bytes[..len]).unwrap();
    std::fs::copy(model.with_extension("ckpt"), out.with_extension("ckpt")).unwrap();
    out
}

/// An int8 model whose output multipliers are 0 gives every image the logits 0, class 0
/// (about 10 % right), exactly as the host int8 reference does: logits identical, but
/// the accuracy falls far below the f32 model's, and `verify` exits 1 saying so. The
/// limit is an option, validated.
#[test]
fn verify_fails_when_the_int8_accuracy_falls_below_the_f32_accuracy() {
    let silent = forged("silent-output", |f| f.output.multiplier = &[0; 40]);
    let out = firmware_sim(&["verify", "--weights", path(&silent), "--limit", "1000"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("integer logits identical: 1000/1000"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pp below f32, more than the 1.00 pp allowed (--max-drop)"),
        "{stdout}"
    );
    let out = firmware_sim(&[
        "verify",
        "--weights",
        path(&silent),
        "--limit",
        "1000",
        "--max-drop",
        "95",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("(at most 95.00 pp allowed, --max-drop)"),
        "{stdout}"
    );
    for bad in [
        "--max-drop=-1",
        "--max-drop=nan",
        "--max-drop=inf",
        "--max-drop=x",
    ] {
        let out = firmware_sim(&["verify", "--weights", path(&silent), bad]);
        assert_one_line_error(
            &out,
            &[
                "--max-drop",
                "a finite number of percentage points, 0 or more",
            ],
        );
    }
}

/// `classify` warns once, on stderr, when the model gives a blank and a full image the
/// same logits (output multipliers 0: all logits 0; conv zero point 127: every
/// activation saturated), and classifies as usual; a trained model gets no warning.
#[test]
fn classify_warns_once_about_a_model_that_cannot_tell_classes_apart() {
    let (images, _) = cut("warn", 10, 3);
    let cases = [
        (
            forged("all-logits-zero", |f| f.output.multiplier = &[0; 40]),
            "all ten logits are equal on a blank and on a full image",
        ),
        (
            forged("conv-zero-point-127", |f| f.conv.out_zero_point = 127),
            "a blank and a full image get the same logits",
        ),
    ];
    for (weights, problem) in &cases {
        for format in ["--lines", "--json"] {
            let out = firmware_sim(&[
                "classify",
                path(&images),
                "--weights",
                path(weights),
                format,
            ]);
            let stderr = text(&out.stderr);
            assert!(out.status.success(), "{stderr}");
            assert_eq!(text(&out.stdout).lines().count(), 3);
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(
                stderr.starts_with(&format!("warning: {}: {problem}: ", weights.display())),
                "{stderr}"
            );
            assert!(stderr.contains("cannot tell classes apart"), "{stderr}");
        }
    }
    let out = firmware_sim(&["classify", path(&images), "--weights", path(pool_model())]);
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "");
}

/// One flipped bit in the middle of the weights: refused before anything runs.
#[test]
fn corrupted_weights_are_refused_in_one_line() {
    let model = pool_model();
    let mut bytes = std::fs::read(model).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    let corrupt = work_dir().join("corrupt.bin");
    std::fs::write(&corrupt, &bytes).unwrap();
    std::fs::copy(model.with_extension("ckpt"), corrupt.with_extension("ckpt")).unwrap();
    let out = firmware_sim(&["verify", "--weights", path(&corrupt)]);
    assert_one_line_error(&out, &["corrupt.bin", "corrupted (CRC32"]);
    let (image, _) = cut("one", 0, 1);
    let out = firmware_sim(&["classify", path(&image), "--weights", path(&corrupt)]);
    assert_one_line_error(&out, &["corrupt.bin", "corrupted (CRC32"]);
}

#[test]
fn wrong_variant_weights_are_refused_in_one_line() {
    let model = pool_model();
    let (image, _) = cut("variant", 3, 1);
    let out = firmware_sim(&[
        "classify",
        path(&image),
        "--weights",
        path(model),
        "--variant",
        "nopool",
    ]);
    assert_one_line_error(
        &out,
        &["pool.bin", "holds the pool variant", "nopool was asked for"],
    );
    let out = firmware_sim(&["verify", "--weights", path(model), "--variant", "nopool"]);
    assert_one_line_error(&out, &["pool.bin", "holds the pool variant"]);
    // Not a model at all.
    let ckpt = model.with_extension("ckpt");
    let out = firmware_sim(&["classify", path(&image), "--weights", path(&ckpt)]);
    assert_one_line_error(&out, &["pool.ckpt", "not a picocnn model"]);
}

#[test]
fn an_image_of_the_wrong_size_is_refused_in_one_line() {
    let model = pool_model();
    let file = work_dir().join("27x27.idx");
    let mut idx = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 27, 0, 0, 0, 27];
    idx.extend(std::iter::repeat_n(0u8, 27 * 27));
    std::fs::write(&file, idx).unwrap();
    let out = firmware_sim(&["classify", path(&file), "--weights", path(model)]);
    assert_one_line_error(&out, &["27x27.idx", "27x27", "28x28"]);
    // Neither IDX nor a picture.
    let text_file = work_dir().join("notes.txt");
    std::fs::write(&text_file, "a digit, honestly").unwrap();
    let out = firmware_sim(&["classify", path(&text_file), "--weights", path(model)]);
    assert_one_line_error(&out, &["notes.txt", "not an IDX, PNG or PGM image"]);
}

#[test]
fn a_dataset_other_than_the_models_is_refused_in_one_line() {
    let model = pool_model();
    let out = firmware_sim(&["verify", "--weights", path(model), "--dataset", "fashion"]);
    assert_one_line_error(
        &out,
        &["pool.bin", "trained on mnist", "fashion dataset was given"],
    );
    // A checkpoint of another model next to the weights.
    let other = work_dir().join("other.bin");
    std::fs::copy(model, &other).unwrap();
    let ckpt = std::fs::read(model.with_extension("ckpt")).unwrap();
    let mut checkpoint =
        picocnn_host::checkpoint::from_bytes(&ckpt, Path::new("pool.ckpt")).unwrap();
    checkpoint.dataset = picocnn::Dataset::Fashion;
    picocnn_host::checkpoint::write(&other.with_extension("ckpt"), &checkpoint).unwrap();
    let out = firmware_sim(&["verify", "--weights", path(&other)]);
    assert_one_line_error(&out, &["other.ckpt", "pool/fashion", "pool/mnist"]);
}

#[test]
fn cut_refuses_an_index_past_the_end() {
    let out = firmware_sim(&[
        "cut",
        "--index",
        "9999",
        "--count",
        "2",
        "--out",
        path(&work_dir().join("x.idx")),
    ]);
    assert_one_line_error(&out, &["mnist", "10000 images", "index 10000"]);
}

#[test]
fn summary_of_a_weights_file_gives_the_variants_totals() {
    let out = firmware_sim(&["summary", "--weights", path(pool_model())]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let total = stdout
        .lines()
        .find(|line| line.trim_start().starts_with("Total "))
        .unwrap_or_else(|| panic!("no Total line in:\n{stdout}"));
    assert!(
        total.contains("693,962") && total.contains("888,192"),
        "{total}"
    );
    assert!(stdout.contains("variant B"), "{stdout}");
}
