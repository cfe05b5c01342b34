//! 2x2 max pooling (stride 2), on accumulators.
//!
//! Pooling int8 activations (scale and zero point unchanged) is what the network defines.
//! The core pools the four positions' int32 accumulators instead and requantizes once:
//! the same result, because ReLU-requantization is monotone non-decreasing
//! (multipliers are non-negative; property-tested in [`quant`](crate::quant)), so
//! `max(f(a), f(b)) = f(max(a, b))`, and it needs a quarter of the requantizations.

use crate::conv::{GROUP, GroupAcc};
use crate::shape::FILTERS;

/// Channel-wise maximum of the accumulators of a 2x2 window, in filter order.
#[inline(always)]
pub(crate) fn max_pool(window: &GroupAcc<4>) -> [i32; FILTERS] {
    let mut out = [i32::MIN; FILTERS];
    for (dst, group) in out.as_chunks_mut::<GROUP>().0.iter_mut().zip(window) {
        for position in group {
            for (o, &v) in dst.iter_mut().zip(position) {
                *o = (*o).max(v);
            }
        }
    }
    out
}
