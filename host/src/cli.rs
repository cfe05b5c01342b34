//! What the two command lines share: dataset and variant options, the names of the files
//! that travel with a `weights.bin`, the exit statuses, clap's errors as one line, and the
//! checks every output path passes before any work starts.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::error::ErrorKind;
use clap::error::{ContextKind, ContextValue};
use clap::{Parser, ValueEnum};
use picocnn::{Dataset, Variant};

use crate::error::Error;

/// Exit statuses of `trainer` and `firmware-sim`.
pub mod exit {
    /// The check ran and found a difference (`firmware-sim verify`: core and host disagree,
    /// or the int8 model's accuracy falls more than `--max-drop` below the f32 model's).
    pub const MISMATCH: u8 = 1;
    /// Bad arguments, bad input files, an unsupported CPU: one line on stderr says which.
    pub const USAGE: u8 = 2;
    /// Stopped by Ctrl-C (128 + SIGINT) after saving what can be resumed.
    pub const INTERRUPTED: u8 = 130;
}

/// The dataset, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetArg {
    /// MNIST handwritten digits.
    Mnist,
    /// Fashion-MNIST clothing images.
    Fashion,
}

impl From<DatasetArg> for Dataset {
    fn from(d: DatasetArg) -> Dataset {
        match d {
            DatasetArg::Mnist => Dataset::Mnist,
            DatasetArg::Fashion => Dataset::Fashion,
        }
    }
}

/// The network variant, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VariantArg {
    /// Variant B: with 2x2 max-pooling.
    Pool,
    /// Variant A: without pooling.
    Nopool,
}

impl From<VariantArg> for Variant {
    fn from(v: VariantArg) -> Variant {
        match v {
            VariantArg::Pool => Variant::Pool,
            VariantArg::Nopool => Variant::NoPool,
        }
    }
}

/// The f32 checkpoint that travels with `weights` (`weights.bin` -> `weights.ckpt`).
pub fn checkpoint_path(weights: &Path) -> PathBuf {
    weights.with_extension("ckpt")
}

/// The saved training state of an interrupted run that writes `weights`.
pub fn resume_path(weights: &Path) -> PathBuf {
    weights.with_extension("resume")
}

/// The per-epoch history of the run that wrote `weights`.
pub fn history_path(weights: &Path) -> PathBuf {
    weights.with_extension("history.json")
}

/// Checks, before any work, that a new file can be renamed onto `path` without replacing
/// something that is not a file: `path` must not end with `/`, must not be a directory, a
/// symbolic link, a device, a FIFO or a socket (an existing regular file is fine: it is
/// replaced whole), and its folder must exist.
///
/// # Errors
/// [`Error::OutputNotAFile`], [`Error::OutputDirMissing`], or [`Error::Io`] if the path
/// cannot be inspected.
pub fn check_output_path(path: &Path) -> crate::Result<()> {
    let not_a_file = |what| Error::OutputNotAFile {
        path: path.to_owned(),
        what,
    };
    if path.as_os_str().as_encoded_bytes().ends_with(b"/") || path.file_name().is_none() {
        return Err(not_a_file("names a directory"));
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(meta) => return Err(not_a_file(kind_of(meta.file_type()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(path, e)),
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        Ok(())
    } else {
        Err(Error::OutputDirMissing {
            path: path.to_owned(),
            dir: dir.to_owned(),
        })
    }
}

/// What a non-regular file is, in the words of an error message.
pub(crate) fn kind_of(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "is a FIFO";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "is a device";
        }
        if file_type.is_socket() {
            return "is a socket";
        }
    }
    if file_type.is_dir() {
        "is a directory"
    } else if file_type.is_symlink() {
        "is a symbolic link"
    } else {
        "is a special file"
    }
}

/// Checks that no output is the same file as an input or an earlier output (`trainer --out
/// x.ckpt`, whose checkpoint would be written over the model; `cut --out F --labels F`).
/// Each file comes with its role, which the error names. Paths are compared after
/// resolving their folders, and as the same inode when both exist (hard links).
///
/// # Errors
/// [`Error::OutputClash`] naming the later output and the other file's role.
pub fn check_distinct(outputs: &[(&Path, &str)], inputs: &[(&Path, &str)]) -> crate::Result<()> {
    for (i, &(output, _)) in outputs.iter().enumerate() {
        let earlier = outputs.get(..i).unwrap_or_default().iter();
        if let Some(&(_, role)) = earlier
            .chain(inputs)
            .find(|(other, _)| same_file(output, other))
        {
            return Err(Error::OutputClash {
                path: output.to_owned(),
                role: role.to_owned(),
            });
        }
    }
    Ok(())
}

/// Whether `a` and `b` name the same file, existing or not.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    resolved(a) == resolved(b)
}

/// `path` made absolute, its folder with `..` and symbolic links resolved when it exists.
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    match (absolute.parent(), absolute.file_name()) {
        (Some(dir), Some(name)) => dir
            .canonicalize()
            .map_or_else(|_| absolute.clone(), |dir| dir.join(name)),
        _ => absolute,
    }
}

/// Set once standard output's reader has gone away; later prints write nothing.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Writes `text` to standard output and flushes it. A reader that has gone away (`| head`,
/// `| true`: EPIPE) ends the output quietly, as Unix tools do: this and every later call
/// write nothing and succeed, and the command finishes its work and exits 0. (`println!`
/// would panic instead.)
///
/// # Errors
/// Any other write error (`> /dev/full`), for the caller to report.
pub fn print(text: impl fmt::Display) -> std::io::Result<()> {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match write!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_GONE.store(true, Ordering::Relaxed);
            Ok(())
        }
        other => other,
    }
}

/// `text` with its control characters escaped (`\n`, `\u{1b}`, as `char::escape_debug`
/// writes them) and everything else as it is: what every printer uses for a name read
/// from a file or given on the command line, so that a class name or a file name cannot
/// forge an extra line or drive the terminal.
///
/// ```
/// let name = "seven\n\u{1b}[2Jerror: forged";
/// assert_eq!(picocnn_host::cli::escaped(name).to_string(), "seven\\n\\u{1b}[2Jerror: forged");
/// assert_eq!(picocnn_host::cli::escaped("T-shirt/top").to_string(), "T-shirt/top");
/// ```
pub fn escaped(text: &str) -> Escaped<'_> {
    Escaped(text)
}

/// A string displayed with its control characters escaped; see [`escaped`].
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_debug())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// The longest class name a model may hold, in bytes of UTF-8: a name is a label on a
/// plot and a column of a table, and the printers size their layout by it.
pub const MAX_CLASS_NAME_BYTES: usize = 32;

/// Checks the class names read from the model file `path`: each at most
/// [`MAX_CLASS_NAME_BYTES`] bytes, without control characters. (The core's reader checks
/// only that they are UTF-8; the host tools print and plot them.)
///
/// # Errors
/// [`Error::ClassName`] for the first name refused.
pub fn check_class_names(path: &Path, names: &[&str]) -> crate::Result<()> {
    for (class, name) in names.iter().enumerate() {
        let reason = if name.len() > MAX_CLASS_NAME_BYTES {
            "is too long"
        } else if name.chars().any(char::is_control) {
            "holds a control character"
        } else {
            continue;
        };
        return Err(Error::ClassName {
            path: path.to_owned(),
            class,
            reason,
        });
    }
    Ok(())
}

/// Parses the command line; on `--help` or `--version` prints it and returns the status
/// to exit with (success); on any other problem prints one line `error: ... (see
/// --help)` and returns [`exit::USAGE`]. clap's own message spans several lines (usage,
/// hints); the tools' contract is one line.
///
/// # Errors
/// The exit status when the program should stop instead of running a command.
pub fn parse_or_exit<P: Parser>() -> Result<P, ExitCode> {
    P::try_parse().map_err(|e| {
        let message = match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // A bare `firmware-sim`: clap's "error" would be the whole help, whose first
            // line is the program's description.
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                missing_subcommand(&P::command())
            }
            ErrorKind::MissingRequiredArgument => missing_arguments(&e),
            _ => one_line(&e.to_string()),
        };
        eprintln!("error: {message} (see --help)");
        ExitCode::from(exit::USAGE)
    })
}

/// What to say when `command` is run without the subcommand it needs: its name and the
/// subcommands to choose from, on one line.
fn missing_subcommand(command: &clap::Command) -> String {
    let names: Vec<&str> = command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(clap::Command::get_name)
        .collect();
    format!(
        "{} needs a subcommand, one of: {}",
        command.get_name(),
        names.join(", ")
    )
}

/// `trainer report` without its folder: the missing arguments by name, and the usage
/// line that shows where they go (clap's message drops which subcommand it is about).
fn missing_arguments(e: &clap::Error) -> String {
    let rendered = e.to_string();
    let Some(ContextValue::Strings(names)) = e.get(ContextKind::InvalidArg) else {
        return one_line(&rendered);
    };
    let noun = if names.len() == 1 {
        "argument"
    } else {
        "arguments"
    };
    let usage = rendered
        .lines()
        .find_map(|l| l.trim().strip_prefix("Usage: "))
        .map(|usage| format!("; usage: {usage}"))
        .unwrap_or_default();
    format!("missing {noun} {}{usage}", names.join(", "))
}

/// clap's message up to its usage block, joined into one line, without its `error: `.
fn one_line(rendered: &str) -> String {
    let message: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
        .collect();
    message.join(" ").trim_start_matches("error: ").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clap_message_becomes_its_first_paragraph_on_one_line() {
        let rendered = "error: unexpected argument '--x' found\n\n  tip: to pass '--x' as a value, use '-- --x'\n\nUsage: trainer [OPTIONS]\n\nFor more information, try '--help'.\n";
        assert_eq!(one_line(rendered), "unexpected argument '--x' found");
        let two = "error: invalid value 'q' for '--dataset <DATASET>'\n  [possible values: mnist, fashion]\n\nUsage: x\n";
        assert_eq!(
            one_line(two),
            "invalid value 'q' for '--dataset <DATASET>' [possible values: mnist, fashion]"
        );
    }

    #[test]
    fn a_missing_argument_is_named_with_its_subcommands_usage() {
        let command = clap::Command::new("tool")
            .subcommand(clap::Command::new("report").arg(clap::Arg::new("MODELS").required(true)));
        let e = command
            .try_get_matches_from(["tool", "report"])
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(
            missing_arguments(&e),
            "missing argument <MODELS>; usage: tool report <MODELS>"
        );
    }

    #[test]
    fn a_missing_subcommand_is_named_with_the_choices() {
        let command = clap::Command::new("tool")
            .subcommand(clap::Command::new("one"))
            .subcommand(clap::Command::new("two"))
            .subcommand(clap::Command::new("secret").hide(true));
        assert_eq!(
            missing_subcommand(&command),
            "tool needs a subcommand, one of: one, two"
        );
    }

    #[test]
    fn outputs_that_are_not_regular_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("model.bin");
        check_output_path(&file).unwrap();
        std::fs::write(&file, b"x").unwrap();
        check_output_path(&file).unwrap();
        let message = |p: &Path| check_output_path(p).unwrap_err().to_string();
        assert!(message(dir.path()).contains("is a directory"));
        let slash = PathBuf::from(format!("{}/", dir.path().join("new").display()));
        assert!(message(&slash).contains("names a directory"));
        assert!(message(&dir.path().join("no/such.bin")).contains("does not exist"));
        #[cfg(unix)]
        {
            let link = dir.path().join("link.bin");
            std::os::unix::fs::symlink(&file, &link).unwrap();
            assert!(message(&link).contains("symbolic link"));
        }
    }

    #[test]
    fn an_output_may_not_be_an_input_or_another_output() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.bin");
        let same = dir.path().join("sub/../a.bin");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let b = dir.path().join("b.bin");
        check_distinct(&[(&a, "model"), (&b, "labels")], &[]).unwrap();
        let e = check_distinct(&[(&a, "model"), (&same, "labels")], &[]).unwrap_err();
        assert!(e.to_string().contains("is also the model"), "{e}");
        let e = check_distinct(&[(&b, "model")], &[(&b, "--resume file")]).unwrap_err();
        assert!(e.to_string().contains("--resume file"), "{e}");
    }

    #[test]
    fn companion_files_share_the_weights_stem() {
        let w = Path::new("out/mnist/pool.bin");
        assert_eq!(checkpoint_path(w), Path::new("out/mnist/pool.ckpt"));
        assert_eq!(resume_path(w), Path::new("out/mnist/pool.resume"));
        assert_eq!(history_path(w), Path::new("out/mnist/pool.history.json"));
    }
}
