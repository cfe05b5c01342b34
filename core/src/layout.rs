//! The order of the weights in `weights.bin`: the one definition, used by the inference
//! loops, the host's encoder and its decoder.
//!
//! Each layer's weights are one byte string in the file. The index functions below map a
//! weight's *natural* index (the one the float model and the host reference use) to its
//! byte position in that string:
//!
//! | layer | natural index | file order |
//! |---|---|---|
//! | conv | `filter`, `tap = ky * 3 + kx` | `[tap][filter]` |
//! | hidden | `unit`, `input = position * 32 + channel` (row-major feature map) | `[band][unit][position in band][channel]`, [`BAND_POSITIONS`] positions per band |
//! | output | `class`, `unit` | `[class][unit]` |
//!
//! The inference loops read these byte strings front to back, in chunks whose sizes are
//! the constants here, so a layout change is made in this file and nowhere else (and
//! bumps [`FORMAT_VERSION`](crate::format::FORMAT_VERSION)).

use crate::shape::{CLASSES, FILTERS, HIDDEN, KERNEL_TAPS, Variant};

/// Feature positions per band of the hidden layer: half a 26-wide conv row (variant A),
/// one 13-wide pooled row (variant B).
pub const BAND_POSITIONS: usize = 13;
/// Activations per band (positions x channels): one unit's weights for a band are this
/// many consecutive bytes.
pub const BAND_LEN: usize = BAND_POSITIONS * FILTERS;

/// Bytes of the conv weights.
pub const CONV_WEIGHTS: usize = FILTERS * KERNEL_TAPS;
/// Bytes of the output layer's weights.
pub const OUTPUT_WEIGHTS: usize = CLASSES * HIDDEN;

const _: () = assert!(
    Variant::NoPool
        .feature_positions()
        .is_multiple_of(BAND_POSITIONS)
);
const _: () = assert!(
    Variant::Pool
        .feature_positions()
        .is_multiple_of(BAND_POSITIONS)
);

/// Bytes of the hidden layer's weights for `variant`.
pub const fn hidden_weights(variant: Variant) -> usize {
    variant.flat_len() * HIDDEN
}

/// Bands of the hidden layer's input for `variant`.
pub const fn bands(variant: Variant) -> usize {
    variant.feature_positions() / BAND_POSITIONS
}

/// Position in the conv weights of filter `filter`'s weight for `tap`: the 32 filters'
/// weights of one tap are contiguous (a microcontroller walks the filters with one
/// pointer, a host loads eight filters' weights of a tap as one vector).
///
/// ```
/// use picocnn::layout::conv_index;
/// assert_eq!(conv_index(1, 0), 1); // the next filter
/// assert_eq!(conv_index(0, 1), 32); // the next tap
/// ```
pub const fn conv_index(filter: usize, tap: usize) -> usize {
    tap * FILTERS + filter
}

/// Position in the hidden weights of unit `unit`'s weight for flattened input `input`
/// (`position * 32 + channel`, positions row-major over the feature map).
///
/// ```
/// use picocnn::layout::{hidden_index, BAND_LEN};
/// assert_eq!(hidden_index(1, 0), BAND_LEN); // each unit's band is contiguous
/// assert_eq!(hidden_index(0, BAND_LEN), 128 * BAND_LEN); // then the next band
/// ```
pub const fn hidden_index(unit: usize, input: usize) -> usize {
    let (band, in_band) = (input / BAND_LEN, input % BAND_LEN);
    (band * HIDDEN + unit) * BAND_LEN + in_band
}

/// Position in the output weights of class `class`'s weight for hidden unit `unit`.
pub const fn output_index(class: usize, unit: usize) -> usize {
    class * HIDDEN + unit
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each index function is a permutation of its tensor: every byte is hit once.
    fn assert_permutation(len: usize, rows: usize, cols: usize, index: fn(usize, usize) -> usize) {
        assert_eq!(rows * cols, len);
        let mut seen = [0u8; 21_632 * 128 / 8];
        for r in 0..rows {
            for c in 0..cols {
                let i = index(r, c);
                assert!(i < len, "{r},{c} -> {i} of {len}");
                let (byte, bit) = (i / 8, 1u8 << (i % 8));
                assert_eq!(seen[byte] & bit, 0, "{r},{c} -> {i} twice");
                seen[byte] |= bit;
            }
        }
    }

    #[test]
    fn index_functions_are_permutations() {
        assert_permutation(CONV_WEIGHTS, FILTERS, KERNEL_TAPS, conv_index);
        for variant in Variant::ALL {
            assert_permutation(
                hidden_weights(variant),
                HIDDEN,
                variant.flat_len(),
                hidden_index,
            );
        }
        assert_permutation(OUTPUT_WEIGHTS, CLASSES, HIDDEN, output_index);
    }
}
