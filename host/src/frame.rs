//! One frame and one reader for every picocnn file: `weights.bin`, the `.ckpt` checkpoint
//! and the `.resume` training state.
//!
//! The frame is the core's ([`picocnn::format::encode_frame`]): 4 magic bytes, the format
//! version and the payload's length as varints, the payload (postcard), a CRC32 of all of
//! it. [`read`] looks at the header first, refuses a file that announces more than its
//! kind may hold before reading the rest, reads exactly the announced length (a device
//! like `/dev/zero` or a huge sparse file is never read whole), and checks the CRC.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use picocnn::format::{self, MAX_HEADER};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What kind of file a frame holds, and its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// The first four bytes.
    pub magic: [u8; 4],
    /// The format version this build writes and reads.
    pub version: u16,
    /// The file's name in messages, e.g. `checkpoint`.
    pub what: &'static str,
    /// The largest file of this kind a valid model makes, with room to spare.
    pub max_bytes: usize,
    /// The first bytes of this kind's files before this frame (format 1), if they differ,
    /// so that an old file is named as such rather than as foreign.
    pub old_magic: Option<&'static [u8]>,
}

/// `weights.bin`: variant A's is 2.8 MB.
pub const MODEL: Kind = Kind {
    magic: format::MAGIC,
    version: format::FORMAT_VERSION,
    what: "model file",
    max_bytes: 8 << 20,
    old_magic: None,
};

/// The f32 checkpoint: variant A's is 11 MB.
pub const CHECKPOINT: Kind = Kind {
    magic: *b"PCKP",
    version: 2,
    what: "checkpoint",
    max_bytes: 32 << 20,
    old_magic: Some(b"PICOCKPT"),
};

/// The training state of an interrupted run: parameters and Adam's two moments, 33 MB
/// for variant A.
pub const RESUME: Kind = Kind {
    magic: *b"PRSM",
    // 3: the recipe records --label-smoothing.
    version: 3,
    what: "resume file",
    max_bytes: 96 << 20,
    old_magic: Some(b"PICORSUM"),
};

/// `value` in postcard, framed as `kind`.
///
/// # Errors
/// [`Error::Encode`] if postcard cannot encode it (only a bug can cause it).
pub fn encode<T: Serialize>(kind: &Kind, value: &T) -> Result<Vec<u8>> {
    let encode_error = |source| Error::Encode {
        what: kind.what,
        source,
    };
    let payload = postcard::to_allocvec(value).map_err(encode_error)?;
    let mut out = vec![0u8; payload.len() + MAX_HEADER + format::CRC_BYTES];
    let len = format::encode_frame(kind.magic, kind.version, &payload, &mut out)
        .map_err(|_| encode_error(postcard::Error::SerializeBufferFull))?;
    out.truncate(len);
    Ok(out)
}

/// The value in a whole frame of `kind`: header, length, CRC, then exactly one postcard
/// value. postcard never allocates more than the input can hold, whatever its length
/// prefixes claim.
///
/// # Errors
/// [`Error::Frame`] naming `path` and the problem.
pub fn decode<'a, T: Deserialize<'a>>(kind: &Kind, bytes: &'a [u8], path: &Path) -> Result<T> {
    let payload = format::decode_frame(bytes, kind.magic, kind.version)
        .map_err(|e| frame_error(kind, bytes, path, e))?;
    match postcard::take_from_bytes(payload) {
        Ok((value, [])) => Ok(value),
        _ => Err(frame_error(
            kind,
            bytes,
            path,
            picocnn::Error::ModelMalformed,
        )),
    }
}

/// Reads a file of `kind` whose header and length are right, at most
/// [`Kind::max_bytes`], without trusting anything it says before checking it. The CRC
/// and the contents are for [`decode`] (or, for models, the core) to check.
///
/// # Errors
/// [`Error::Io`] if it cannot be read, [`Error::FileEmpty`], [`Error::Frame`] for a wrong
/// magic, version or length, [`Error::FileTooLarge`] for a file that announces more than its kind holds.
pub fn read(kind: &Kind, path: &Path) -> Result<Vec<u8>> {
    let io = |e| Error::io(path, e);
    let mut file = File::open(path).map_err(io)?;
    let mut head = Vec::with_capacity(MAX_HEADER);
    (&mut file)
        .take(MAX_HEADER as u64)
        .read_to_end(&mut head)
        .map_err(io)?;
    if head.is_empty() {
        return Err(Error::FileEmpty {
            path: path.to_owned(),
            what: kind.what,
        });
    }
    let header = format::read_header(&head, kind.magic, kind.version)
        .map_err(|e| frame_error(kind, &head, path, e))?;
    let len = header
        .frame_len()
        .filter(|&len| len <= kind.max_bytes)
        .ok_or_else(|| Error::FileTooLarge {
            path: path.to_owned(),
            what: kind.what,
            declared: header.payload_len,
            limit: kind.max_bytes,
        })?;
    let mut bytes = head;
    bytes.reserve(len.saturating_sub(bytes.len()) + 1);
    // One byte more than announced tells a file with trailing bytes from an exact one.
    file.take((len + 1 - bytes.len().min(len)) as u64)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() != len {
        let problem = if bytes.len() < len {
            picocnn::Error::ModelTruncated
        } else {
            picocnn::Error::ModelTrailingBytes
        };
        return Err(frame_error(kind, &bytes, path, problem));
    }
    Ok(bytes)
}

/// A frame problem of a file of `kind`, told as an old format when the file starts with
/// the magic this kind had before.
fn frame_error(kind: &Kind, bytes: &[u8], path: &Path, problem: picocnn::Error) -> Error {
    let old = kind.old_magic.is_some_and(|m| bytes.starts_with(m));
    let problem = if old {
        picocnn::Error::ModelVersion {
            found: 1,
            expected: kind.version,
        }
    } else {
        problem
    };
    Error::Frame {
        path: path.to_owned(),
        what: kind.what,
        problem,
    }
}

/// The frame problem of a file of kind `what`, in words.
pub(crate) fn describe(what: &str, problem: &picocnn::Error) -> String {
    match problem {
        picocnn::Error::ModelBadMagic => format!("not a picocnn {what} (bad magic bytes)"),
        picocnn::Error::ModelVersion { found, expected } if found < expected => format!(
            "{what} written in format {found} by an older picocnn; this build reads format \
             {expected}: retrain or re-export it with this version"
        ),
        picocnn::Error::ModelVersion { found, expected } => format!(
            "{what} format {found} is newer than this build's format {expected}: update picocnn"
        ),
        picocnn::Error::ModelTruncated => format!("{what} is truncated"),
        picocnn::Error::ModelHeader => {
            format!("{what} header is damaged: its version or length is not a valid varint")
        }
        picocnn::Error::ModelTrailingBytes => format!("{what} has bytes after its checksum"),
        picocnn::Error::ModelChecksum { .. } => {
            format!("{what} is corrupted (its checksum does not match)")
        }
        picocnn::Error::ModelMalformed => {
            format!("{what} cannot be decoded although its checksum matches")
        }
        other => format!("{what}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: Kind = Kind {
        magic: *b"DEMO",
        version: 2,
        what: "demo file",
        max_bytes: 64,
        old_magic: Some(b"OLDDEMO!"),
    };

    fn problem(bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, bytes).unwrap();
        let err = read(&DEMO, &path)
            .and_then(|b| decode::<Vec<u8>>(&DEMO, &b, &path))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert!(!err.contains('\n'), "{err}");
        err
    }

    #[test]
    fn a_value_round_trips_and_every_damage_is_named() {
        let value = vec![7u8; 20];
        let good = encode(&DEMO, &value).unwrap();
        assert_eq!(&good[..4], b"DEMO");
        assert_eq!(
            decode::<Vec<u8>>(&DEMO, &good, Path::new("f")).unwrap(),
            value
        );
        let mut flipped = good.clone();
        flipped[10] ^= 1;
        let mut trailing = good.clone();
        trailing.push(0);
        let mut newer = good.clone();
        newer[4] = 3;
        for (bytes, says) in [
            (&good[..good.len() - 1], "truncated"),
            (&trailing[..], "bytes after its checksum"),
            (&flipped[..], "corrupted"),
            (&b"XXXXXXXXXXXX"[..], "bad magic"),
            (&b"OLDDEMO!\x01\0\0\0"[..], "format 1 by an older picocnn"),
            (&newer[..], "format 3 is newer"),
            (&b"DE"[..], "truncated"),
            (&b"DX"[..], "bad magic"),
            (
                &b"DEMO\x02\xff\xff\xff\xff\xff\xff"[..],
                "demo file header is damaged",
            ),
        ] {
            let err = problem(bytes);
            assert!(err.contains(says), "{says}: {err}");
        }
    }

    #[test]
    fn a_file_announcing_more_than_its_kind_holds_is_not_read() {
        let mut out = [0u8; 16];
        // A header announcing 1 GB, followed by nothing.
        let len = format::encode_frame(*b"DEMO", 2, &[], &mut out).unwrap();
        let mut header = out[..len].to_vec();
        header.truncate(5);
        header.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x04]);
        let err = problem(&header);
        assert!(err.contains("announces 1073741824 bytes"), "{err}");
    }
}
