//! The frame around the trainer's own binary files (the `.ckpt` checkpoint and the
//! `.resume` training state): 8 magic bytes, the format version as a little-endian `u32`,
//! then exactly one postcard value. Each file module adds its own magic, version, error
//! variant and shape checks.

use serde::{Deserialize, Serialize};

/// The file's bytes: `magic`, `version`, then `value` in postcard.
///
/// # Errors
/// postcard's, if it cannot encode `value`.
pub fn encode<T: Serialize>(magic: &[u8; 8], version: u32, value: &T) -> postcard::Result<Vec<u8>> {
    let mut bytes = magic.to_vec();
    bytes.extend_from_slice(&version.to_le_bytes());
    postcard::to_extend(value, bytes)
}

/// The value framed by `magic` and `version` in `bytes`, or why there is none: a short
/// header, a wrong magic or version, an undecodable body or bytes after it. postcard
/// never allocates more than the input can hold, whatever its length prefixes claim.
///
/// # Errors
/// The reason, one line without the file's name.
pub fn decode<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    version: u32,
) -> Result<T, String> {
    let Some((found, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(format!("{} bytes is shorter than the header", bytes.len()));
    };
    if found != magic {
        return Err(format!(
            "bad magic (expected {})",
            String::from_utf8_lossy(magic)
        ));
    }
    let Some((found, body)) = rest.split_first_chunk::<4>() else {
        return Err("truncated header".into());
    };
    let found = u32::from_le_bytes(*found);
    if found != version {
        return Err(format!(
            "format version {found}, this build reads {version}"
        ));
    }
    let (value, trailing) =
        postcard::take_from_bytes(body).map_err(|e| format!("corrupt body ({e})"))?;
    if !trailing.is_empty() {
        return Err(format!("{} unexpected trailing bytes", trailing.len()));
    }
    Ok(value)
}
