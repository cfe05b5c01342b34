//! The 3x3 convolution (32 filters, one input channel) with its ReLU, a few positions at a
//! time.
//!
//! The input's zero point is -128, so `q - zero_point` is the raw pixel: accumulators are
//! `bias + sum(w * pixel)` over the 9 taps. Weights are read in place in the layout
//! `[group 4][tap 9][filter 8]`: a group's 8 accumulators per position fill one 256-bit
//! register, and each 8-weight row is loaded once for all the positions being computed
//! (a band's 13 positions for variant A, a pooling window's 4 for variant B). Both
//! factors fit 16 bits, so every multiply-add is one `vpmaddwd` with AVX2.

use crate::layout::{CONV_GROUP as GROUP, CONV_GROUPS as GROUPS};
use crate::quant::{ChannelParams, relu_requantize_slices};
use crate::shape::{FILTERS, KERNEL_SIDE, KERNEL_TAPS};

/// A 3x3 input patch, row-major (`tap = ky * 3 + kx`).
pub(crate) type Patch = [u8; KERNEL_TAPS];

/// One group of filters: its weights and requantization parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FilterGroup<'a> {
    /// Which group: filters `GROUP * index ..`.
    pub(crate) index: usize,
    weights: &'a [[u8; GROUP]; KERNEL_TAPS],
    bias: &'a [[u8; 4]; GROUP],
    multiplier: &'a [[u8; 4]; GROUP],
    shift: &'a [u8; GROUP],
    zero_point: i8,
}

impl FilterGroup<'_> {
    /// The group's accumulators at each of `P` patches (bias included, before ReLU).
    #[inline(always)]
    pub(crate) fn accumulate<const P: usize>(&self, patches: &[Patch; P]) -> [[i32; GROUP]; P] {
        let bias = self.bias.map(i32::from_le_bytes);
        let mut acc = [bias; P];
        for (tap, row) in self.weights.iter().enumerate() {
            for (a, patch) in acc.iter_mut().zip(patches) {
                multiply_add(a, row, patch.get(tap).copied().unwrap_or(0));
            }
        }
        acc
    }

    /// Requantizes and clamps the group's channels into `out` (activation minus zero
    /// point), the group's slice of a position's 32 channels.
    #[inline(always)]
    pub(crate) fn relu_requantize(&self, acc: &[i32; GROUP], out: &mut [i16; GROUP]) {
        relu_requantize_slices(acc, self.multiplier, self.shift, self.zero_point, out);
    }
}

/// Convolution weights `[group][tap][filter]` and the filters' requantization parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Conv<'a> {
    pub(crate) weights: &'a [[[u8; GROUP]; KERNEL_TAPS]; GROUPS],
    pub(crate) params: ChannelParams<'a, FILTERS>,
}

impl<'a> Conv<'a> {
    /// The filter groups, in order. Computing a group for a batch of positions at a time
    /// keeps only `P x 8` accumulators live.
    #[inline(always)]
    pub(crate) fn groups(&self) -> impl Iterator<Item = FilterGroup<'a>> + use<'a> {
        let p = self.params;
        self.weights
            .iter()
            .zip(p.bias.as_chunks::<GROUP>().0)
            .zip(p.multiplier.as_chunks::<GROUP>().0)
            .zip(p.shift.as_chunks::<GROUP>().0)
            .enumerate()
            .map(
                move |(index, (((weights, bias), multiplier), shift))| FilterGroup {
                    index,
                    weights,
                    bias,
                    multiplier,
                    shift,
                    zero_point: p.zero_point,
                },
            )
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

/// The group's slice (`GROUP` channels) of one position's 32 activations.
#[inline(always)]
pub(crate) fn group_slice(
    position: &mut [i16; FILTERS],
    group: usize,
) -> Option<&mut [i16; GROUP]> {
    position.as_chunks_mut::<GROUP>().0.get_mut(group)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Batching positions (hosts) and one position at a time (microcontrollers) must give
    /// the same accumulators, whatever the weights and pixels.
    #[test]
    fn batched_and_single_positions_agree() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        };
        let weights: [[u8; GROUP]; KERNEL_TAPS] =
            core::array::from_fn(|_| core::array::from_fn(|_| next()));
        let words: [[u8; 4]; GROUP] = core::array::from_fn(|_| [next(), next(), 0, 0]);
        let shift = [31u8; GROUP];
        let group = FilterGroup {
            index: 0,
            weights: &weights,
            bias: &words,
            multiplier: &words,
            shift: &shift,
            zero_point: -128,
        };
        let patches: [Patch; 13] = core::array::from_fn(|_| core::array::from_fn(|_| next()));
        let batched = group.accumulate(&patches);
        for (patch, want) in patches.iter().zip(&batched) {
            let [single] = group.accumulate(&[*patch]);
            assert_eq!(&single, want);
            let expected: [i32; GROUP] = core::array::from_fn(|f| {
                let bias = i32::from_le_bytes(words[f]);
                bias + (0..KERNEL_TAPS)
                    .map(|t| i32::from(weights[t][f] as i8) * i32::from(patch[t]))
                    .sum::<i32>()
            });
            assert_eq!(single, expected);
        }
    }
}
