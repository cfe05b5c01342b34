//! A lock file beside an output, so that two runs writing the same files at once do not
//! mix them (a model from one run, a checkpoint from the other).
//!
//! The lock is `<output>.lock`, created with `create_new` and holding the owner's process
//! id; it is removed when the [`OutputLock`] is dropped. A lock whose process is gone (a
//! run killed with SIGKILL) is stale and taken over.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;

/// How old a lock file without a process id must be to count as stale: a run writes its
/// id right after creating the file, so an empty one younger than this is being written.
const UNNAMED_GRACE: Duration = Duration::from_secs(5);

/// The lock on a run's outputs, held until dropped.
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
}

impl OutputLock {
    /// Takes the lock on `output` (the file `<output>.lock`), taking over a stale one.
    ///
    /// # Errors
    /// [`Error::OutputLocked`] if a live process holds it, naming that process;
    /// [`Error::OutputNotAFile`] if the lock path is not a regular file; [`Error::Io`] if
    /// the lock file cannot be created.
    pub fn acquire(output: &Path) -> crate::Result<Self> {
        let mut name = output.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        crate::cli::check_output_path(&path)?;
        // Two attempts: the second after removing a stale lock.
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    writeln!(file, "{}", std::process::id()).map_err(|e| Error::io(&path, e))?;
                    return Ok(OutputLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if let Some(pid) = holder(&path) {
                        return Err(Error::OutputLocked {
                            path: output.to_owned(),
                            lock: path,
                            pid,
                        });
                    }
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::io(
            &path,
            std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        ))
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The live process holding the lock file `path` (`Some(0)` when the file names none yet
/// but is fresh), or `None` when the lock is stale.
fn holder(path: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(path).ok()?;
    match text.trim().parse::<u32>() {
        Ok(pid) => alive(pid).then_some(pid),
        Err(_) => {
            let age = std::fs::metadata(path)
                .ok()?
                .modified()
                .ok()?
                .elapsed()
                .ok()?;
            (age < UNNAMED_GRACE).then_some(0)
        }
    }
}

/// Whether process `pid` exists. Only Linux's `/proc` is asked; elsewhere every lock is
/// taken as held, and a stale one must be removed by hand (the error says so).
fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_refused_and_a_stale_one_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("weights.bin");
        let lock = OutputLock::acquire(&out).unwrap();
        let e = OutputLock::acquire(&out).unwrap_err().to_string();
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(lock);
        assert!(!dir.path().join("weights.bin.lock").exists());
        std::fs::write(dir.path().join("weights.bin.lock"), "4294967295\n").unwrap();
        let _lock = OutputLock::acquire(&out).unwrap();
    }
}
