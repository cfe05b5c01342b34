//! The 3x3 convolution (32 filters, one input channel) with its ReLU and, for variant B,
//! the 2x2 max-pool: each call produces one band of the hidden layer's input.
//!
//! The input's zero point is -128, so `q - zero_point` is the raw pixel: accumulators are
//! `bias + sum(w * pixel)` over the 9 taps. Max-pooling works on the raw accumulators
//! before the bias and requantization (see [`pool`](crate::pool)). Weights are read in
//! place in the layout `[tap 9][filter 32]` (see [`layout`](crate::layout)).
//!
//! Two shapes of the same arithmetic, chosen by target:
//! - **batched** (hosts, Cortex-M0, RISC-V): a group of 8 filters' accumulators per
//!   position fill one 256-bit register, and each tap's 8 weights of the group (contiguous)
//!   are loaded once for all the positions being computed (a band's 13 positions for variant A on a host, a pooling window's 4
//!   for variant B). Both factors fit 16 bits: one `vpmaddwd` per multiply-add with AVX2.
//! - **pairs** (ARMv7-M and later, `cfg(picocnn_smlal)`): two horizontally adjacent
//!   positions share one 64-bit accumulator. Their pixels are packed in one register,
//!   `left + right * 2^21`, so one `SMLAL` (32 x 32 + 64 -> 64 bits) does both
//!   multiply-adds of a tap; a 9-tap sum fits 20 bits (`9 * 127 * 255 < 2^19`), so the
//!   two sums come apart exactly. The nine packed taps stay in registers while one
//!   pointer walks the 32 filters (a filter's weights are 32 bytes apart); the raw sums
//!   are requantized afterwards, in a loop of their own.
//!
//! Both are compiled and compared on random inputs by the tests on every host.

use crate::dense::Band;
use crate::layout::BAND_POSITIONS;
use crate::quant::{Activation, ChannelParams, relu_requantize_slices};
use crate::shape::{FILTERS, IMAGE_SIDE, KERNEL_SIDE, KERNEL_TAPS};

/// A 3x3 input patch, row-major (`tap = ky * 3 + kx`).
pub(crate) type Patch = [u8; KERNEL_TAPS];

/// One image row.
pub(crate) type Row = [u8; IMAGE_SIDE];

/// Filters whose accumulators the batched shape computes together (one 256-bit vector).
pub(crate) const GROUP: usize = 8;
const _: () = assert!(FILTERS.is_multiple_of(GROUP));

/// Convolution weights `[tap][filter]`.
pub(crate) type ConvWeights = [[u8; FILTERS]; KERNEL_TAPS];

/// Convolution weights and the filters' requantization parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Conv<'a> {
    pub(crate) weights: &'a ConvWeights,
    pub(crate) params: ChannelParams<'a, FILTERS>,
}

/// Variant B: the pooled row whose 2x2 windows cover conv rows `y` and `y + 1`, from
/// image rows `y..y + 4`: 13 positions x 32 channels of activations minus their zero
/// point, into `band`.
#[cfg_attr(target_os = "none", inline(never))]
pub(crate) fn pooled_band(conv: &Conv<'_>, rows: [&Row; 4], band: &mut Band) {
    #[cfg(picocnn_smlal)]
    pairs::pooled_band(conv, rows, band);
    #[cfg(not(picocnn_smlal))]
    batched::pooled_band(conv, rows, band);
}

/// Variant A: conv positions `first..first + 13` of the conv row from image rows
/// `y..y + 3`, into `band`.
#[cfg_attr(target_os = "none", inline(never))]
pub(crate) fn conv_band(conv: &Conv<'_>, rows: [&Row; 3], first: usize, band: &mut Band) {
    #[cfg(picocnn_smlal)]
    pairs::conv_band(conv, rows, first, band);
    #[cfg(not(picocnn_smlal))]
    batched::conv_band(conv, rows, first, band);
}

/// One group of filters: its weights and requantization parameters.
#[derive(Debug, Clone, Copy)]
struct FilterGroup<'a> {
    /// Each tap's 8 weights of the group.
    weights: [&'a [u8; GROUP]; KERNEL_TAPS],
    bias: &'a [[u8; 4]; GROUP],
    multiplier: &'a [[u8; 4]; GROUP],
    shift: &'a [u8; GROUP],
    zero_point: i8,
}

impl FilterGroup<'_> {
    /// The group's accumulators at each of `P` patches (bias included, before ReLU).
    #[inline(always)]
    fn accumulate<const P: usize>(&self, patches: &[Patch; P]) -> [[i32; GROUP]; P] {
        let bias = self.bias.map(i32::from_le_bytes);
        let mut acc = [bias; P];
        for (tap, &row) in self.weights.iter().enumerate() {
            for (a, patch) in acc.iter_mut().zip(patches) {
                multiply_add(a, row, patch.get(tap).copied().unwrap_or(0));
            }
        }
        acc
    }

    /// Requantizes and clamps the group's channels into `out` (activation minus zero
    /// point), the group's slice of a position's 32 channels.
    #[inline(always)]
    fn relu_requantize(&self, acc: &[i32; GROUP], out: &mut [Activation; GROUP]) {
        relu_requantize_slices(acc, self.multiplier, self.shift, self.zero_point, out);
    }
}

impl<'a> Conv<'a> {
    /// The filter groups, in order, with their index.
    #[inline(always)]
    fn groups(&self) -> impl Iterator<Item = (usize, FilterGroup<'a>)> + use<'a> {
        let p = self.params;
        let weights = self.weights;
        (0..FILTERS / GROUP)
            .map(move |g| {
                weights
                    .each_ref()
                    .map(|tap| tap.as_chunks::<GROUP>().0.get(g).unwrap_or(&[0; GROUP]))
            })
            .zip(p.bias.as_chunks::<GROUP>().0)
            .zip(p.multiplier.as_chunks::<GROUP>().0)
            .zip(p.shift.as_chunks::<GROUP>().0)
            .map(move |(((weights, bias), multiplier), shift)| FilterGroup {
                weights,
                bias,
                multiplier,
                shift,
                zero_point: p.zero_point,
            })
            .enumerate()
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
fn group_slice(
    position: &mut [Activation; FILTERS],
    group: usize,
) -> Option<&mut [Activation; GROUP]> {
    position.as_chunks_mut::<GROUP>().0.get_mut(group)
}

/// The 3x3 patch whose top-left pixel is column `x` of three consecutive image rows.
#[inline(always)]
fn patch(rows: [&Row; 3], x: usize) -> Patch {
    core::array::from_fn(|tap| {
        rows.get(tap / KERNEL_SIDE)
            .and_then(|row| row.get(x + tap % KERNEL_SIDE))
            .copied()
            .unwrap_or(0)
    })
}

/// The four 3x3 patches of the 2x2 pooling window whose top-left pixel is column `x`:
/// top-left, top-right, bottom-left, bottom-right.
#[inline(always)]
fn window_patches(rows: [&Row; 4], x: usize) -> [Patch; 4] {
    let [r0, r1, r2, r3] = rows;
    [
        patch([r0, r1, r2], x),
        patch([r0, r1, r2], x + 1),
        patch([r1, r2, r3], x),
        patch([r1, r2, r3], x + 1),
    ]
}

/// One position per multiply-add (hosts batch positions for SIMD; see the module docs).
#[cfg_attr(picocnn_smlal, allow(dead_code))]
mod batched {
    use super::*;
    use crate::pool::max_pool;

    /// Conv positions of variant A computed together. On a host the whole 13-position
    /// band: each weight row is widened once for 13 vector multiply-adds. On a
    /// microcontroller (no SIMD) batching saves nothing and its accumulators would cost
    /// ~800 bytes of stack, so one position at a time. Same arithmetic, same results.
    const BATCH: usize = if cfg!(target_os = "none") {
        1
    } else {
        BAND_POSITIONS
    };
    const _: () = assert!(BAND_POSITIONS.is_multiple_of(BATCH));

    #[inline(always)]
    pub(super) fn pooled_band(conv: &Conv<'_>, rows: [&Row; 4], band: &mut Band) {
        let positions = band.as_chunks_mut::<FILTERS>().0;
        for (window, position) in positions.iter_mut().enumerate() {
            let patches = window_patches(rows, 2 * window);
            for (index, group) in conv.groups() {
                let pooled = max_pool(&group.accumulate(&patches));
                if let Some(dst) = group_slice(position, index) {
                    group.relu_requantize(&pooled, dst);
                }
            }
        }
    }

    #[inline(always)]
    pub(super) fn conv_band(conv: &Conv<'_>, rows: [&Row; 3], first: usize, band: &mut Band) {
        let positions = band.as_chunks_mut::<FILTERS>().0;
        for (n, batch_positions) in positions.as_chunks_mut::<BATCH>().0.iter_mut().enumerate() {
            let x = first + n * BATCH;
            let batch: [Patch; BATCH] = core::array::from_fn(|i| patch(rows, x + i));
            for (index, group) in conv.groups() {
                let acc = group.accumulate(&batch);
                for (position, a) in batch_positions.iter_mut().zip(&acc) {
                    if let Some(dst) = group_slice(position, index) {
                        group.relu_requantize(a, dst);
                    }
                }
            }
        }
    }
}

/// Two positions per `SMLAL` (ARMv7-M and later; see the module docs).
#[cfg(any(test, picocnn_smlal))]
mod pairs {
    use super::*;
    use crate::quant::{FastRequant, relu_requantize_raw};

    /// Bit where the right position's pixel (and sum) starts in a packed tap.
    const LANE: u32 = 21;
    // A 9-tap sum of int8 x u8 products, |s| <= 9 * 127 * 255, fits the low lane as a
    // signed 21-bit number; a packed pixel pair fits a non-negative i32.
    const _: () = assert!(KERNEL_TAPS * 127 * 255 < 1 << (LANE - 1));
    const _: () = assert!((255u64 << LANE) + 255 < 1 << 31);

    /// The nine taps of positions `x` and `x + 1`, each `left + right << 21`; with
    /// `single`, the right position is left out (zero), for a band's odd last position.
    type Packed = [i32; KERNEL_TAPS];

    #[inline(always)]
    fn pack(rows: [&Row; 3], x: usize, single: bool) -> Packed {
        let mut taps = [0i32; KERNEL_TAPS];
        for (three, row) in taps.as_chunks_mut::<KERNEL_SIDE>().0.iter_mut().zip(rows) {
            let at = |col: usize| i32::from(row.get(col).copied().unwrap_or(0));
            for (kx, tap) in three.iter_mut().enumerate() {
                let right = if single { 0 } else { at(x + kx + 1) };
                *tap = at(x + kx) | right << LANE;
            }
        }
        taps
    }

    /// Calls `each(filter, left, right)` with every filter's raw sums (no bias) at the
    /// two packed positions.
    #[inline(always)]
    fn sums(weights: &ConvWeights, taps: &Packed, mut each: impl FnMut(usize, i32, i32)) {
        for f in 0..FILTERS {
            let mut acc = 0i64;
            for (row, &pixels) in weights.iter().zip(taps) {
                let w = row.get(f).map_or(0, |&w| i64::from(w as i8));
                acc = acc.wrapping_add(w.wrapping_mul(i64::from(pixels)));
            }
            // The low lane is its sum as a signed 21-bit number; removing it leaves the
            // right sum times 2^21, exactly.
            let left = ((acc as i32) << (32 - LANE)) >> (32 - LANE);
            let right = (acc.wrapping_sub(i64::from(left)) >> LANE) as i32;
            each(f, left, right);
        }
    }

    /// Bias plus `raw`, requantized, for every filter: one position's activations.
    #[inline(always)]
    fn requantize(
        fast: &Option<FastRequant<FILTERS>>,
        params: &ChannelParams<'_, FILTERS>,
        raw: &[i32; FILTERS],
        out: &mut [Activation; FILTERS],
    ) {
        match fast {
            Some(fast) => fast.apply(raw, out),
            None => activations(params, raw, out),
        }
    }

    /// [`requantize`] without the prepared form (a shift below 33).
    #[inline(always)]
    fn activations(
        params: &ChannelParams<'_, FILTERS>,
        raw: &[i32; FILTERS],
        out: &mut [Activation; FILTERS],
    ) {
        let channels = raw
            .iter()
            .zip(params.bias)
            .zip(params.multiplier)
            .zip(params.shift);
        for (o, (((&r, b), m), &s)) in out.iter_mut().zip(channels) {
            let acc = r.wrapping_add(i32::from_le_bytes(*b));
            let q = relu_requantize_raw(acc, i32::from_le_bytes(*m), s, params.zero_point);
            *o = u16::from(q).to_le_bytes();
        }
    }

    #[inline(always)]
    pub(super) fn pooled_band(conv: &Conv<'_>, rows: [&Row; 4], band: &mut Band) {
        let [r0, r1, r2, r3] = rows;
        let fast = FastRequant::new(&conv.params);
        let mut pooled = [0i32; FILTERS];
        for (window, position) in band.as_chunks_mut::<FILTERS>().0.iter_mut().enumerate() {
            let x = 2 * window;
            let top = pack([r0, r1, r2], x, false);
            sums(conv.weights, &top, |f, a, b| {
                if let Some(p) = pooled.get_mut(f) {
                    *p = a.max(b);
                }
            });
            let bottom = pack([r1, r2, r3], x, false);
            sums(conv.weights, &bottom, |f, c, d| {
                if let Some(p) = pooled.get_mut(f) {
                    *p = (*p).max(c).max(d);
                }
            });
            requantize(&fast, &conv.params, &pooled, position);
        }
    }

    #[inline(always)]
    pub(super) fn conv_band(conv: &Conv<'_>, rows: [&Row; 3], first: usize, band: &mut Band) {
        let (pairs, last) = band.as_chunks_mut::<{ 2 * FILTERS }>();
        let fast = FastRequant::new(&conv.params);
        let (mut left, mut right) = ([0i32; FILTERS], [0i32; FILTERS]);
        for (n, out) in pairs.iter_mut().enumerate() {
            let taps = pack(rows, first + 2 * n, false);
            sums(conv.weights, &taps, |f, a, b| {
                if let (Some(l), Some(r)) = (left.get_mut(f), right.get_mut(f)) {
                    (*l, *r) = (a, b);
                }
            });
            let [out_left, out_right] = out.as_chunks_mut::<FILTERS>().0 else {
                continue;
            };
            requantize(&fast, &conv.params, &left, out_left);
            requantize(&fast, &conv.params, &right, out_right);
        }
        // 13 positions: the last one alone.
        let taps = pack(rows, first + BAND_POSITIONS - 1, true);
        sums(conv.weights, &taps, |f, a, _| {
            if let Some(l) = left.get_mut(f) {
                *l = a;
            }
        });
        if let Some(out) = last.first_chunk_mut::<FILTERS>() {
            requantize(&fast, &conv.params, &left, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::BAND_LEN;

    fn random_bytes<const N: usize>(state: &mut u64) -> [u8; N] {
        core::array::from_fn(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            (*state >> 24) as u8
        })
    }

    /// Random weights (the extremes -127 and 127 included), biases, multipliers and
    /// shifts, and random or saturated images: the two shapes give identical bands.
    #[test]
    fn batched_and_pairs_agree() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..40 {
            let mut weights: ConvWeights = core::array::from_fn(|_| random_bytes(&mut state));
            if round % 4 == 0 {
                // The largest sums: every weight at +-127 against 255 pixels.
                for (i, w) in weights.as_flattened_mut().iter_mut().enumerate() {
                    *w = if (i + round) % 3 == 0 { 0x81 } else { 0x7f };
                }
            }
            for w in weights.as_flattened_mut() {
                if *w == 0x80 {
                    *w = 0x81; // -128 is not a valid symmetric weight
                }
            }
            let bias: [[u8; 4]; FILTERS] = core::array::from_fn(|f| {
                ((f as i32 - 16) * 1000 * (round as i32 - 20)).to_le_bytes()
            });
            let multiplier: [[u8; 4]; FILTERS] = core::array::from_fn(|f| {
                let m = random_bytes::<4>(&mut state);
                (i32::from_le_bytes(m) & 0x7fff_ffff | (f as i32 & 1) << 30).to_le_bytes()
            });
            let shift: [u8; FILTERS] = core::array::from_fn(|f| 30 + ((f + round) % 16) as u8);
            let conv = Conv {
                weights: &weights,
                params: ChannelParams {
                    bias: &bias,
                    multiplier: &multiplier,
                    shift: &shift,
                    zero_point: if round % 2 == 0 { -128 } else { -100 },
                },
            };
            let image: [Row; IMAGE_SIDE] = if round % 4 == 0 {
                [[255; IMAGE_SIDE]; IMAGE_SIDE]
            } else {
                core::array::from_fn(|_| random_bytes(&mut state))
            };
            for y in (0..IMAGE_SIDE - 3).step_by(2) {
                let rows = [&image[y], &image[y + 1], &image[y + 2], &image[y + 3]];
                let (mut a, mut b) = ([[0u8; 2]; BAND_LEN], [[1u8; 2]; BAND_LEN]);
                batched::pooled_band(&conv, rows, &mut a);
                pairs::pooled_band(&conv, rows, &mut b);
                assert_eq!(a, b, "pooled row {y}, round {round}");
            }
            for y in 0..IMAGE_SIDE - 2 {
                let rows = [&image[y], &image[y + 1], &image[y + 2]];
                for first in [0, BAND_POSITIONS] {
                    let (mut a, mut b) = ([[0u8; 2]; BAND_LEN], [[1u8; 2]; BAND_LEN]);
                    batched::conv_band(&conv, rows, first, &mut a);
                    pairs::conv_band(&conv, rows, first, &mut b);
                    assert_eq!(a, b, "conv row {y} from {first}, round {round}");
                }
            }
        }
    }

    /// The accumulators against a plain 9-tap sum.
    #[test]
    fn group_accumulators_are_plain_sums() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let weights: [[u8; GROUP]; KERNEL_TAPS] =
            core::array::from_fn(|_| random_bytes(&mut state));
        let words: [[u8; 4]; GROUP] = core::array::from_fn(|_| {
            let b = random_bytes::<2>(&mut state);
            [b[0], b[1], 0, 0]
        });
        let shift = [31u8; GROUP];
        let group = FilterGroup {
            weights: weights.each_ref(),
            bias: &words,
            multiplier: &words,
            shift: &shift,
            zero_point: -128,
        };
        let patches: [Patch; 13] = core::array::from_fn(|_| random_bytes(&mut state));
        let batched = group.accumulate(&patches);
        for (patch, got) in patches.iter().zip(&batched) {
            let expected: [i32; GROUP] = core::array::from_fn(|f| {
                let bias = i32::from_le_bytes(words[f]);
                bias + (0..KERNEL_TAPS)
                    .map(|t| i32::from(weights[t][f] as i8) * i32::from(patch[t]))
                    .sum::<i32>()
            });
            assert_eq!(got, &expected);
        }
    }
}
