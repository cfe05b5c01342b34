//! The resume file (`weights.resume`): the state of a training run interrupted by Ctrl-C.
//!
//! Layout: the 8 bytes `PICORSUM`, the format version as a little-endian `u32`, then the
//! [`TrainState`] in postcard. It is written atomically when a run stops on SIGINT and read
//! by `trainer --resume`, which continues the run to the weights it would have reached
//! without stopping.

use crate::error::{Error, Result};
use crate::train::TrainState;
use picocnn_host::atomic::write_atomic;
use picocnn_host::framed;
use std::path::Path;

/// First bytes of every resume file.
pub const MAGIC: [u8; 8] = *b"PICORSUM";
/// Format version this build writes and reads.
pub const VERSION: u32 = 2;

/// The file's bytes for `state`.
///
/// # Errors
/// [`picocnn_host::Error::Encode`] if postcard cannot encode it (it always can).
pub fn to_bytes(state: &TrainState) -> Result<Vec<u8>> {
    framed::encode(&MAGIC, VERSION, state).map_err(|source| {
        picocnn_host::Error::Encode {
            what: "training state",
            source,
        }
        .into()
    })
}

/// Decodes a resume file's bytes; `path` only names the file in errors.
///
/// # Errors
/// [`Error::ResumeFile`] for a wrong magic or version, undecodable or trailing bytes, or
/// parameters or moments whose shapes do not fit their variant.
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<TrainState> {
    let bad = |reason: String| Error::ResumeFile {
        path: path.to_path_buf(),
        reason,
    };
    let state: TrainState = framed::decode(bytes, &MAGIC, VERSION).map_err(bad)?;
    let variant = state.params.variant;
    if !state.params.has_valid_shapes()
        || state.adam.m.variant != variant
        || state.adam.v.variant != variant
        || !state.adam.m.has_valid_shapes()
        || !state.adam.v.has_valid_shapes()
    {
        return Err(bad("tensor shapes do not fit the variant".into()));
    }
    Ok(state)
}

/// Reads a resume file.
///
/// # Errors
/// [`picocnn_host::Error::Io`] if it cannot be read, else as [`from_bytes`].
pub fn read(path: &Path) -> Result<TrainState> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    from_bytes(&bytes, path)
}

/// Writes a resume file atomically.
///
/// # Errors
/// [`picocnn_host::Error::Io`] if writing fails (the destination is then unchanged).
pub fn write(path: &Path, state: &TrainState) -> Result<()> {
    write_atomic(path, &to_bytes(state)?).map_err(|e| Error::io(path, e))
}
