//! The 3x3 convolution (32 filters, one input channel) with its ReLU, a few positions at a
//! time.
//!
//! The input's zero point is -128, so `q - zero_point` is the raw pixel: accumulators are
//! `bias + sum(w * pixel)` over the 9 taps. Weights are read in place in the layout
//! `[group 4][tap 9][filter 8]`: a group's 8 accumulators per position fill one 256-bit
//! register, and each 8-weight row is loaded once for all the positions being computed
//! (a band's 13 positions for variant A, a pooling window's 4 for variant B). Both
//! factors fit 16 bits, so every multiply-add is one `vpmaddwd` with AVX2.

use crate::quant::relu_requantize_raw;
use crate::shape::{FILTERS, KERNEL_SIDE, KERNEL_TAPS};

/// Filters whose accumulators are computed together.
pub(crate) const GROUP: usize = 8;
/// Filter groups.
pub(crate) const GROUPS: usize = FILTERS / GROUP;

/// A 3x3 input patch, row-major (`tap = ky * 3 + kx`).
pub(crate) type Patch = [u8; KERNEL_TAPS];

/// Accumulators of `P` positions, group-major: `[group][position][filter in group]`.
pub(crate) type GroupAcc<const P: usize> = [[[i32; GROUP]; P]; GROUPS];

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

/// Convolution weights `[group][tap][filter]` and the filters' requantization parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Conv<'a> {
    pub(crate) weights: &'a [[[u8; GROUP]; KERNEL_TAPS]; GROUPS],
    pub(crate) params: ChannelParams<'a, FILTERS>,
}

impl Conv<'_> {
    /// The 32 filters' accumulators at each of `P` patches (bias included, before ReLU).
    #[inline(always)]
    pub(crate) fn accumulate<const P: usize>(&self, patches: &[Patch; P]) -> GroupAcc<P> {
        let bias = self.params.biases();
        let mut out = [[[0i32; GROUP]; P]; GROUPS];
        let bias_groups = bias.as_chunks::<GROUP>().0;
        for ((weights, bias), group) in self.weights.iter().zip(bias_groups).zip(&mut out) {
            let mut acc = [*bias; P];
            for (tap, row) in weights.iter().enumerate() {
                for (a, patch) in acc.iter_mut().zip(patches) {
                    multiply_add(a, row, patch.get(tap).copied().unwrap_or(0));
                }
            }
            *group = acc;
        }
        out
    }
}

/// `acc += w * pixel` for one group of filters.
#[inline(always)]
fn multiply_add(acc: &mut [i32; GROUP], weights: &[u8; GROUP], pixel: u8) {
    let pixel = i32::from(pixel);
    for (a, &w) in acc.iter_mut().zip(weights) {
        // |w * pixel| <= 127 * 255: a sum of 9 plus a validated bias cannot overflow.
        *a = a.wrapping_add(i32::from(w as i8).wrapping_mul(pixel));
    }
}

/// Position `k`'s 32 accumulators, in filter order, out of group-major accumulators.
#[inline(always)]
pub(crate) fn position<const P: usize>(acc: &GroupAcc<P>, k: usize) -> [i32; FILTERS] {
    let mut out = [0i32; FILTERS];
    for (dst, group) in out.as_chunks_mut::<GROUP>().0.iter_mut().zip(acc) {
        if let Some(src) = group.get(k) {
            *dst = *src;
        }
    }
    out
}

/// The 3x3 patch whose top-left pixel is column `x` of three consecutive image rows.
#[inline(always)]
pub(crate) fn patch(rows: [&[u8]; 3]) -> Patch {
    let mut p = [0u8; KERNEL_TAPS];
    for (dst, row) in p.chunks_exact_mut(3).zip(rows) {
        for (d, &s) in dst.iter_mut().zip(row) {
            *d = s;
        }
    }
    p
}

/// The four 3x3 patches of a 2x2 pooling window, from its 4x4 input pixels (four rows,
/// each starting at the window's left column): top-left, top-right, bottom-left,
/// bottom-right.
#[inline(always)]
pub(crate) fn window_patches(rows: [&[u8]; 4]) -> [Patch; 4] {
    let mut pixels = [[0u8; 4]; 4];
    for (dst, row) in pixels.iter_mut().zip(rows) {
        for (d, &s) in dst.iter_mut().zip(row) {
            *d = s;
        }
    }
    core::array::from_fn(|corner| {
        let (dy, dx) = (corner / 2, corner % 2);
        core::array::from_fn(|tap| {
            let (ky, kx) = (tap / KERNEL_SIDE, tap % KERNEL_SIDE);
            pixels
                .get(dy + ky)
                .and_then(|row| row.get(dx + kx))
                .copied()
                .unwrap_or(0)
        })
    })
}
