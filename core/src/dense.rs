//! The two dense layers: the hidden layer fed band by band, and the output layer.
//!
//! The hidden layer never sees the whole feature map. Features arrive in bands of
//! [`BAND_POSITIONS`](crate::layout::BAND_POSITIONS) positions (x 32 channels), and each
//! of the 128 units adds one 416-long int8 x int16 dot product to its int32 accumulator.
//! The weights are stored in exactly that order (see [`layout`](crate::layout)), so the
//! loop reads flash sequentially and the compiler turns each dot product into widening
//! multiply-adds (`vpmaddwd` with AVX2).

use crate::layout::BAND_LEN;
use crate::shape::HIDDEN;

/// Lanes of the partial sums in [`dot`]: one 256-bit vector of i16 products.
#[cfg(not(target_arch = "arm"))]
const LANES: usize = 16;
/// Lanes of the partial sums in [`dot`] on 32-bit Arm: two, so that the sums stay in
/// registers (sixteen spill to the stack, which cost a Cortex-M4 0.87 more instructions
/// per multiply-add in all; measured with scripts/firmware-check.sh).
#[cfg(target_arch = "arm")]
const LANES: usize = 2;

/// `sum(w[i] * x[i])` for int8 weights (stored as bytes) and non-negative activations.
///
/// Written as `LANES` independent partial sums over `LANES`-long chunks, added at the
/// end: integer addition is associative, so the result is the plain sum, and this shape
/// lets the compiler pair neighbouring lanes with one widening multiply-add
/// (`vpmovsxbw` + `vpmaddwd` per 16 weights with AVX2) and reduce once per call.
#[inline(always)]
pub(crate) fn dot<const N: usize>(weights: &[u8; N], x: &[i16; N]) -> i32 {
    let mut lanes = [0i32; LANES];
    let (w_chunks, w_tail) = weights.as_chunks::<LANES>();
    let (x_chunks, x_tail) = x.as_chunks::<LANES>();
    for (wc, xc) in w_chunks.iter().zip(x_chunks) {
        for (lane, (&w, &v)) in lanes.iter_mut().zip(wc.iter().zip(xc)) {
            // |w * v| <= 127 * 255; a validated model keeps every sum far from overflow.
            *lane = lane.wrapping_add(i32::from(w as i8).wrapping_mul(i32::from(v)));
        }
    }
    let tail = w_tail.iter().zip(x_tail).fold(0i32, |sum, (&w, &v)| {
        sum.wrapping_add(i32::from(w as i8).wrapping_mul(i32::from(v)))
    });
    lanes.iter().fold(tail, |sum, &lane| sum.wrapping_add(lane))
}

/// Adds one band's contribution to every hidden unit's accumulator.
#[inline(always)]
pub(crate) fn accumulate_band(
    acc: &mut [i32; HIDDEN],
    weights: &[[u8; BAND_LEN]],
    band: &[i16; BAND_LEN],
) {
    for (a, row) in acc.iter_mut().zip(weights) {
        *a = a.wrapping_add(dot(row, band));
    }
}
