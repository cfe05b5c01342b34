//! The 3x3 convolution (32 filters, one input channel) with its ReLU, one position at a time.
//!
//! The input's zero point is -128, so `q - zero_point` is the raw pixel: accumulators are
//! `bias + sum(w * pixel)` over the 9 taps, with int8 weights read in place in the layout
//! `[tap][filter]`, so each tap updates all 32 filter accumulators from one contiguous
//! 32-byte row (one vector multiply-add per 8 or 16 filters).

use crate::quant::relu_requantize_raw;
use crate::shape::{FILTERS, KERNEL_TAPS};

/// A 3x3 input patch, row-major (`tap = ky * 3 + kx`).
pub(crate) type Patch = [u8; KERNEL_TAPS];

/// Per-filter requantization parameters as stored: `i32` little-endian, shifts as bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChannelParams<'a, const N: usize> {
    pub(crate) bias: &'a [[u8; 4]; N],
    pub(crate) multiplier: &'a [[u8; 4]; N],
    pub(crate) shift: &'a [u8; N],
    pub(crate) zero_point: i8,
}

impl<const N: usize> ChannelParams<'_, N> {
    /// The biases, the accumulators' starting values.
    #[inline(always)]
    pub(crate) fn biases(&self) -> [i32; N] {
        self.bias.map(i32::from_le_bytes)
    }

    /// Requantizes and clamps every channel: int8 activation minus zero point.
    #[inline(always)]
    pub(crate) fn relu_requantize(&self, acc: &[i32; N]) -> [u8; N] {
        let mut out = [0u8; N];
        for (((o, &a), m), &s) in out.iter_mut().zip(acc).zip(self.multiplier).zip(self.shift) {
            *o = relu_requantize_raw(a, i32::from_le_bytes(*m), s, self.zero_point);
        }
        out
    }
}

/// Convolution weights `[tap][filter]` and the filters' requantization parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Conv<'a> {
    pub(crate) weights: &'a [[u8; FILTERS]; KERNEL_TAPS],
    pub(crate) params: ChannelParams<'a, FILTERS>,
}

impl Conv<'_> {
    /// The 32 filters' accumulators at each of `P` patches (bias included, before ReLU).
    ///
    /// Each weight row (one tap, 32 filters) is loaded once and used for all `P` patches.
    #[inline(always)]
    pub(crate) fn accumulate<const P: usize>(&self, patches: &[Patch; P]) -> [[i32; FILTERS]; P] {
        let bias = self.params.biases();
        let mut acc = [bias; P];
        for (tap, row) in self.weights.iter().enumerate() {
            let w: [i32; FILTERS] = row.map(|b| i32::from(b as i8));
            for (a, patch) in acc.iter_mut().zip(patches) {
                let pixel = i32::from(patch.get(tap).copied().unwrap_or(0));
                for (av, &wv) in a.iter_mut().zip(&w) {
                    // |w * pixel| <= 127 * 255: the sum of 9 plus a bias cannot overflow.
                    *av = av.wrapping_add(wv.wrapping_mul(pixel));
                }
            }
        }
        acc
    }
}

/// The 3x3 patch whose top-left pixel is column `x` of three consecutive image rows.
#[inline(always)]
pub(crate) fn patch(rows: [&[u8]; 3]) -> Patch {
    let mut p = [0u8; KERNEL_TAPS];
    for (dst, row) in p.chunks_exact_mut(3).zip(rows) {
        if let Some(src) = row.get(..3) {
            dst.copy_from_slice(src);
        }
    }
    p
}
