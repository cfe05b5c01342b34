//! Reading a whole file that must be small (a picture, a training history), without
//! trusting what the file system says about its size.
//!
//! [`read`] refuses a file whose size is over the limit before reading anything, and
//! reads at most one byte more than the limit otherwise, so that a device (`/dev/zero`),
//! a FIFO or a file growing under it cannot make it read without end. Picocnn's own
//! framed files have a reader of their own ([`crate::frame::read`]), bounded by what
//! their header announces.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// The whole of `path`, if it holds at most `limit` bytes; `what` names the kind of
/// file in the error (e.g. `PGM picture`).
///
/// # Errors
/// [`Error::Io`] if the file cannot be opened or read, [`Error::FileOverLimit`] if it
/// holds more than `limit` bytes (seen from its size when it has one, else after reading
/// `limit + 1` bytes).
pub fn read(path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>> {
    let io = |e| Error::io(path, e);
    let over = || Error::FileOverLimit {
        path: path.to_owned(),
        what,
        limit,
    };
    let file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > limit {
        return Err(over());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(over());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_the_limit_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.pgm");
        std::fs::write(&path, b"P5 2 2 255\n\x00\x01\x02\x03").unwrap();
        assert_eq!(read(&path, "PGM picture", 15).unwrap().len(), 15);
        // A sparse file of 1 TiB: refused from its size, instantly.
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(1 << 40)
            .unwrap();
        let message = read(&path, "PGM picture", 64 << 20)
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            format!(
                "{}: larger than the 64 MiB a PGM picture may have; not read",
                path.display()
            )
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_device_without_a_size_is_read_no_further_than_the_limit() {
        let error = read(Path::new("/dev/zero"), "training history", 1 << 20).unwrap_err();
        assert!(matches!(error, Error::FileOverLimit { .. }), "{error}");
    }
}
