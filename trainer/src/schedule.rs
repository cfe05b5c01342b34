//! Learning-rate schedules: Adam's step size as a pure function of the optimizer step.
//!
//! A schedule depends only on the step number and the run's length, never on what
//! happened before, so a resumed run recomputes the same rate for every step and stays
//! bit-identical to one that never stopped. [`Schedule::constant`] is the Keras exercise's
//! fixed rate and gives exactly the base rate at every step (no arithmetic on it), so runs
//! without a schedule train to the same bytes as before schedules existed.
//!
//! The rate is computed in `f64` and rounded to `f32` once, as Keras's `CosineDecay`
//! computes it in the optimizer's dtype: close enough to compare, not bit-equal to Keras.

use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// How the rate changes over the run (after the optional warm-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// The base rate throughout (Keras's default).
    #[default]
    Constant,
    /// Half a cosine from the base rate down to zero at the last step (Keras's
    /// `CosineDecay` with `alpha = 0`).
    Cosine,
    /// The base rate, divided by 5 at half of the run and again at three quarters.
    Step,
}

impl Shape {
    /// The name used on the command line and in the history.
    pub const fn name(self) -> &'static str {
        match self {
            Shape::Constant => "constant",
            Shape::Cosine => "cosine",
            Shape::Step => "step",
        }
    }
}

/// Factor of each drop of [`Shape::Step`].
pub const STEP_FACTOR: f64 = 0.2;

/// A learning-rate schedule for a run of `total_steps` optimizer steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Rate at the top of the schedule (after warm-up).
    pub base: f32,
    /// Shape after warm-up.
    pub shape: Shape,
    /// Steps of linear warm-up from `base / warmup_steps` up to `base` (0: none).
    pub warmup_steps: u64,
    /// Optimizer steps in the whole run (epochs x batches per epoch).
    pub total_steps: u64,
}

impl Schedule {
    /// The fixed rate `base` for every step.
    pub const fn constant(base: f32) -> Self {
        Schedule {
            base,
            shape: Shape::Constant,
            warmup_steps: 0,
            total_steps: 0,
        }
    }

    /// Adam's step size for optimizer step `step`, counted from 0 (the first update).
    ///
    /// Warm-up rises linearly, reaching `base` at step `warmup_steps - 1`'s successor;
    /// the shape then runs over the remaining steps, so cosine reaches zero only after
    /// the last step (the last update still moves the weights a little).
    pub fn rate(&self, step: u64) -> f32 {
        if self.shape == Shape::Constant && self.warmup_steps == 0 {
            return self.base;
        }
        let base = f64::from(self.base);
        if step < self.warmup_steps {
            return (base * (step + 1) as f64 / self.warmup_steps as f64) as f32;
        }
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1) as f64;
        // Fraction of the post-warm-up steps already done, in [0, 1).
        let done = ((step - self.warmup_steps) as f64 / span).min(1.0);
        let rate = match self.shape {
            Shape::Constant => base,
            Shape::Cosine => base * 0.5 * (1.0 + (PI * done).cos()),
            Shape::Step => {
                let drops = i32::from(done >= 0.5) + i32::from(done >= 0.75);
                base * STEP_FACTOR.powi(drops)
            }
        };
        rate as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_is_the_base_rate_bit_for_bit() {
        let s = Schedule::constant(1e-3);
        for step in [0, 1, 1000, u64::MAX] {
            assert_eq!(s.rate(step).to_bits(), 1e-3f32.to_bits());
        }
    }

    #[test]
    fn cosine_falls_from_base_to_zero() {
        let s = Schedule {
            base: 1e-3,
            shape: Shape::Cosine,
            warmup_steps: 0,
            total_steps: 100,
        };
        assert_eq!(s.rate(0), 1e-3);
        assert!((s.rate(50) - 5e-4).abs() < 1e-9, "{}", s.rate(50));
        let rates: Vec<f32> = (0..100).map(|t| s.rate(t)).collect();
        assert!(rates.windows(2).all(|w| w[1] < w[0]));
        assert!(rates[99] > 0.0 && rates[99] < 1e-6);
        // Past the end (never reached in a run) it stays at zero.
        assert_eq!(s.rate(500), 0.0);
    }

    #[test]
    fn step_drops_twice() {
        let s = Schedule {
            base: 1e-3,
            shape: Shape::Step,
            warmup_steps: 0,
            total_steps: 100,
        };
        let base = f64::from(1e-3f32);
        assert_eq!(s.rate(49), 1e-3);
        assert_eq!(s.rate(50), (base * 0.2) as f32);
        assert_eq!(s.rate(74), (base * 0.2) as f32);
        assert_eq!(s.rate(75), (base * 0.2 * 0.2) as f32);
    }

    #[test]
    fn warm_up_rises_linearly_then_the_shape_starts() {
        let s = Schedule {
            base: 1e-3,
            shape: Shape::Cosine,
            warmup_steps: 10,
            total_steps: 110,
        };
        assert!((s.rate(0) - 1e-4).abs() < 1e-10);
        let base = f64::from(1e-3f32);
        assert!((s.rate(4) - 5e-4).abs() < 1e-10);
        assert_eq!(s.rate(9), 1e-3);
        assert_eq!(s.rate(10), 1e-3);
        assert!((s.rate(60) - 5e-4).abs() < 1e-9);
        let constant = Schedule {
            shape: Shape::Constant,
            ..s
        };
        assert_eq!(constant.rate(5), (base * 6.0 / 10.0) as f32);
        assert_eq!(constant.rate(10), 1e-3);
    }

    #[test]
    fn the_rate_depends_on_the_step_alone() {
        let s = Schedule {
            base: 3e-3,
            shape: Shape::Cosine,
            warmup_steps: 7,
            total_steps: 1000,
        };
        let forward: Vec<u32> = (0..1000).map(|t| s.rate(t).to_bits()).collect();
        let backward: Vec<u32> = (0..1000).rev().map(|t| s.rate(t).to_bits()).collect();
        assert!(forward.iter().eq(backward.iter().rev()));
    }
}
