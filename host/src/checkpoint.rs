//! The f32 checkpoint file (`weights.ckpt`): the trained float parameters, for host-side
//! checks (int8 against f32, plots, resuming).
//!
//! The [`Checkpoint`] in postcard inside picocnn's one frame ([`crate::frame`], kind
//! [`CHECKPOINT`]). Reading checks the frame, the tensor shapes and that every value is
//! finite, so a wrong, damaged or diverged file is an error naming it, never a panic or a
//! silently wrong model.

use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::frame::{self, CHECKPOINT};
use crate::params::Checkpoint;
use std::path::Path;

/// The file's bytes for `checkpoint`.
///
/// # Errors
/// [`Error::Encode`] if postcard cannot encode it (it always can for valid params).
pub fn to_bytes(checkpoint: &Checkpoint) -> Result<Vec<u8>> {
    frame::encode(&CHECKPOINT, checkpoint)
}

/// Decodes a checkpoint file's bytes; `path` only names the file in errors.
///
/// # Errors
/// [`Error::Frame`] for a wrong magic, version, length or checksum or an undecodable
/// body; [`Error::CheckpointContents`] for tensors whose lengths do not fit their
/// variant or a value that is not finite.
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
    let checkpoint: Checkpoint = frame::decode(&CHECKPOINT, bytes, path)?;
    let bad = |problem| Error::CheckpointContents {
        path: path.to_path_buf(),
        problem,
    };
    if !checkpoint.params.has_valid_shapes() {
        return Err(bad("its tensor lengths do not fit its variant"));
    }
    if !checkpoint.params.is_finite() {
        return Err(bad("a weight is not a finite number"));
    }
    Ok(checkpoint)
}

/// Reads and checks a checkpoint file (never more than a checkpoint can hold).
///
/// # Errors
/// As [`frame::read`], then as [`from_bytes`].
pub fn read(path: &Path) -> Result<Checkpoint> {
    from_bytes(&frame::read(&CHECKPOINT, path)?, path)
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
        assert_eq!(&good[..5], b"PCKP\x02");

        let mut wrong_magic = good.clone();
        wrong_magic[0] = b'X';
        let mut wrong_version = good.clone();
        wrong_version[4] = 3;
        let truncated = &good[..good.len() - 10];
        let mut trailing = good.clone();
        trailing.push(0);
        let mut flipped = good.clone();
        flipped[40] ^= 0x10;
        let mut wrong_shape = sample();
        wrong_shape.params.conv_b.pop();
        let wrong_shape = to_bytes(&wrong_shape).unwrap();
        let mut diverged = sample();
        diverged.params.hidden_w[5] = f32::NAN;
        let diverged = to_bytes(&diverged).unwrap();
        let format_1 = b"PICOCKPT\x01\x00\x00\x00rest";

        for (bytes, says) in [
            (&good[..3], "truncated"),
            (&wrong_magic[..], "bad magic"),
            (&wrong_version[..], "format 3 is newer"),
            (truncated, "truncated"),
            (&trailing[..], "bytes after its checksum"),
            (&flipped[..], "corrupted"),
            (
                &wrong_shape[..],
                "checkpoint is damaged: its tensor lengths do not fit",
            ),
            (
                &diverged[..],
                "checkpoint is damaged: a weight is not a finite number",
            ),
            (&format_1[..], "format 1 by an older picocnn"),
        ] {
            let message = from_bytes(bytes, path).unwrap_err().to_string();
            assert!(
                message.starts_with("w.ckpt: ") && message.contains(says),
                "{says}: {message}"
            );
            assert!(!message.contains('\n'));
        }
    }
}
