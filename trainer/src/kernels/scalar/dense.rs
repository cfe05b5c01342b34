//! The dense layers' kernels: forward, both gradients, and the backward pass fused with
//! Adam.

use super::adam::adam_update;
use crate::kernels::AdamStep;

/// See [`crate::kernels::dense_forward`].
pub(super) fn dense_forward(x: &[f32], w: &[f32], n_out: usize, y: &mut [f32]) {
    let bp = y.len() / n_out;
    y.fill(0.0);
    for (x_row, w_row) in x.chunks_exact(bp).zip(w.chunks_exact(n_out)) {
        for (y_row, &wij) in y.chunks_exact_mut(bp).zip(w_row) {
            for (yv, &xv) in y_row.iter_mut().zip(x_row) {
                *yv += wij * xv;
            }
        }
    }
}

/// See [`crate::kernels::dense_input_grad`].
pub(super) fn dense_input_grad(w: &[f32], dyt: &[f32], n_out: usize, dxt: &mut [f32]) {
    let bp = dyt.len() / n_out;
    for (dx_row, w_row) in dxt.chunks_exact_mut(bp).zip(w.chunks_exact(n_out)) {
        dx_row.fill(0.0);
        for (dy_row, &wij) in dyt.chunks_exact(bp).zip(w_row) {
            for (d, &g) in dx_row.iter_mut().zip(dy_row) {
                *d += wij * g;
            }
        }
    }
}

/// One row of [`dense_weight_grad`]: `g[j] = sum_b x[b] * dy[b][j]`.
fn weight_grad_row(x_row: &[f32], dy: &[f32], g_row: &mut [f32]) {
    g_row.fill(0.0);
    for (&xv, dy_row) in x_row.iter().zip(dy.chunks_exact(g_row.len())) {
        if xv != 0.0 {
            for (gv, &d) in g_row.iter_mut().zip(dy_row) {
                *gv += xv * d;
            }
        }
    }
}

/// See [`crate::kernels::dense_weight_grad`].
pub(super) fn dense_weight_grad(x: &[f32], dy: &[f32], n_out: usize, g: &mut [f32]) {
    let bp = dy.len() / n_out;
    for (g_row, x_row) in g.chunks_exact_mut(n_out).zip(x.chunks_exact(bp)) {
        weight_grad_row(x_row, dy, g_row);
    }
}

/// One row of [`dense_backward_masked`]: the masked input gradient and the weight gradient.
fn backward_row(x_row: &[f32], dy: &[f32], w_row: &[f32], dx_row: &mut [f32], g_row: &mut [f32]) {
    for ((d, &xv), dy_row) in dx_row
        .iter_mut()
        .zip(x_row)
        .zip(dy.chunks_exact(w_row.len()))
    {
        *d = if xv != 0.0 {
            w_row.iter().zip(dy_row).map(|(&a, &b)| a * b).sum()
        } else {
            0.0
        };
    }
    weight_grad_row(x_row, dy, g_row);
}

/// See [`crate::kernels::dense_backward_masked`].
#[allow(clippy::too_many_arguments)]
pub(super) fn dense_backward_masked(
    x: &[f32],
    dy: &[f32],
    _dyt: &[f32],
    n_out: usize,
    w: &[f32],
    dx: &mut [f32],
    g: &mut [f32],
) {
    let bp = dy.len() / n_out;
    let rows = x
        .chunks_exact(bp)
        .zip(w.chunks_exact(n_out))
        .zip(dx.chunks_exact_mut(bp));
    for (((x_row, w_row), dx_row), g_row) in rows.zip(g.chunks_exact_mut(n_out)) {
        backward_row(x_row, dy, w_row, dx_row, g_row);
    }
}

/// See [`crate::kernels::dense_backward_masked_adam`].
#[allow(clippy::too_many_arguments)]
pub(super) fn dense_backward_masked_adam(
    x: &[f32],
    dy: &[f32],
    _dyt: &[f32],
    n_out: usize,
    w: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    step: AdamStep,
    dx: &mut [f32],
) {
    let bp = dy.len() / n_out;
    let mut g_row = vec![0.0f32; n_out];
    let state = w
        .chunks_exact_mut(n_out)
        .zip(m.chunks_exact_mut(n_out))
        .zip(v.chunks_exact_mut(n_out));
    for (((w_row, m_row), v_row), (x_row, dx_row)) in
        state.zip(x.chunks_exact(bp).zip(dx.chunks_exact_mut(bp)))
    {
        backward_row(x_row, dy, w_row, dx_row, &mut g_row);
        adam_update(w_row, m_row, v_row, &g_row, step);
    }
}
