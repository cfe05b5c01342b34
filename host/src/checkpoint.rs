//! The f32 checkpoint file (`weights.ckpt`): the trained float parameters, for host-side
//! checks (int8 against f32, plots, resuming).
//!
//! Layout: the 8 bytes `PICOCKPT`, the format version as a little-endian `u32`, then the
//! [`Checkpoint`] in postcard. Reading checks all three and the tensor shapes, so a wrong or
//! truncated file is an error naming it, never a panic or a silently wrong model.

use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::framed;
use crate::params::Checkpoint;
use std::path::Path;

/// First bytes of every checkpoint file.
pub const MAGIC: [u8; 8] = *b"PICOCKPT";
/// Format version this build writes and reads.
pub const VERSION: u32 = 1;

/// The file's bytes for `checkpoint`.
///
/// # Errors
/// [`Error::Encode`] if postcard cannot encode it (it always can for valid params).
pub fn to_bytes(checkpoint: &Checkpoint) -> Result<Vec<u8>> {
    framed::encode(&MAGIC, VERSION, checkpoint).map_err(|source| Error::Encode {
        what: "checkpoint",
        source,
    })
}

/// Decodes a checkpoint file's bytes; `path` only names the file in errors.
///
/// # Errors
/// [`Error::CheckpointFile`] for a wrong magic or version, undecodable or trailing bytes,
/// or tensors whose lengths do not fit their variant.
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
    let bad = |reason: String| Error::CheckpointFile {
        path: path.to_path_buf(),
        reason,
    };
    let checkpoint: Checkpoint = framed::decode(bytes, &MAGIC, VERSION).map_err(bad)?;
    if !checkpoint.params.has_valid_shapes() {
        return Err(bad(format!(
            "tensor lengths do not match variant {}",
            checkpoint.params.variant.name()
        )));
    }
    Ok(checkpoint)
}

/// Reads and checks a checkpoint file.
///
/// # Errors
/// [`Error::Io`] if it cannot be read, otherwise as [`from_bytes`].
pub fn read(path: &Path) -> Result<Checkpoint> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    from_bytes(&bytes, path)
}

/// Writes a checkpoint file atomically.
///
/// # Errors
/// [`Error::Io`] if writing fails (the old file, if any, is then unchanged).
pub fn write(path: &Path, checkpoint: &Checkpoint) -> Result<()> {
    write_atomic(path, &to_bytes(checkpoint)?).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;
    use picocnn::{Dataset, Variant};

    fn sample() -> Checkpoint {
        let mut params = Params::zeros(Variant::Pool);
        params.output_b[3] = 1.5;
        params.hidden_w[17] = -0.25;
        Checkpoint {
            dataset: Dataset::Fashion,
            params,
        }
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.ckpt");
        write(&path, &sample()).unwrap();
        assert_eq!(read(&path).unwrap(), sample());
    }

    #[test]
    fn rejects_damaged_files_with_one_line_naming_them() {
        let path = Path::new("w.ckpt");
        let good = to_bytes(&sample()).unwrap();
        assert_eq!(&good[..12], b"PICOCKPT\x01\x00\x00\x00");

        let mut wrong_magic = good.clone();
        wrong_magic[0] = b'X';
        let mut wrong_version = good.clone();
        wrong_version[8] = 2;
        let truncated = &good[..good.len() - 10];
        let mut trailing = good.clone();
        trailing.push(0);
        let mut wrong_shape = sample();
        wrong_shape.params.conv_b.pop();
        let wrong_shape = to_bytes(&wrong_shape).unwrap();

        for (bytes, says) in [
            (&good[..5], "shorter than the header"),
            (&wrong_magic[..], "bad magic"),
            (&wrong_version[..], "format version 2"),
            (truncated, "corrupt body"),
            (&trailing[..], "trailing"),
            (&wrong_shape[..], "do not match variant pool"),
        ] {
            let message = from_bytes(bytes, path).unwrap_err().to_string();
            assert!(
                message.starts_with("w.ckpt: ") && message.contains(says),
                "{message}"
            );
            assert!(!message.contains('\n'));
        }
    }
}
