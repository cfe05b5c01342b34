//! Adam, exactly as Keras formulates it, so a run compares one to one with the Keras exercise.
//!
//! Keras's update (`keras.optimizers.Adam`, defaults lr 1e-3, beta1 0.9, beta2 0.999,
//! epsilon 1e-7) folds the bias corrections into the step size and adds epsilon to
//! `sqrt(v)` uncorrected; see [`AdamStep`]. The arithmetic itself lives in the kernels
//! (`kernels::adam_update`, and fused into the hidden layer's weight gradient), so this
//! module only keeps the moments and the step count.

use crate::kernels::{self, AdamStep};
use picocnn::Variant;
use picocnn_host::params::Params;
use serde::{Deserialize, Serialize};

/// Adam's hyper-parameters and state: first and second moments shaped like the parameters.
/// Serializable, so that an interrupted run can resume with the exact same state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    /// Step size.
    pub learning_rate: f32,
    /// Decay of the first moment.
    pub beta1: f32,
    /// Decay of the second moment.
    pub beta2: f32,
    /// Added to `sqrt(v)` before dividing.
    pub epsilon: f32,
    steps: u64,
    /// First moments (same layout as the parameters).
    pub m: Params,
    /// Second moments.
    pub v: Params,
}

impl Adam {
    /// Keras's defaults: learning rate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-7.
    pub fn keras(variant: Variant) -> Self {
        Adam::new(variant, 1e-3)
    }

    /// Keras's defaults with another learning rate.
    pub fn new(variant: Variant, learning_rate: f32) -> Self {
        Adam {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            steps: 0,
            m: Params::zeros(variant),
            v: Params::zeros(variant),
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Counts one more step and returns its constants.
    pub fn next_step(&mut self) -> AdamStep {
        self.steps += 1;
        let t = i32::try_from(self.steps).unwrap_or(i32::MAX);
        let correction1 = 1.0 - f64::from(self.beta1).powi(t);
        let correction2 = 1.0 - f64::from(self.beta2).powi(t);
        AdamStep {
            alpha: (f64::from(self.learning_rate) * correction2.sqrt() / correction1) as f32,
            one_minus_beta1: 1.0 - self.beta1,
            one_minus_beta2: 1.0 - self.beta2,
            epsilon: self.epsilon,
        }
    }

    /// One full step: every tensor of `params` moves along its gradient in `grads`.
    ///
    /// # Panics
    /// If `grads` or the moments are shaped for another variant.
    pub fn update(&mut self, params: &mut Params, grads: &Params) {
        let step = self.next_step();
        let tensors = params.tensors_mut().into_iter().zip(grads.tensors());
        let moments = self.m.tensors_mut().into_iter().zip(self.v.tensors_mut());
        for ((w, g), (m, v)) in tensors.zip(moments) {
            kernels::adam_update(w, m, v, g, step);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_weight_by_about_the_learning_rate() {
        // With m and v starting at zero, Keras's first step is lr * g / (|g| + eps'),
        // i.e. about lr in the direction of -g whatever the gradient's size.
        let mut adam = Adam::keras(Variant::Pool);
        let mut params = Params::zeros(Variant::Pool);
        let mut grads = Params::zeros(Variant::Pool);
        grads.output_b = vec![0.5, -2.0, 1e-3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        adam.update(&mut params, &grads);
        let moved: Vec<f32> = params.output_b[..4].to_vec();
        assert!((moved[0] + 1e-3).abs() < 1e-8, "{moved:?}");
        assert!((moved[1] - 1e-3).abs() < 1e-8, "{moved:?}");
        // A gradient near epsilon's scale moves less: lr * |g| / (|g| + eps / sqrt(1 - beta2)).
        assert!(
            (moved[2] + 1e-3 * 1e-3 / (1e-3 + 1e-7 / 0.001f32.sqrt())).abs() < 1e-8,
            "{moved:?}"
        );
        assert_eq!(moved[3], 0.0);
        assert_eq!(adam.steps(), 1);
    }

    #[test]
    fn step_size_follows_the_bias_correction() {
        let mut adam = Adam::keras(Variant::Pool);
        let first = adam.next_step().alpha;
        let second = adam.next_step().alpha;
        // The betas are f32, as in Keras; their powers are taken in f64 here and there.
        let (beta1, beta2) = (f64::from(0.9f32), f64::from(0.999f32));
        let expect =
            |t: i32| f64::from(1e-3f32) * (1.0 - beta2.powi(t)).sqrt() / (1.0 - beta1.powi(t));
        assert!((f64::from(first) - expect(1)).abs() < 1e-6 * expect(1));
        assert!((f64::from(second) - expect(2)).abs() < 1e-6 * expect(2));
    }
}
