//! Adam's update, rounding step by step exactly as the scalar kernel does.

use super::{W, load, splat, store};
use crate::kernels::AdamStep;
use safe_arch::{
    add_m256, bitand_m256, bitandnot_m256, cmp_op, cmp_op_mask_m256, div_m256, m256, mul_m256,
    sqrt_m256, sub_m256,
};

/// Adam's constants as vectors.
#[derive(Clone, Copy)]
pub(super) struct AdamVec {
    alpha: m256,
    one_minus_beta1: m256,
    one_minus_beta2: m256,
    epsilon: m256,
    min_normal: m256,
    sign: m256,
    /// Smallest `|m|` whose product with `alpha` is normal.
    numerator_floor: m256,
}

impl AdamVec {
    pub(super) fn new(step: AdamStep) -> Self {
        AdamVec {
            alpha: splat(step.alpha),
            one_minus_beta1: splat(step.one_minus_beta1),
            one_minus_beta2: splat(step.one_minus_beta2),
            epsilon: splat(step.epsilon),
            min_normal: splat(f32::MIN_POSITIVE),
            sign: splat(-0.0),
            numerator_floor: splat(step.numerator_floor()),
        }
    }

    /// `x`, with lanes whose magnitude is below `floor` replaced by zero (NaN stays NaN).
    #[inline(always)]
    fn zero_below(self, x: m256, floor: m256) -> m256 {
        let magnitude = bitandnot_m256(self.sign, x);
        bitand_m256(
            x,
            cmp_op_mask_m256::<{ cmp_op!(NotLessThanUnordered) }>(magnitude, floor),
        )
    }

    /// `x`, with subnormal lanes replaced by zero.
    #[inline(always)]
    fn flush(self, x: m256) -> m256 {
        self.zero_below(x, self.min_normal)
    }

    /// One Adam step on eight parameters in place.
    #[inline(always)]
    pub(super) fn apply(self, w: &mut [f32; W], m: &mut [f32; W], v: &mut [f32; W], g: m256) {
        // Separate multiply and add (no FMA), rounding exactly as the scalar kernel does:
        // this pass is bound by memory, not arithmetic.
        let m_new = self.flush(add_m256(
            load(m),
            mul_m256(sub_m256(g, load(m)), self.one_minus_beta1),
        ));
        let g2_minus_v = sub_m256(mul_m256(g, g), load(v));
        let v_new = self.flush(add_m256(
            load(v),
            mul_m256(g2_minus_v, self.one_minus_beta2),
        ));
        let m_kept = self.zero_below(m_new, self.numerator_floor);
        let denominator = add_m256(sqrt_m256(v_new), self.epsilon);
        let update = div_m256(mul_m256(m_kept, self.alpha), denominator);
        store(w, self.flush(sub_m256(load(w), update)));
        store(m, m_new);
        store(v, v_new);
    }

    /// [`AdamVec::apply`] on fewer than eight parameters, padded to a vector.
    pub(super) fn apply_partial(self, w: &mut [f32], m: &mut [f32], v: &mut [f32], g: [f32; W]) {
        let n = w.len();
        let mut pad = [[0.0; W]; 3];
        pad[0][..n].copy_from_slice(w);
        pad[1][..n].copy_from_slice(m);
        pad[2][..n].copy_from_slice(v);
        let [pw, pm, pv] = &mut pad;
        self.apply(pw, pm, pv, load(&g));
        w.copy_from_slice(&pw[..n]);
        m.copy_from_slice(&pm[..n]);
        v.copy_from_slice(&pv[..n]);
    }
}

/// See [`crate::kernels::adam_update`].
pub(super) fn adam_update(w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], step: AdamStep) {
    let adam = AdamVec::new(step);
    let (w_body, w_tail) = w.as_chunks_mut::<W>();
    let (m_body, m_tail) = m.as_chunks_mut::<W>();
    let (v_body, v_tail) = v.as_chunks_mut::<W>();
    let (g_body, g_tail) = g.as_chunks::<W>();
    for (((w, m), v), g) in w_body
        .iter_mut()
        .zip(m_body.iter_mut())
        .zip(v_body.iter_mut())
        .zip(g_body)
    {
        adam.apply(w, m, v, load(g));
    }
    if !w_tail.is_empty() {
        let mut g = [0.0; W];
        g[..g_tail.len()].copy_from_slice(g_tail);
        adam.apply_partial(w_tail, m_tail, v_tail, g);
    }
}
