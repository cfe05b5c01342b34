//! 2x2 max pooling (stride 2), on accumulators.
//!
//! Pooling int8 activations (scale and zero point unchanged) is what the network defines.
//! The core pools the four positions' int32 accumulators instead and requantizes once:
//! the same result, because ReLU-requantization is monotone non-decreasing
//! (multipliers are non-negative; property-tested in [`quant`](crate::quant)), so
//! `max(f(a), f(b)) = f(max(a, b))`, and it needs a quarter of the requantizations.

use crate::conv::GROUP;

#[cfg_attr(picocnn_smlal, allow(dead_code))]
/// Channel-wise maximum of a group's accumulators at the four positions of a 2x2 window.
#[inline(always)]
pub(crate) fn max_pool(window: &[[i32; GROUP]; 4]) -> [i32; GROUP] {
    let mut out = [i32::MIN; GROUP];
    for position in window {
        for (o, &v) in out.iter_mut().zip(position) {
            *o = (*o).max(v);
        }
    }
    out
}
