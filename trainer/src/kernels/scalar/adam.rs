//! Adam's update (Keras's formulation, flushing subnormals).

use crate::kernels::AdamStep;

/// `x`, or zero if it is subnormal (see [`AdamStep`]).
fn flush(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE { 0.0 } else { x }
}

/// See [`crate::kernels::adam_update`].
pub(super) fn adam_update(w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], step: AdamStep) {
    for (((w, m), v), &g) in w.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
        *m = flush(*m + (g - *m) * step.one_minus_beta1);
        *v = flush(*v + (g * g - *v) * step.one_minus_beta2);
        let m_kept = if m.abs() < step.numerator_floor() {
            0.0
        } else {
            *m
        };
        *w = flush(*w - (m_kept * step.alpha) / (v.sqrt() + step.epsilon));
    }
}
