//! Interrupted runs: a trainer killed at any moment never leaves a broken output file, one
//! stopped with Ctrl-C resumes to the very weights it would have reached, and one whose
//! training diverges says where.
//!
//! `weights.bin`, `weights.ckpt` and `weights.history.json` are each written atomically
//! (temporary file, then rename), so after a SIGKILL each is either the previous run's
//! file, intact, or the new run's file, complete. The test kills short training runs at
//! random moments, half of them in the export phase at the end, and checks every file.
//!
//! Needs the release binaries (`cargo build --release --workspace --bins`) and MNIST.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use picocnn::{Dataset, Model, Variant};
use picocnn_host::dataset::{Part, Split, load_part};
use picocnn_host::idx::{self, Images};
use picocnn_host::params::{Checkpoint, Params};
use picocnn_suite::{bin_path, data_dir};

/// A small MNIST dataset directory (`train`/`test` images cut from the real files).
fn small_dataset(dir: &Path, train: usize, test: usize) {
    let mnist = dir.join("mnist");
    std::fs::create_dir_all(&mnist).unwrap();
    for (part, count, prefix) in [(Part::Train, train, "train"), (Part::Test, test, "t10k")] {
        let split = load_part(&data_dir(), Dataset::Mnist, part).unwrap();
        let images = Images {
            count,
            rows: 28,
            cols: 28,
            pixels: split.images[..count * 784].to_vec(),
        };
        idx::write_images(&mnist.join(format!("{prefix}-images-idx3-ubyte")), &images).unwrap();
        idx::write_labels(
            &mnist.join(format!("{prefix}-labels-idx1-ubyte")),
            &split.labels[..count],
        )
        .unwrap();
    }
}

/// A valid int8 model and its checkpoint, quantized from fixed pseudo-random parameters:
/// the "previous run's" outputs, recognisable by their bytes.
fn previous_outputs(variant: Variant, calibration: &Split) -> (Vec<u8>, Vec<u8>) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut params = Params::zeros(variant);
    for tensor in params.tensors_mut() {
        for w in tensor.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *w = ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.1;
        }
    }
    let checkpoint = Checkpoint {
        dataset: Dataset::Mnist,
        params,
    };
    let ranges = picocnn_host::quantize::calibrate(&checkpoint, calibration, 100).unwrap();
    let quant = picocnn_host::quantize::quantize(&checkpoint, &ranges).unwrap();
    let model = trainer::export::model_bytes(&quant).unwrap();
    (
        model,
        picocnn_host::checkpoint::to_bytes(&checkpoint).unwrap(),
    )
}

struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Checks every output file after a kill; returns which ones the killed run had replaced.
fn check_outputs(out: &Path, old_model: &[u8], old_ckpt: &[u8], old_history: &[u8]) -> [bool; 3] {
    let dir = out.parent().unwrap();
    let model = std::fs::read(out).unwrap();
    let model_new = model != old_model;
    if model_new {
        Model::from_bytes(&model).unwrap_or_else(|e| panic!("new weights.bin is broken: {e}"));
    }
    let ckpt_path = out.with_extension("ckpt");
    let ckpt = std::fs::read(&ckpt_path).unwrap();
    let ckpt_new = ckpt != old_ckpt;
    if ckpt_new {
        let ckpt = picocnn_host::checkpoint::from_bytes(&ckpt, &ckpt_path)
            .unwrap_or_else(|e| panic!("new checkpoint is broken: {e}"));
        assert!(ckpt.params.has_valid_shapes());
    }
    let history = std::fs::read(out.with_extension("history.json")).unwrap();
    let history_new = history != old_history;
    if history_new {
        serde_json::from_slice::<trainer::history::History>(&history)
            .unwrap_or_else(|e| panic!("new history is broken: {e}"));
    }
    // Nothing else but the leftovers of interrupted atomic writes.
    let names: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for name in &names {
        if name == "weights.bin.lock" {
            // A killed run cannot remove its lock; it must name a process that is gone
            // (or none, if the kill came between creating and filling it), so that the
            // next run takes it over.
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            if let Ok(pid) = text.trim().parse::<u32>() {
                assert!(
                    !Path::new("/proc").join(pid.to_string()).exists(),
                    "the lock names process {pid}, which is still alive"
                );
            }
            continue;
        }
        assert!(
            ["weights.bin", "weights.ckpt", "weights.history.json"].contains(&name.as_str())
                || (name.starts_with(".weights.") && name.ends_with(".tmp")),
            "unexpected file {name} in {names:?}"
        );
    }
    [model_new, ckpt_new, history_new]
}

#[test]
fn sigkill_at_any_moment_leaves_every_output_intact_or_complete() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    small_dataset(&data, 1000, 200);
    let calibration = load_part(&data, Dataset::Mnist, Part::Train).unwrap();
    let out_dir = root.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("weights.bin");
    let (model, ckpt) = previous_outputs(Variant::NoPool, &calibration);
    let history = b"{\"previous\": true}".to_vec();

    let trainer = bin_path("trainer");
    let run = || {
        Command::new(&trainer)
            .args(["--epochs", "1", "--threads", "2", "--seed", "3", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let reset = || {
        std::fs::write(&out, &model).unwrap();
        std::fs::write(out.with_extension("ckpt"), &ckpt).unwrap();
        std::fs::write(out.with_extension("history.json"), &history).unwrap();
    };

    /// Waits until the child prints the line that starts the export phase (or ends). The
    /// rest of its output is drained by a thread: a closed pipe would make it fail.
    fn wait_for_writes(child: &mut std::process::Child) {
        let stdout = child.stdout.take().unwrap();
        let (marker_seen, marker) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("Test accuracy") {
                    let _ = marker_seen.send(());
                }
            }
        });
        let _ = marker.recv();
    }

    // One full run: how long it takes in all and after the test accuracy (export and
    // writes), and that a finished run replaces all three files.
    reset();
    let start = Instant::now();
    let mut child = run();
    wait_for_writes(&mut child);
    let tail_start = Instant::now();
    let status = child.wait().unwrap();
    let (full, tail) = (start.elapsed(), tail_start.elapsed());
    assert!(status.success(), "{status:?}");
    assert_eq!(check_outputs(&out, &model, &ckpt, &history), [true; 3]);

    let mut rng = XorShift(0x0dd_ba11);
    let mut replaced = [0usize; 3];
    let kills = 16;
    for round in 0..kills {
        reset();
        let mut child = run();
        let delay;
        if round % 2 == 0 {
            // Anywhere in the run, start-up and training included.
            delay = Duration::from_micros(rng.below(full.as_micros() as u64));
            std::thread::sleep(delay);
        } else {
            // In the export phase: after the test accuracy, until the run would end.
            wait_for_writes(&mut child);
            delay = Duration::from_micros(rng.below(tail.as_micros() as u64 * 11 / 10));
            std::thread::sleep(delay);
        }
        let _ = child.kill(); // SIGKILL; the run may have finished already
        let status = child.wait().unwrap();
        let new = check_outputs(&out, &model, &ckpt, &history);
        for (count, is_new) in replaced.iter_mut().zip(new) {
            *count += usize::from(is_new);
        }
        eprintln!("round {round}: killed after {delay:?} ({status:?}); replaced {new:?}");
    }
    // A run after the kills takes over whatever lock they left and finishes.
    std::thread::sleep(Duration::from_secs(5));
    reset();
    let mut child = run();
    wait_for_writes(&mut child);
    let status = child.wait().unwrap();
    assert!(status.success(), "a run after the kills failed: {status:?}");
    assert_eq!(check_outputs(&out, &model, &ckpt, &history), [true; 3]);
    assert!(
        !out.with_extension("bin.lock").exists(),
        "a finished run left its lock"
    );
    eprintln!(
        "{kills} kills; weights.bin / .ckpt / .history.json replaced {replaced:?} times \
         (full run {full:?}, export phase {tail:?})"
    );
    // The kills must have landed on both sides of the writes for the test to mean anything.
    assert!(
        replaced.iter().any(|&n| n < kills),
        "every run finished before the kill"
    );
    assert!(
        replaced.iter().any(|&n| n > 0),
        "no run got as far as writing"
    );
}

/// Runs the trainer to the end, interrupting it with SIGINT `delay` after its training
/// starts (each delay in turn, resuming from the saved state after each interruption), and
/// returns how many interruptions took effect.
fn run_interrupted(args: &[&OsStr], out: &Path, delays: &[Duration]) -> usize {
    run_signalled(args, out, delays, "INT", 130)
}

/// [`run_interrupted`] with `signal` (a `kill -SIGNAL` name), which must end each
/// interrupted run with exit status `status`.
fn run_signalled(
    args: &[&OsStr],
    out: &Path,
    delays: &[Duration],
    signal: &str,
    status: i32,
) -> usize {
    let trainer = bin_path("trainer");
    let resume_file = out.with_extension("resume");
    let mut interrupted = 0;
    let mut delays = delays.iter();
    loop {
        let mut command = Command::new(&trainer);
        command.args(args).arg("--out").arg(out);
        if interrupted > 0 {
            command.arg("--resume").arg(&resume_file);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Training starts right after the settings line (and the "Resuming" line). The
        // thread also drains the rest of the output: a closed pipe would make it fail.
        let stdout = child.stdout.take().unwrap();
        let last = if interrupted > 0 {
            "Resuming from"
        } else {
            "Variant "
        };
        let (started, training) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with(last) {
                    let _ = started.send(());
                }
            }
        });
        if let Some(delay) = delays.next() {
            let _ = training.recv();
            std::thread::sleep(*delay);
            let sent = Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status()
                .unwrap();
            assert!(sent.success());
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        match output.status.code() {
            Some(0) => return interrupted,
            Some(code) if code == status => {
                let lines: Vec<&str> = stderr.lines().collect();
                assert_eq!(lines.len(), 1, "one hint line on stderr: {stderr}");
                assert!(
                    lines[0].starts_with("interrupted at epoch ")
                        && lines[0].contains(&format!("--resume {}", resume_file.display())),
                    "{stderr}"
                );
                assert!(!out.exists(), "an interrupted run wrote {}", out.display());
                trainer::resume::read(&resume_file).unwrap();
                interrupted += 1;
            }
            other => panic!("trainer exited with {other:?}: {stderr}"),
        }
    }
}

#[test]
fn sigint_saves_the_state_and_resume_reaches_bit_identical_weights() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    small_dataset(&data, 1500, 200);
    let args: Vec<&OsStr> = [
        "--pooling",
        "--epochs",
        "2",
        "--seed",
        "11",
        "--threads",
        "2",
        "--data",
    ]
    .iter()
    .map(OsStr::new)
    .chain([data.as_os_str()])
    .collect();

    let straight = root.path().join("straight");
    std::fs::create_dir(&straight).unwrap();
    assert_eq!(
        run_interrupted(&args, &straight.join("weights.bin"), &[]),
        0
    );

    // Interrupt each run a fifth of the whole training time after it starts (or resumes),
    // so that on a fast machine as on a slow one several SIGINTs land inside training.
    let history: trainer::history::History =
        serde_json::from_slice(&std::fs::read(straight.join("weights.history.json")).unwrap())
            .unwrap();
    let training: f64 = history.epochs.iter().map(|e| e.seconds).sum();
    let step = Duration::from_secs_f64(training / 5.0).max(Duration::from_millis(5));
    eprintln!("training takes {training:.3} s; interrupting every {step:?}");
    let stopped = root.path().join("stopped");
    std::fs::create_dir(&stopped).unwrap();
    let delays = vec![step; 4];
    let interrupted = run_interrupted(&args, &stopped.join("weights.bin"), &delays);
    assert!(
        interrupted >= 2,
        "only {interrupted} SIGINTs landed during training"
    );
    eprintln!("{interrupted} interruptions, then resumed to the end");

    for name in ["weights.ckpt", "weights.bin"] {
        let a = std::fs::read(straight.join(name)).unwrap();
        let b = std::fs::read(stopped.join(name)).unwrap();
        assert!(a == b, "{name} differs after {interrupted} interruptions");
    }
    assert!(
        !stopped.join("weights.resume").exists(),
        "the finished run leaves no resume file"
    );
}

#[test]
fn a_resume_file_from_another_run_is_refused_and_a_fresh_run_mentions_it() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    small_dataset(&data, 300, 50);
    let out = root.path().join("weights.bin");
    let args: Vec<&OsStr> = ["--pooling", "--epochs", "1", "--seed", "1", "--data"]
        .iter()
        .map(OsStr::new)
        .chain([data.as_os_str()])
        .collect();
    // A state saved by a run with another seed (built directly: no SIGINT needed).
    let train = load_part(&data, Dataset::Mnist, Part::Train).unwrap();
    let state = trainer::train::TrainState {
        seed: 2,
        batch: 32,
        learning_rate: 1e-3,
        recipe: Default::default(),
        train_images: train.len() - train.len() / 10,
        train_labels_crc: 0,
        epoch: 1,
        batches_done: 1,
        tally: trainer::network::Tally {
            loss: 0.0,
            correct: 0,
            count: 0,
        },
        seconds: 0.0,
        records: Vec::new(),
        params: Params::zeros(Variant::Pool),
        adam: trainer::optim::Adam::keras(Variant::Pool),
    };
    let resume = root.path().join("weights.resume");
    trainer::resume::write(&resume, &state).unwrap();
    let output = Command::new(bin_path("trainer"))
        .args(&args)
        .arg("--out")
        .arg(&out)
        .arg("--resume")
        .arg(&resume)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&resume.display().to_string()) && stderr.contains("--seed 2"),
        "{stderr}"
    );
    assert!(!out.exists());

    // Without --resume the run starts afresh, and says that the resume file is there.
    let output = Command::new(bin_path("trainer"))
        .args(&args)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "Note: {} holds an interrupted run",
            resume.display()
        )),
        "{stdout}"
    );
    assert!(out.exists() && resume.exists());
}

#[test]
fn training_that_diverges_stops_naming_the_epoch_and_batch() {
    let data = load_part(&data_dir(), Dataset::Mnist, Part::Train).unwrap();
    let train = Split::new(
        data.images[..640 * 784].to_vec(),
        data.labels[..640].to_vec(),
    )
    .unwrap();
    let validation =
        Split::new(data.images[..64 * 784].to_vec(), data.labels[..64].to_vec()).unwrap();
    let config = trainer::train::TrainConfig {
        epochs: 2,
        learning_rate: 1e30,
        ..trainer::train::TrainConfig::keras(Variant::Pool)
    };
    let error = trainer::train::train(&config, &train, &validation, &mut trainer::train::Silent)
        .unwrap_err();
    let trainer::error::Error::TrainingDiverged { epoch, batch, .. } = error else {
        panic!("expected a divergence error, got {error}");
    };
    let message = error.to_string();
    eprintln!("{message}");
    assert_eq!(epoch, 1, "{message}");
    assert!((1..=20).contains(&batch), "{message}");
    assert!(
        message.contains(&format!("epoch 1, batch {batch}")) && !message.contains('\n'),
        "{message}"
    );
}

#[test]
fn the_cli_reports_divergence_in_one_line_and_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    small_dataset(&data, 640, 64);
    let out = root.path().join("weights.bin");
    let output = Command::new(bin_path("trainer"))
        .args([
            "--pooling",
            "--epochs",
            "2",
            "--learning-rate",
            "1e30",
            "--data",
        ])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: training diverged at epoch 1, batch "),
        "{stderr}"
    );
    let written: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(written, ["data"], "a diverged run wrote files");
}

/// `kill` (SIGTERM, as systemd and CI runners send) and a closed terminal (SIGHUP) stop
/// training as Ctrl-C does: the state saved, one line, exit 143 / 129; the resumed run
/// then finishes.
#[test]
fn sigterm_and_sighup_save_the_state_like_ctrl_c() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    small_dataset(&data, 1500, 200);
    let args: Vec<&OsStr> = ["--pooling", "--epochs", "3", "--threads", "2", "--data"]
        .iter()
        .map(OsStr::new)
        .chain([data.as_os_str()])
        .collect();
    for (signal, status) in [("TERM", 143), ("HUP", 129)] {
        let dir = root.path().join(signal);
        std::fs::create_dir(&dir).unwrap();
        let out = dir.join("weights.bin");
        let delays = [Duration::from_millis(50)];
        let interrupted = run_signalled(&args, &out, &delays, signal, status);
        assert_eq!(interrupted, 1, "SIG{signal} did not land during training");
        assert!(out.is_file(), "the resumed run finished");
    }
}
