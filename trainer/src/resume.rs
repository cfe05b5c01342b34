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
/// undecodable body, [`Error::ResumeDamaged`] for contents no run writes (see
/// [`damage`]).
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<TrainState> {
    let state: TrainState = frame::decode(&RESUME, bytes, path)?;
    match damage(&state) {
        Some(problem) => Err(Error::ResumeDamaged {
            path: path.to_path_buf(),
            problem,
        }),
        None => Ok(state),
    }
}

/// What in `state` no training run writes, if anything: shapes that do not fit the
/// variant, a weight or moment that is not finite, a negative second moment, Adam's
/// constants out of range, an impossible tally, training time or epoch record.
///
/// The trainer never saves a state whose weights are not finite (it reports the
/// divergence instead), so any of these means damage that happened before the checksum
/// was computed, or a forged file. Checked on load so that it is named as such, instead
/// of making the resumed run diverge and blaming the learning rate.
pub fn damage(state: &TrainState) -> Option<&'static str> {
    let variant = state.params.variant;
    let adam = &state.adam;
    let problem = if !state.params.has_valid_shapes()
        || adam.m.variant != variant
        || adam.v.variant != variant
        || !adam.m.has_valid_shapes()
        || !adam.v.has_valid_shapes()
    {
        "its tensors do not have the shapes of its variant"
    } else if !state.params.is_finite() {
        "a weight is not a finite number"
    } else if !adam.m.is_finite() {
        "an Adam first moment is not a finite number"
    } else if adam
        .v
        .tensors()
        .iter()
        .any(|t| t.iter().any(|v| !(v.is_finite() && *v >= 0.0)))
    {
        "an Adam second moment is negative or not a finite number"
    } else if !(0.0..1.0).contains(&adam.beta1) {
        "Adam's beta1 is outside [0, 1)"
    } else if !(0.0..1.0).contains(&adam.beta2) {
        "Adam's beta2 is outside [0, 1)"
    } else if !(adam.epsilon.is_finite() && adam.epsilon > 0.0) {
        "Adam's epsilon is not a positive number"
    } else if !(state.tally.loss.is_finite() && state.tally.loss >= 0.0)
        || state.tally.correct > state.tally.count
    {
        "the epoch's loss or counts are out of range"
    } else if !(state.seconds.is_finite() && state.seconds >= 0.0) {
        "its training time is not a duration"
    } else if !(0.0..1.0).contains(&state.recipe.label_smoothing) {
        "its label smoothing is outside [0, 1)"
    } else if state.records.iter().any(|r| r.implausible().is_some()) {
        "the record of a finished epoch holds a value no run writes"
    } else {
        return None;
    };
    Some(problem)
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
