//! The two dense layers: the hidden layer fed band by band, and the output layer.
//!
//! The hidden layer never sees the whole feature map. Features arrive in bands of
//! [`BAND_POSITIONS`](crate::layout::BAND_POSITIONS) positions (x 32 channels), and each
//! of the 128 units adds one 416-long int8 x int16 dot product to its int32 accumulator.
//! The weights are stored in exactly that order (see [`layout`](crate::layout)): each
//! unit's 416 weights of a band are contiguous, so the loops read flash front to back.
//!
//! Two loop shapes of the same sums, chosen by target:
//! - **per unit** (hosts): one dot product per unit with sixteen partial sums, which the
//!   compiler turns into widening multiply-adds (`vpmovsxbw` + `vpmaddwd` per 16 weights
//!   with AVX2), the band re-read from L1 for every unit.
//! - **eight units at once** (microcontrollers): each activation is loaded once for
//!   eight units, whose eight weights sit at fixed distances (`416 * r`, below the 4 KiB
//!   reach of an Arm load's immediate offset) from one pointer. On Cortex-M3 that is a
//!   load and a multiply-add per weight.
//! - **pairs** (ARMv7E-M, `cfg(picocnn_halfword)`): four units at once, two activations
//!   per 32-bit load, each half multiplied in place by `SMLABB`/`SMLATB`, so that the
//!   four accumulators, two activation words, the weight and the pointers fit the
//!   registers without spills.
//! - with the `dsp` feature on ARMv7E-M, the [`dsp`](crate::dsp) module's kernel.
//!
//! Integer addition is associative, so every shape gives the same sums.

use crate::layout::BAND_LEN;
use crate::quant::{Activation, ChannelParams, Multiplier, activation_value, requantize};
use crate::shape::{CLASSES, HIDDEN};

/// One band of the hidden layer's input: 13 positions x 32 channels, position-major.
pub(crate) type Band = [Activation; BAND_LEN];

/// One band's hidden weights: `[unit][input in band]`.
pub(crate) type BandWeights = [[u8; BAND_LEN]; HIDDEN];

/// Adds one band's contribution to every hidden unit's accumulator; `band` holds the
/// activations minus their zero point.
#[cfg_attr(target_os = "none", inline(never))]
pub(crate) fn hidden_band(acc: &mut [i32; HIDDEN], weights: &BandWeights, band: &Band) {
    #[cfg(picocnn_dsp)]
    crate::dsp::hidden_band(acc, weights, band);
    #[cfg(all(picocnn_halfword, not(picocnn_dsp)))]
    hidden_band_pairs(acc, weights, band);
    #[cfg(all(target_os = "none", not(picocnn_halfword)))]
    hidden_band_rows(acc, weights, band);
    #[cfg(not(target_os = "none"))]
    hidden_band_units(acc, weights, band);
}

/// Lanes of the partial sums in [`dot`]: one 256-bit vector of i16 products.
const LANES: usize = 16;

/// `sum(w[i] * x[i])` for int8 weights (stored as bytes) and non-negative activations.
///
/// Written as `LANES` independent partial sums over `LANES`-long chunks, added at the
/// end: integer addition is associative, so the result is the plain sum, and this shape
/// lets the compiler pair neighbouring lanes with one widening multiply-add
/// (`vpmovsxbw` + `vpmaddwd` per 16 weights with AVX2) and reduce once per call.
#[inline(always)]
pub(crate) fn dot<const N: usize>(weights: &[u8; N], x: &[Activation; N]) -> i32 {
    let mut lanes = [0i32; LANES];
    let (w_chunks, w_tail) = weights.as_chunks::<LANES>();
    let (x_chunks, x_tail) = x.as_chunks::<LANES>();
    for (wc, xc) in w_chunks.iter().zip(x_chunks) {
        for (lane, (&w, &v)) in lanes.iter_mut().zip(wc.iter().zip(xc)) {
            // |w * v| <= 127 * 255; a validated model keeps every sum far from overflow.
            *lane = lane.wrapping_add(i32::from(w as i8).wrapping_mul(activation_value(v)));
        }
    }
    let tail = w_tail.iter().zip(x_tail).fold(0i32, |sum, (&w, &v)| {
        sum.wrapping_add(i32::from(w as i8).wrapping_mul(activation_value(v)))
    });
    lanes.iter().fold(tail, |sum, &lane| sum.wrapping_add(lane))
}

/// The per-unit shape (hosts).
#[cfg_attr(target_os = "none", allow(dead_code))]
#[inline(always)]
fn hidden_band_units(acc: &mut [i32; HIDDEN], weights: &BandWeights, band: &Band) {
    for (a, row) in acc.iter_mut().zip(weights) {
        *a = a.wrapping_add(dot(row, band));
    }
}

/// Units whose accumulators the microcontroller shape keeps in registers: with the
/// weight, the activation, two pointers and the loop end, the 13 registers Thumb code
/// can use (r7 is the frame pointer).
const ROWS: usize = 8;
const _: () = assert!(HIDDEN.is_multiple_of(ROWS));
// Every weight of the eight rows is within an immediate offset of the first row's.
const _: () = assert!((ROWS - 1) * BAND_LEN + BAND_LEN <= 4096);

/// The eight-units-at-once shape (microcontrollers).
#[cfg_attr(any(not(target_os = "none"), picocnn_halfword), allow(dead_code))]
#[inline(always)]
fn hidden_band_rows(acc: &mut [i32; HIDDEN], weights: &BandWeights, band: &Band) {
    for (acc, rows) in acc
        .as_chunks_mut::<ROWS>()
        .0
        .iter_mut()
        .zip(weights.as_chunks::<ROWS>().0)
    {
        let mut sums = [0i32; ROWS];
        for (i, &x) in band.iter().enumerate() {
            let x = activation_value(x);
            for (sum, row) in sums.iter_mut().zip(rows) {
                let w = row.get(i).map_or(0, |&w| i32::from(w as i8));
                *sum = sum.wrapping_add(w.wrapping_mul(x));
            }
        }
        for (a, s) in acc.iter_mut().zip(sums) {
            *a = a.wrapping_add(s);
        }
    }
}

/// Units of the pairs shape.
const PAIR_ROWS: usize = 4;
const _: () = assert!(HIDDEN.is_multiple_of(PAIR_ROWS));

/// The pairs shape (ARMv7E-M).
#[cfg_attr(any(not(picocnn_halfword), picocnn_dsp), allow(dead_code))]
#[inline(always)]
fn hidden_band_pairs(acc: &mut [i32; HIDDEN], weights: &BandWeights, band: &Band) {
    let words = band.as_flattened().as_chunks::<4>().0;
    for (acc, rows) in acc
        .as_chunks_mut::<PAIR_ROWS>()
        .0
        .iter_mut()
        .zip(weights.as_chunks::<PAIR_ROWS>().0)
    {
        let mut sums = [0i32; PAIR_ROWS];
        for (i, word) in words.iter().enumerate() {
            // Two activations; LLVM multiplies each half in place (SMLABB, SMLATB).
            let word = u32::from_le_bytes(*word);
            for half in 0..2 {
                let x = i32::from((word >> (16 * half)) as i16);
                for (sum, row) in sums.iter_mut().zip(rows) {
                    let w = row.get(2 * i + half).map_or(0, |&w| i32::from(w as i8));
                    *sum = sum.wrapping_add(w.wrapping_mul(x));
                }
            }
        }
        for (a, s) in acc.iter_mut().zip(sums) {
            *a = a.wrapping_add(s);
        }
    }
}

/// Output weights: `[class][hidden unit]`.
pub(crate) type OutputWeights = [[u8; HIDDEN]; CLASSES];

/// The hidden layer's ReLU and requantization (into the first 128 entries of `band`,
/// free once the last band is consumed), then the output layer requantized to the
/// common logit scale.
#[cfg_attr(target_os = "none", inline(never))]
pub(crate) fn output_layer(
    hidden: &ChannelParams<'_, HIDDEN>,
    acc: &[i32; HIDDEN],
    band: &mut Band,
    weights: &OutputWeights,
    output: &ChannelParams<'_, CLASSES>,
) -> [i32; CLASSES] {
    let Some(x) = band.first_chunk_mut::<HIDDEN>() else {
        return [0; CLASSES];
    };
    hidden.relu_requantize(acc, x);
    let mut logits = [0i32; CLASSES];
    output.load_biases(&mut logits);
    for (((l, row), m), &s) in logits
        .iter_mut()
        .zip(weights)
        .zip(output.multiplier)
        .zip(output.shift)
    {
        let acc = l.wrapping_add(dot(row, x));
        // Validated at load: multiplier >= 0 and shift in range, so `new` succeeds.
        if let Some(m) = Multiplier::new(i32::from_le_bytes(*m), s) {
            *l = requantize(acc, m);
        }
    }
    logits
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shape against the others and a plain sum, on random weights (the extremes included) and
    /// activations up to 255.
    #[test]
    fn every_shape_agrees() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..8 {
            let mut weights = [[0u8; BAND_LEN]; HIDDEN];
            for w in weights.as_flattened_mut() {
                *w = match round {
                    0 => 0x7f,
                    1 => 0x81,
                    // -128 is not a valid symmetric weight.
                    _ => match next() as u8 {
                        0x80 => 0x81,
                        w => w,
                    },
                };
            }
            let band: Band = core::array::from_fn(|_| {
                if round < 2 {
                    [255, 0]
                } else {
                    [next() as u8, 0]
                }
            });
            let start: [i32; HIDDEN] = core::array::from_fn(|_| (next() as i32) >> 4);
            let (mut a, mut b, mut c) = (start, start, start);
            hidden_band_units(&mut a, &weights, &band);
            hidden_band_rows(&mut b, &weights, &band);
            hidden_band_pairs(&mut c, &weights, &band);
            assert_eq!(a, b, "round {round}");
            assert_eq!(a, c, "round {round}");
            let expected: [i32; HIDDEN] = core::array::from_fn(|u| {
                start[u].wrapping_add(
                    (0..BAND_LEN)
                        .map(|i| i32::from(weights[u][i] as i8) * activation_value(band[i]))
                        .sum::<i32>(),
                )
            });
            assert_eq!(a, expected, "round {round}");
        }
    }
}
