//! Integer requantization: the one place where the int8 network's arithmetic rounds.
//!
//! Every layer accumulates exact int32 sums of int8 products. To turn an accumulator into
//! the next layer's int8 activation it is multiplied by a real factor (`s_in * s_w / s_out`),
//! which the exporter replaces once by a [`Multiplier`]: an integer `m` and a right shift
//! `n`, meaning `m / 2^n`. At run time only integer operations remain:
//!
//! **Rounding rule (the only one in picocnn): round half up.**
//! `requantize(acc, m / 2^n) = floor((acc * m + 2^(n-1)) / 2^n)`, computed exactly with a
//! 64-bit product and an arithmetic right shift, then saturated to `i32`. Ties go towards
//! positive infinity (`2.5 -> 3`, `-2.5 -> -2`), as with TFLite's `RoundingDivideByPOT`
//! for positive values; unlike TFLite there is one rounding, not two.
//!
//! The host's int8 reference and the core both call these functions, so they cannot
//! disagree. [`quantize_multiplier`] derives `(m, n)` from an `f64` scale exactly
//! (from its bits, without floating-point rounding), so every machine exports the same file.

/// Smallest right shift a [`Multiplier`] may use.
pub const MIN_SHIFT: u8 = 1;
/// Largest right shift a [`Multiplier`] may use.
pub const MAX_SHIFT: u8 = 62;

/// A real factor `multiplier / 2^shift` with `0 <= multiplier < 2^31` and
/// `MIN_SHIFT <= shift <= MAX_SHIFT`; the constructors guarantee both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Multiplier {
    multiplier: i32,
    shift: u8,
}

impl Multiplier {
    /// The factor `multiplier / 2^shift`, or `None` if `multiplier` is negative or `shift`
    /// is outside `MIN_SHIFT..=MAX_SHIFT`.
    ///
    /// ```
    /// use picocnn::quant::Multiplier;
    /// assert!(Multiplier::new(1 << 30, 31).is_some()); // 0.5
    /// assert!(Multiplier::new(-1, 31).is_none());
    /// assert!(Multiplier::new(1, 0).is_none());
    /// ```
    pub const fn new(multiplier: i32, shift: u8) -> Option<Self> {
        if multiplier >= 0 && shift >= MIN_SHIFT && shift <= MAX_SHIFT {
            Some(Multiplier { multiplier, shift })
        } else {
            None
        }
    }

    /// The integer multiplier `m`.
    pub const fn multiplier(self) -> i32 {
        self.multiplier
    }

    /// The right shift `n`.
    pub const fn shift(self) -> u8 {
        self.shift
    }
}

/// The [`Multiplier`] nearest to `scale` (round half up), or `None` if `scale` is not a
/// finite positive number below `2^30`.
///
/// For `scale >= 2^-32` the multiplier is normalized (`2^30 <= m < 2^31`), so the relative
/// error is below `2^-31`; smaller scales use the largest shift, 62, and an
/// unnormalized (possibly zero) multiplier.
///
/// ```
/// use picocnn::quant::quantize_multiplier;
/// let m = quantize_multiplier(0.75).unwrap();
/// assert_eq!((m.multiplier(), m.shift()), (3 << 29, 31));
/// assert_eq!(quantize_multiplier(0.0), None);
/// ```
pub fn quantize_multiplier(scale: f64) -> Option<Multiplier> {
    if !scale.is_finite() || scale <= 0.0 {
        return None;
    }
    let bits = scale.to_bits();
    let biased_exponent = i64::try_from((bits >> 52) & 0x7ff).ok()?;
    if biased_exponent == 0 {
        // Subnormal: far below 2^-62, rounds to multiplier 0.
        return Multiplier::new(0, MAX_SHIFT);
    }
    // scale = mantissa * 2^(biased_exponent - 1075), mantissa in [2^52, 2^53).
    let mantissa = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    // Dropping 22 bits leaves m in [2^30, 2^31]; then scale ~ m / 2^(1053 - biased_exponent).
    let shift = 1053 - biased_exponent;
    if shift > i64::from(MAX_SHIFT) {
        // Too small to normalize: round mantissa * 2^(biased_exponent - 1075 + 62).
        let drop = u32::try_from(1075 - 62 - biased_exponent).ok()?;
        let m = if drop > 54 {
            0
        } else {
            (mantissa + (1u64 << (drop - 1))) >> drop
        };
        return Multiplier::new(i32::try_from(m).ok()?, MAX_SHIFT);
    }
    let mut m = (mantissa + (1u64 << 21)) >> 22;
    let mut shift = shift;
    if m == 1u64 << 31 {
        m = 1u64 << 30;
        shift -= 1;
    }
    Multiplier::new(i32::try_from(m).ok()?, u8::try_from(shift).ok()?)
}

/// `acc * m / 2^n` rounded half up, saturated to `i32`: the rounding rule of the whole
/// network (see the module documentation).
///
/// ```
/// use picocnn::quant::{requantize, Multiplier};
/// let half = Multiplier::new(1 << 30, 31).unwrap(); // 0.5
/// assert_eq!(requantize(5, half), 3); // 2.5 rounds up
/// assert_eq!(requantize(-5, half), -2); // -2.5 rounds up too
/// assert_eq!(requantize(-6, half), -3);
/// ```
#[inline]
pub fn requantize(acc: i32, m: Multiplier) -> i32 {
    // |acc * m| < 2^62 and the rounding term is at most 2^61: no overflow in i64.
    let product = i64::from(acc) * i64::from(m.multiplier);
    let shift = u32::from(m.shift);
    let rounded = (product + (1i64 << (shift - 1))) >> shift;
    i32::try_from(rounded).unwrap_or(if rounded < 0 { i32::MIN } else { i32::MAX })
}

/// Requantization fused with ReLU, as an offset from the zero point: returns
/// `clamp(requantize(acc, m) + zero_point, zero_point, 127) - zero_point`, that is the
/// int8 activation minus its zero point, in `0..=127 - zero_point`.
///
/// Equal to that composition for every input (property-tested); faster because a
/// non-positive accumulator needs no multiply and a positive one only unsigned arithmetic.
///
/// ```
/// use picocnn::quant::{relu_requantize, Multiplier};
/// let quarter = Multiplier::new(1 << 29, 31).unwrap();
/// assert_eq!(relu_requantize(-100, quarter, -128), 0);
/// assert_eq!(relu_requantize(10, quarter, -128), 3); // 2.5 rounds up
/// assert_eq!(relu_requantize(10_000, quarter, -128), 255); // clamped at 127 - (-128)
/// ```
#[inline]
pub fn relu_requantize(acc: i32, m: Multiplier, zero_point: i8) -> u8 {
    relu_requantize_raw(acc, m.multiplier, m.shift, zero_point)
}

/// [`relu_requantize`] on raw parameters the caller has validated (multiplier >= 0,
/// shift in `MIN_SHIFT..=MAX_SHIFT`), for inner loops that read them straight from the
/// model's bytes. Out-of-range parameters give wrong numbers, never a panic.
///
/// With a shift of 33 or more (every trained conv and hidden layer: their factors are
/// far below 1/2) only the high word of the 64-bit product is needed: for
/// `P = h * 2^32 + l` with `l < 2^32`, `floor((P + 2^(s-1)) / 2^s)` equals
/// `floor((h + 2^(s-33)) / 2^(s-32))`, a multiply-high, an add and a shift on 32-bit
/// Arm. Smaller shifts take the 64-bit path. Both are property-tested to agree.
#[inline(always)]
pub(crate) fn relu_requantize_raw(acc: i32, multiplier: i32, shift: u8, zero_point: i8) -> u8 {
    let ceiling = 127u32.wrapping_sub(zero_point as u32) & 0xff;
    let positive = acc.max(0) as u32;
    let product = u64::from(positive) * u64::from(multiplier as u32 & 0x7fff_ffff);
    let shift = u32::from(shift);
    let rounded = if shift >= 33 {
        // product < 2^62, so high < 2^30 and the sum below stays under 2^31.
        let high = (product >> 32) as u32;
        high.wrapping_add(1u32.wrapping_shl(shift - 33))
            .wrapping_shr(shift - 32)
    } else {
        let wide = product
            .wrapping_add(1u64.wrapping_shl(shift.wrapping_sub(1)))
            .wrapping_shr(shift);
        // acc <= 0 gives product 0 and, with shift >= 1, 0.
        u32::try_from(wide).unwrap_or(u32::MAX)
    };
    rounded.min(ceiling) as u8
}

/// One activation minus its zero point (`0..=255` after the ReLU), stored as a
/// little-endian `i16`: the form every kernel loads cheapest (one `ldrsh` on Cortex-M3,
/// two per 32-bit load for `SMLABB`/`SMLATB` or `SMLAD` on ARMv7E-M, sixteen per
/// `vpmaddwd` with AVX2), read without any unsafe reinterpretation.
pub(crate) type Activation = [u8; 2];

/// The value of an [`Activation`].
#[inline(always)]
pub(crate) fn activation_value(a: Activation) -> i32 {
    i32::from(i16::from_le_bytes(a))
}

/// A layer's per-channel requantization parameters, borrowed from the file as stored
/// (`i32` little-endian, shifts as bytes) and validated by
/// [`Model::from_bytes`](crate::Model::from_bytes): multipliers non-negative, shifts in
/// `MIN_SHIFT..=MAX_SHIFT`, biases within [`BIAS_LIMIT`](crate::model::BIAS_LIMIT).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChannelParams<'a, const N: usize> {
    pub(crate) bias: &'a [[u8; 4]; N],
    pub(crate) multiplier: &'a [[u8; 4]; N],
    pub(crate) shift: &'a [u8; N],
    pub(crate) zero_point: i8,
}

impl<const N: usize> ChannelParams<'_, N> {
    /// Writes the biases, the accumulators' starting values, into `acc`.
    #[inline(always)]
    pub(crate) fn load_biases(&self, acc: &mut [i32; N]) {
        for (a, b) in acc.iter_mut().zip(self.bias) {
            *a = i32::from_le_bytes(*b);
        }
    }

    /// Requantizes and clamps every channel into `out`: int8 activation minus zero point.
    #[inline(always)]
    pub(crate) fn relu_requantize(&self, acc: &[i32; N], out: &mut [Activation; N]) {
        relu_requantize_slices(acc, self.multiplier, self.shift, self.zero_point, out);
    }
}

/// [`relu_requantize_raw`] over matching slices of accumulators and parameters.
#[inline(always)]
pub(crate) fn relu_requantize_slices(
    acc: &[i32],
    multiplier: &[[u8; 4]],
    shift: &[u8],
    zero_point: i8,
    out: &mut [Activation],
) {
    for (((o, &a), m), &s) in out.iter_mut().zip(acc).zip(multiplier).zip(shift) {
        *o = u16::from(relu_requantize_raw(
            a,
            i32::from_le_bytes(*m),
            s,
            zero_point,
        ))
        .to_le_bytes();
    }
}

use crate::dense::BAND_SLOTS;

/// A layer's requantization prepared for the common case, every channel's shift `s` at
/// least 33: with `sh = s - 32`,
/// `min((mulhi(max(acc + bias, 0), m) + 2^(sh-1)) >> sh, 127 - zero_point)`, equal to
/// [`relu_requantize_raw`] of `acc + bias` (see there). The right shift is itself a
/// multiply-high by `2^(32 - sh)`, so no shift amount needs masking, and each channel's
/// four constants are one 16-byte record (one `LDM`). About ten instructions per output
/// on Cortex-M instead of 27.
#[cfg_attr(not(picocnn_smlal), allow(dead_code))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastRequant<const N: usize> {
    /// Per channel: bias, multiplier, rounding term `2^(sh-1)`, scale `2^(32-sh)`.
    channels: [[u32; 4]; N],
    ceiling: u32,
}

#[cfg_attr(not(picocnn_smlal), allow(dead_code))]
impl<const N: usize> FastRequant<N> {
    /// Channels come in groups of four (see [`BAND_SLOTS`]).
    const GROUPS_OF_FOUR: () = assert!(N.is_multiple_of(4));

    /// The prepared form of `params`, or `None` if a channel's shift is below 33.
    #[inline(always)]
    pub(crate) fn new(params: &ChannelParams<'_, N>) -> Option<Self> {
        let () = Self::GROUPS_OF_FOUR;
        if params.shift.iter().any(|&s| s < 33) {
            return None;
        }
        let mut channels = [[0u32; 4]; N];
        let all = params.bias.iter().zip(params.multiplier).zip(params.shift);
        for (c, ((b, m), &s)) in channels.iter_mut().zip(all) {
            // 1 <= sh <= 30, so both powers of two fit a u32.
            let sh = u32::from(s) - 32;
            *c = [
                u32::from_le_bytes(*b),
                u32::from_le_bytes(*m) & 0x7fff_ffff,
                1u32.wrapping_shl(sh.wrapping_sub(1)),
                1u32.wrapping_shl(32u32.wrapping_sub(sh)),
            ];
        }
        Some(FastRequant {
            channels,
            ceiling: 127u32.wrapping_sub(params.zero_point as u32) & 0xff,
        })
    }

    /// Bias plus `raw`, ReLU, requantized and clamped, for every channel.
    #[inline(always)]
    pub(crate) fn apply(&self, raw: &[i32; N], out: &mut [Activation; N]) {
        // The zero point of a ReLU layer is -128 in practice: then the clamp is a USAT.
        // One loop per clamp (LLVM does not unswitch it).
        if self.ceiling == 255 {
            self.apply_with(raw, out, |q| (q as i32).clamp(0, 255) as u32);
        } else {
            let ceiling = self.ceiling;
            self.apply_with(raw, out, |q| q.min(ceiling));
        }
    }

    /// Writes channel `BAND_SLOTS[s]` of each group of four into slot `s` (see
    /// [`BAND_SLOTS`]; constant offsets, no cost).
    #[inline(always)]
    fn apply_with(&self, raw: &[i32; N], out: &mut [Activation; N], clamp: impl Fn(u32) -> u32) {
        let high = |a: u32, b: u32| ((u64::from(a) * u64::from(b)) >> 32) as u32;
        let groups = raw
            .as_chunks::<4>()
            .0
            .iter()
            .zip(self.channels.as_chunks::<4>().0);
        for (out, (raw, channels)) in out.as_chunks_mut::<4>().0.iter_mut().zip(groups) {
            for (o, &c) in out.iter_mut().zip(&BAND_SLOTS) {
                if let (Some(&r), Some(&[bias, m, round, scale])) = (raw.get(c), channels.get(c)) {
                    let acc = r.wrapping_add(bias as i32).max(0) as u32;
                    let q = clamp(high(high(acc, m).wrapping_add(round), scale));
                    *o = (q as u16).to_le_bytes();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The rounding rule written with exact 128-bit integers and Euclidean division.
    fn requantize_wide(acc: i32, m: i32, shift: u8) -> i32 {
        let num = i128::from(acc) * i128::from(m) + (1i128 << (shift - 1));
        let q = num.div_euclid(1i128 << shift);
        q.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
    }

    fn any_multiplier() -> impl Strategy<Value = Multiplier> {
        (0..=i32::MAX, MIN_SHIFT..=MAX_SHIFT).prop_map(|(m, s)| Multiplier::new(m, s).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn requantize_matches_wide_integer_reference(acc in any::<i32>(), m in any_multiplier()) {
            prop_assert_eq!(requantize(acc, m), requantize_wide(acc, m.multiplier(), m.shift()));
        }

        #[test]
        fn relu_requantize_is_requantize_then_clamp(
            acc in any::<i32>(), m in any_multiplier(), zp in any::<i8>()
        ) {
            let zp32 = i32::from(zp);
            let want = requantize(acc, m).saturating_add(zp32).clamp(zp32, 127) - zp32;
            prop_assert_eq!(i32::from(relu_requantize(acc, m, zp)), want);
        }

        #[test]
        fn relu_requantize_is_monotone(a in any::<i32>(), b in any::<i32>(), m in any_multiplier(), zp in any::<i8>()) {
            // Max-pooling accumulators before requantizing relies on this.
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(relu_requantize(lo, m, zp) <= relu_requantize(hi, m, zp));
        }

        #[test]
        fn quantize_multiplier_is_nearest(scale in 1e-12f64..1e9) {
            let m = quantize_multiplier(scale).unwrap();
            // scale * 2^shift is exact (a power-of-two scaling), so is the difference.
            let exact = scale * (2f64).powi(i32::from(m.shift()));
            prop_assert!((f64::from(m.multiplier()) - exact).abs() <= 0.5, "{scale} -> {m:?}");
            if m.shift() < MAX_SHIFT {
                prop_assert!(m.multiplier() >= 1 << 30);
            }
        }

        #[test]
        fn requantize_approximates_the_real_product(acc in -(1i32 << 24)..(1 << 24), scale in 1e-6f64..1.0) {
            let m = quantize_multiplier(scale).unwrap();
            let exact = f64::from(acc) * scale;
            // One rounding (half an integer) plus the multiplier's relative error 2^-31.
            let bound = 0.5 + exact.abs() * 2f64.powi(-31) + 1e-9;
            prop_assert!((f64::from(requantize(acc, m)) - exact).abs() <= bound);
        }
    }

    #[test]
    fn multiplier_edges() {
        assert_eq!(quantize_multiplier(f64::NAN), None);
        assert_eq!(quantize_multiplier(f64::INFINITY), None);
        assert_eq!(quantize_multiplier(-1.0), None);
        assert_eq!(quantize_multiplier(2f64.powi(30)), None);
        let big = quantize_multiplier(2f64.powi(30) * 0.999).unwrap();
        assert_eq!(big.shift(), 1);
        let one = quantize_multiplier(1.0).unwrap();
        assert_eq!((one.multiplier(), one.shift()), (1 << 30, 30));
        // Rounding the mantissa up to 2^31 renormalizes.
        let almost_one = quantize_multiplier(1.0 - 2f64.powi(-40)).unwrap();
        assert_eq!((almost_one.multiplier(), almost_one.shift()), (1 << 30, 30));
        let tiny = quantize_multiplier(2f64.powi(-70)).unwrap();
        assert_eq!((tiny.multiplier(), tiny.shift()), (0, 62));
        let small = quantize_multiplier(3.0 * 2f64.powi(-62)).unwrap();
        assert_eq!((small.multiplier(), small.shift()), (3, 62));
        assert_eq!(
            quantize_multiplier(f64::MIN_POSITIVE / 4.0),
            Multiplier::new(0, 62)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn fast_requant_is_relu_requantize(
            acc in any::<[i32; 4]>(), bias in any::<[i16; 4]>(), m in any::<[i32; 4]>(),
            shift in proptest::array::uniform4(33u8..=MAX_SHIFT), zp in any::<i8>(),
            big_bias in -(1i32 << 30)..(1 << 30)
        ) {
            let bias: [i32; 4] = [i32::from(bias[0]) << 14, i32::from(bias[1]), big_bias, i32::from(bias[3])];
            let m = m.map(|m| m & i32::MAX);
            let bias_bytes = bias.map(i32::to_le_bytes);
            let m_bytes = m.map(i32::to_le_bytes);
            let params = ChannelParams { bias: &bias_bytes, multiplier: &m_bytes, shift: &shift, zero_point: zp };
            let fast = FastRequant::new(&params).unwrap();
            let mut out = [[0u8; 2]; 4];
            fast.apply(&acc, &mut out);
            for (slot, &c) in BAND_SLOTS.iter().enumerate() {
                let want = relu_requantize_raw(acc[c].wrapping_add(bias[c]), m[c], shift[c], zp);
                prop_assert_eq!(activation_value(out[slot]), i32::from(want));
            }
        }
    }

    #[test]
    fn fast_requant_refuses_small_shifts() {
        let params = ChannelParams {
            bias: &[[0; 4]; 4],
            multiplier: &[[0; 4]; 4],
            shift: &[40, 33, 62, 32],
            zero_point: -128,
        };
        assert!(FastRequant::new(&params).is_none());
    }

    #[test]
    fn requantize_saturates() {
        let big = Multiplier::new(i32::MAX, 1).unwrap();
        assert_eq!(requantize(i32::MAX, big), i32::MAX);
        assert_eq!(requantize(i32::MIN, big), i32::MIN);
    }
}
