//! The backward pass: the loss gradient from the logits back to every parameter, the
//! hidden layer's weights updated by Adam on the way when training.

use super::{Network, Tally, Unit, unit_positions};
use crate::kernels::{self, AdamStep, CONV_PARAMS};
use picocnn::Variant;
use picocnn::shape::{CLASSES, FILTERS, HIDDEN, KERNEL_TAPS};
use picocnn_host::params::Params;
use rayon::prelude::*;

/// Gradients of the small tensors (everything but the hidden weights).
#[derive(Debug, Default)]
pub(super) struct SmallGrads {
    pub(super) conv_w: Vec<f32>,
    pub(super) conv_b: Vec<f32>,
    pub(super) hidden_b: Vec<f32>,
    pub(super) output_w: Vec<f32>,
    pub(super) output_b: Vec<f32>,
}

/// What the backward pass does with the hidden layer's weight gradient.
pub(super) enum HiddenUpdate<'a> {
    /// Apply Adam to the weights right away (training).
    Adam {
        m: &'a mut [f32],
        v: &'a mut [f32],
        step: AdamStep,
    },
    /// Store it (gradient checks).
    Store(&'a mut [f32]),
}

impl Network {
    /// Cross-entropy of the loaded batch against `labels`, and its gradient with respect to
    /// the logits (mean over the batch, toward the smoothed targets if
    /// [`Network::set_label_smoothing`] asked for them) in both layouts the backward pass
    /// wants.
    pub(super) fn loss_gradient(&mut self, labels: &[u8]) -> Tally {
        assert_eq!(labels.len(), self.n, "one label per image");
        let mut tally = Tally::default();
        self.d_logits.fill(0.0);
        let scale = 1.0 / self.n as f32;
        let spread = self.label_smoothing / CLASSES as f32;
        let (other, own) = (spread, 1.0 - self.label_smoothing + spread);
        for (b, &label) in labels.iter().enumerate() {
            let logits = self.logits_of(b);
            let probabilities = tally.record(&logits, label);
            let d = &mut self.d_logits[b * CLASSES..][..CLASSES];
            for (k, (d_k, &p_k)) in d.iter_mut().zip(&probabilities).enumerate() {
                let target = if k == usize::from(label) { own } else { other };
                // Flushed like everything TensorFlow computes on a CPU (see `AdamStep`).
                let d = (p_k - target) * scale;
                *d_k = if d.abs() < f32::MIN_POSITIVE { 0.0 } else { d };
            }
        }
        transpose(&self.d_logits, self.bp, CLASSES, &mut self.d_logits_t);
        tally
    }

    /// Backward pass through the output layer; returns its gradients and leaves the hidden
    /// layer's output gradient (through its ReLU) in `d_hidden_t` and `d_hidden`.
    pub(super) fn backward_output(&mut self, p: &Params, grads: &mut SmallGrads) {
        let bp = self.bp;
        grads.output_w.resize(HIDDEN * CLASSES, 0.0);
        kernels::dense_weight_grad(&self.hidden, &self.d_logits, CLASSES, &mut grads.output_w);
        grads.output_b = self
            .d_logits_t
            .chunks_exact(bp)
            .map(|d| d.iter().sum())
            .collect();
        kernels::dense_input_grad(&p.output_w, &self.d_logits_t, CLASSES, &mut self.d_hidden_t);
        for (d, &h) in self.d_hidden_t.iter_mut().zip(&self.hidden) {
            if h <= 0.0 {
                *d = 0.0;
            }
        }
        grads.hidden_b = self
            .d_hidden_t
            .chunks_exact(bp)
            .map(|d| d.iter().sum())
            .collect();
        transpose(&self.d_hidden_t, HIDDEN, bp, &mut self.d_hidden);
    }

    /// Backward pass through the hidden layer and the convolution (and pooling), unit by
    /// unit: the hidden layer's input gradient (with the weights before any update) and
    /// weight gradient (stored, or applied at once by Adam) for the unit's rows, then the
    /// convolution's gradient from the unit's positions while the input gradient is still
    /// in cache.
    pub(super) fn backward_hidden_and_conv(
        &mut self,
        hidden_w: &mut [f32],
        update: HiddenUpdate<'_>,
        grads: &mut SmallGrads,
    ) {
        let rows = unit_positions(self.variant) * FILTERS;
        let (pixels, d_hidden, d_hidden_t) = (&self.pixels, &self.d_hidden, &self.d_hidden_t);
        let variant = self.variant;
        let conv_backward = |unit: &mut Unit| match variant {
            Variant::NoPool => {
                kernels::conv_backward(pixels, unit.first, &unit.x, &unit.dx, &mut unit.conv_grad)
            }
            Variant::Pool => kernels::conv_pool_backward(
                pixels,
                unit.first,
                &unit.x,
                &unit.argmax,
                &unit.dx,
                &mut unit.conv_grad,
            ),
        };
        let units = self
            .units
            .par_iter_mut()
            .zip(hidden_w.par_chunks_mut(rows * HIDDEN));
        match update {
            HiddenUpdate::Adam { m, v, step } => {
                let state = m
                    .par_chunks_mut(rows * HIDDEN)
                    .zip(v.par_chunks_mut(rows * HIDDEN));
                units.zip(state).for_each(|((unit, w), (m, v))| {
                    let (x, dx) = (&unit.x, &mut unit.dx);
                    kernels::dense_backward_masked_adam(
                        x, d_hidden, d_hidden_t, HIDDEN, w, m, v, step, dx,
                    );
                    conv_backward(unit);
                });
            }
            HiddenUpdate::Store(g) => {
                units
                    .zip(g.par_chunks_mut(rows * HIDDEN))
                    .for_each(|((unit, w), g)| {
                        let (x, dx) = (&unit.x, &mut unit.dx);
                        kernels::dense_backward_masked(x, d_hidden, d_hidden_t, HIDDEN, w, dx, g);
                        conv_backward(unit);
                    });
            }
        }

        let mut total = vec![0.0f32; CONV_PARAMS];
        for unit in &self.units {
            for (t, &s) in total.iter_mut().zip(&unit.conv_grad) {
                *t += s;
            }
        }
        grads.conv_b = total.split_off(FILTERS * KERNEL_TAPS);
        grads.conv_w = total;
    }
}

/// `dst[c][r] = src[r][c]` for a `rows x cols` matrix.
fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    for (r, src_row) in src.chunks_exact(cols).take(rows).enumerate() {
        for (c, &s) in src_row.iter().enumerate() {
            dst[c * rows + r] = s;
        }
    }
}
