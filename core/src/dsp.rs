//! The opt-in `dsp` feature: the hidden layer's kernel in ARMv7E-M assembly, two
//! multiply-adds per `SMLAD`. The crate's only unsafe code.
//!
//! Compiled only for targets with the DSP extension (`cfg(picocnn_dsp)`, see the build
//! script): `thumbv7em-*` (Cortex-M4, M7) and ARMv8-M Mainline built with
//! `-C target-feature=+dsp` (Cortex-M33, M35P, M55). Stable Rust has no DSP intrinsics,
//! and LLVM never emits `SMLAD` or `SXTB16` from plain code.
//!
//! Per group of four inputs and per unit: one load of the unit's four int8 weights,
//! two `SXTB16` to spread them into 16-bit halves (`(w0, w2)` and `(w1, w3)`), two
//! `SMLAD` against the activations, which this build's convolution writes in the
//! matching order (see [`DSP_SLOTS`]). Four units per pass, so that the accumulators,
//! both activation words, the weight word, its spread copy and three pointers stay in
//! the eleven registers inline assembly may use besides `r9`. About 1.4 instructions
//! per multiply-add, against 2.3 for the best safe kernel on the same core.
//!
//! The results are identical to the safe kernels' (integer sums); the firmware check
//! runs both builds on the same images. On the host, the test below runs a Rust model
//! of exactly these instructions against the safe kernel.
#![cfg_attr(picocnn_dsp, allow(unsafe_code))]

use crate::dense::{Band, BandWeights};
use crate::layout::BAND_LEN;
use crate::shape::HIDDEN;

/// Where four consecutive channels of a position go in the band in this build: slot `s`
/// holds channel `DSP_SLOTS[s]` of its group of four. `SXTB16` pairs weight bytes 0
/// with 2 and 1 with 3, so the activation words must hold channels (0, 2) and (1, 3).
pub(crate) const DSP_SLOTS: [usize; 4] = [0, 2, 1, 3];

/// Units per pass.
const UNITS: usize = 4;
const _: () = assert!(HIDDEN.is_multiple_of(UNITS));
/// Bytes of activations per group of four inputs (two words, loaded by one `LDRD`).
const GROUP_BYTES: usize = 8;
/// Groups per loop iteration; the band's 104 groups are an even number.
const _: () = assert!((BAND_LEN / 4).is_multiple_of(2));
// The weights of the four units are within a load's immediate offset of the first.
const _: () = assert!((UNITS - 1) * BAND_LEN + 8 < 4096);

#[cfg(picocnn_dsp)]
/// Adds one band's contribution to every hidden unit's accumulator (see the module
/// documentation); `band` holds the activations in [`DSP_SLOTS`] order.
#[inline(always)]
pub(crate) fn hidden_band(acc: &mut [i32; HIDDEN], weights: &BandWeights, band: &Band) {
    let x = band.as_flattened();
    for (acc, rows) in acc
        .as_chunks_mut::<UNITS>()
        .0
        .iter_mut()
        .zip(weights.as_chunks::<UNITS>().0)
    {
        let [mut a0, mut a1, mut a2, mut a3] = *acc;
        let x_start = x.as_ptr();
        // One past the last activation byte: the loop ends when the pointer reaches it.
        let x_end = x_start.wrapping_add(x.len());
        // SAFETY: only memory inside `x` and `rows` is read, and nothing is written:
        // - `x` is the band, BAND_LEN activations of 2 bytes = 104 groups of 8 bytes; the
        //   pointer starts at its first byte, advances by 8 per group (16 per
        //   iteration, two groups) and the loop stops when it equals `x_end`, one past
        //   the last byte. 104 is even, so it reaches `x_end` exactly, after 52
        //   iterations, never past it. Scratch is `repr(C)` with the band 4-byte
        //   aligned, as `LDRD` requires.
        // - `rows` is four consecutive units' rows of BAND_LEN weights, contiguous
        //   (`[[u8; 416]; 4]`). The weight pointer starts at row 0's first byte and
        //   advances by 8 per iteration (the first load post-increments it), as the
        //   activations advance by 16 (one weight byte per 2-byte activation). An
        //   iteration starting at offset `o` reads 4 bytes at `o + 416 * r` and
        //   `o + 4 + 416 * r` for rows r = 0..3 (written relative to the incremented
        //   pointer, `o + 8`). The last iteration has o = 408 and reads row 3's bytes
        //   408..416, the end of `rows`. `LDR` accepts unaligned addresses on ARMv7-M
        //   (CCR.UNALIGN_TRP is clear after reset; a firmware must not set it).
        // - The instructions exist on every target this module is compiled for (the
        //   build script enables it for ARMv7E-M and DSP-enabled ARMv8-M only).
        // - Registers: every register written is an output operand; flags are
        //   clobbered (no `preserves_flags`); the stack is not touched (`nostack`).
        unsafe {
            core::arch::asm!(
                "2:",
                // First group: activations (x0, x2) and (x1, x3); the weight pointer
                // moves on by 8 (two groups), so later offsets are 8 less.
                "ldrd {xa}, {xb}, [{x}], #8",
                "ldr {w}, [{p}], #8",
                "sxtb16 {t}, {w}, ror #8",
                "sxtb16 {w}, {w}",
                "smlad {a0}, {w}, {xa}, {a0}",
                "smlad {a0}, {t}, {xb}, {a0}",
                "ldr {w}, [{p}, #408]",
                "sxtb16 {t}, {w}, ror #8",
                "sxtb16 {w}, {w}",
                "smlad {a1}, {w}, {xa}, {a1}",
                "smlad {a1}, {t}, {xb}, {a1}",
                "ldr {w}, [{p}, #824]",
                "sxtb16 {t}, {w}, ror #8",
                "sxtb16 {w}, {w}",
                "smlad {a2}, {w}, {xa}, {a2}",
                "smlad {a2}, {t}, {xb}, {a2}",
                "ldr {w}, [{p}, #1240]",
                "sxtb16 {t}, {w}, ror #8",
                "sxtb16 {w}, {w}",
                "smlad {a3}, {w}, {xa}, {a3}",
                "smlad {a3}, {t}, {xb}, {a3}",
                // Second group: the next four inputs, 4 bytes further in each row.
                "ldrd {xa}, {xb}, [{x}], #8",
                "ldr {w}, [{p}, #-4]",
                "sxtb16 {t}, {w}, ror #8",
                "sxtb16 {w}, {w}",
                "smlad {a0}, {w}, {xa}, {a0}",
                "smlad {a0}, {t}, {xb}, {a0}",
                "ldr {w}, [{p}, #412]",
                "sxtb16 {t}, {w}, ror #8",
                "sxtb16 {w}, {w}",
                "smlad {a1}, {w}, {xa}, {a1}",
                "smlad {a1}, {t}, {xb}, {a1}",
                "ldr {w}, [{p}, #828]",
                "sxtb16 {t}, {w}, ror #8",
                "sxtb16 {w}, {w}",
                "smlad {a2}, {w}, {xa}, {a2}",
                "smlad {a2}, {t}, {xb}, {a2}",
                "ldr {w}, [{p}, #1244]",
                "sxtb16 {t}, {w}, ror #8",
                "sxtb16 {w}, {w}",
                "smlad {a3}, {w}, {xa}, {a3}",
                "smlad {a3}, {t}, {xb}, {a3}",
                "cmp {x}, {end}",
                "bne 2b",
                a0 = inout(reg) a0,
                a1 = inout(reg) a1,
                a2 = inout(reg) a2,
                a3 = inout(reg) a3,
                x = inout(reg) x_start => _,
                p = inout(reg) rows.as_ptr() => _,
                end = in(reg) x_end,
                xa = out(reg) _,
                xb = out(reg) _,
                w = out(reg) _,
                t = out(reg) _,
                options(nostack, readonly),
            );
        }
        *acc = [a0, a1, a2, a3];
    }
}

const _: () = assert!(GROUP_BYTES == 4 * core::mem::size_of::<crate::quant::Activation>());
// The loop's pointer arithmetic is written for these sizes.
const _: () = assert!(BAND_LEN == 416 && UNITS == 4);

#[cfg(test)]
mod tests {
    use super::*;

    /// `SXTB16`: bytes 0 and 2 of `w` rotated right by `ror`, sign-extended to halves.
    fn sxtb16(w: u32, ror: u32) -> [i32; 2] {
        let r = w.rotate_right(ror);
        [i32::from(r as u8 as i8), i32::from((r >> 16) as u8 as i8)]
    }

    /// `SMLAD`: both halves' products added to the accumulator.
    fn smlad(acc: i32, w: [i32; 2], x: u32) -> i32 {
        let x = [
            i32::from(x as u16 as i16),
            i32::from((x >> 16) as u16 as i16),
        ];
        acc.wrapping_add(w[0] * x[0]).wrapping_add(w[1] * x[1])
    }

    /// The assembly's arithmetic, instruction by instruction, on the host.
    fn model(acc: &mut [i32; HIDDEN], weights: &BandWeights, band: &Band) {
        let words = band.as_flattened().as_chunks::<8>().0;
        for (acc, rows) in acc
            .as_chunks_mut::<UNITS>()
            .0
            .iter_mut()
            .zip(weights.as_chunks::<UNITS>().0)
        {
            for (g, x) in words.iter().enumerate() {
                let xa = u32::from_le_bytes([x[0], x[1], x[2], x[3]]);
                let xb = u32::from_le_bytes([x[4], x[5], x[6], x[7]]);
                for (a, row) in acc.iter_mut().zip(rows) {
                    let w = u32::from_le_bytes([
                        row[4 * g],
                        row[4 * g + 1],
                        row[4 * g + 2],
                        row[4 * g + 3],
                    ]);
                    *a = smlad(smlad(*a, sxtb16(w, 0), xa), sxtb16(w, 8), xb);
                }
            }
        }
    }

    /// The model with activations in [`DSP_SLOTS`] order gives the plain sums.
    #[test]
    fn the_instruction_model_gives_the_plain_sums() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut weights = [[0u8; BAND_LEN]; HIDDEN];
        for w in weights.as_flattened_mut() {
            *w = match next() as u8 {
                0x80 => 0x81,
                w => w,
            };
        }
        let values: [u8; BAND_LEN] = core::array::from_fn(|_| next() as u8);
        let mut band: Band = [[0; 2]; BAND_LEN];
        for (slots, group) in band
            .as_chunks_mut::<4>()
            .0
            .iter_mut()
            .zip(values.as_chunks::<4>().0)
        {
            for (slot, &channel) in slots.iter_mut().zip(&DSP_SLOTS) {
                *slot = u16::from(group[channel]).to_le_bytes();
            }
        }
        let mut got = [7i32; HIDDEN];
        model(&mut got, &weights, &band);
        let want: [i32; HIDDEN] = core::array::from_fn(|u| {
            7 + (0..BAND_LEN)
                .map(|i| i32::from(weights[u][i] as i8) * i32::from(values[i]))
                .sum::<i32>()
        });
        assert_eq!(got, want);
    }
}
