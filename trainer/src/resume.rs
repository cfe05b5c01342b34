//! The resume file (`weights.resume`): the state of a training run interrupted by Ctrl-C.
//!
//! The [`TrainState`] in postcard inside picocnn's one frame ([`picocnn_host::frame`],
//! kind [`RESUME`]). It is written atomically when a run stops on SIGINT and read
//! by `trainer --resume`, which continues the run to the weights it would have reached
//! without stopping.

use crate::error::{Error, Result};
use crate::train::TrainState;
use picocnn_host::atomic::write_atomic;
use picocnn_host::frame::{self, RESUME};
use std::path::Path;

/// The file's bytes for `state`.
///
/// # Errors
/// [`picocnn_host::Error::Encode`] if postcard cannot encode it (it always can).
pub fn to_bytes(state: &TrainState) -> Result<Vec<u8>> {
    Ok(frame::encode(&RESUME, state)?)
}

/// Decodes a resume file's bytes; `path` only names the file in errors.
///
/// # Errors
/// [`picocnn_host::Error::Frame`] for a wrong magic, version, length or checksum or an
/// undecodable body, [`Error::ResumeFile`] for parameters or moments whose shapes do not
/// fit their variant or are not finite.
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<TrainState> {
    let bad = |reason: String| Error::ResumeFile {
        path: path.to_path_buf(),
        reason,
    };
    let state: TrainState = frame::decode(&RESUME, bytes, path)?;
    let variant = state.params.variant;
    if !state.params.has_valid_shapes()
        || state.adam.m.variant != variant
        || state.adam.v.variant != variant
        || !state.adam.m.has_valid_shapes()
        || !state.adam.v.has_valid_shapes()
    {
        return Err(bad("tensor shapes do not fit the variant".into()));
    }
    if !(state.params.is_finite() && state.adam.m.is_finite() && state.adam.v.is_finite()) {
        return Err(bad(
            "it holds a weight or moment that is not a finite number".into(),
        ));
    }
    Ok(state)
}

/// Reads a resume file.
///
/// # Errors
/// [`picocnn_host::Error::Io`] if it cannot be read, else as [`from_bytes`].
pub fn read(path: &Path) -> Result<TrainState> {
    from_bytes(&frame::read(&RESUME, path)?, path)
}

/// Writes a resume file atomically.
///
/// # Errors
/// [`picocnn_host::Error::Io`] if writing fails (the destination is then unchanged).
pub fn write(path: &Path, state: &TrainState) -> Result<()> {
    write_atomic(path, &to_bytes(state)?).map_err(|e| Error::io(path, e))
}
